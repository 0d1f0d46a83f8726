package discord

import (
	"slices"
	"time"

	"github.com/bwmarrin/discordgo"
)

// noteGuild learns, from a new gateway session's GUILD_CREATE (the guild's
// roles, channels and active threads, sent before any message of the
// session), the roles' permissions and which channels are session channels (or posts of our forum),
// so that a member's first message in one after a start or a reconnection
// is handed over without a REST read of its channel. That read would wait
// behind a catch-up's history reads once they meet Discord's global limit.
//
// It only adds what the list shows: a channel the adapter took for a
// session channel that the list does not show as one is looked at again
// (the list may predate a channel the adapter made since); a channel the
// list shows as not ours is cached as such for the usual minute.
func (a *Adapter) noteGuild(g *discordgo.Guild) {
	if g == nil || g.ID != a.opts.GuildID || g.Unavailable {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(g.Roles) > 0 && g.OwnerID != "" {
		// The roles' permissions too: a role changed while the gateway was
		// down is seen, and a reply needs no REST read of the guild.
		a.guild = newGuildInfo(g)
	}
	forum := a.opts.Mode == ModeForum
	cats := map[string]bool{} // our categories: known, or named so in the list
	for id, n := range a.categories {
		cats[id] = n > 0
	}
	forumID := a.forumID
	forumName := ChannelName(a.opts.CategoryName, "qq-music")
	for _, c := range g.Channels {
		switch {
		case c == nil:
		case !forum && c.Type == discordgo.ChannelTypeGuildCategory && categoryIndex(a.opts.CategoryName, c.Name) > 0:
			cats[c.ID] = true
		case forum && forumID == "" && c.Type == discordgo.ChannelTypeGuildForum && c.Name == forumName:
			forumID = c.ID
		}
	}
	now := time.Now()
	for _, c := range slices.Concat(g.Channels, g.Threads) {
		if c == nil || c.ID == "" || c.ID == a.opts.AdminChannelID {
			continue
		}
		var is bool
		if forum {
			is = c.IsThread() && forumID != "" && c.ParentID == forumID
		} else {
			is = c.Type == discordgo.ChannelTypeGuildText && cats[c.ParentID]
		}
		switch was, known := a.sessionChan[c.ID]; {
		case is:
			a.sessionChan[c.ID] = true
			delete(a.checkedAt, c.ID)
		case known && was:
			delete(a.sessionChan, c.ID) // the next message there looks again
			delete(a.checkedAt, c.ID)
		default:
			a.sessionChan[c.ID] = false
			a.checkedAt[c.ID] = now
		}
	}
}
