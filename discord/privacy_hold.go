package discord

import (
	"context"
	"fmt"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// Nothing is posted into a channel known to be readable by every member.
// A session channel (or the forum of a post) of an earlier version, or one
// opened up by hand, that the bot cannot make private (no Manage Roles)
// holds its deliveries: Post and PostNotice fail with a transient error
// marked bridge.Held that says what to grant, so the messages wait in the
// outbox and go out, in order, once the channel is private, whether an
// admin grants Manage Roles (the bot then makes it private itself) or
// denies @everyone View Channel by hand.
//
// What the adapter knows: the channels ensurePrivate found public (at
// start and before creating one), the channels EnsureChannel reads, and
// CHANNEL_UPDATE events. A held channel is read again at each attempt.

// notePrivacy records whether c, when it is one of the bridge's session
// channels, categories or forum, is private.
func (a *Adapter) notePrivacy(c *discordgo.Channel) {
	if c == nil || c.ID == "" || c.ID == a.opts.AdminChannelID {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	_, held := a.notPrivate[c.ID]
	ours := held || c.ID == a.forumID || a.categories[c.ID] > 0 || a.sessionChan[c.ID] ||
		(c.Type == discordgo.ChannelTypeGuildText && a.categories[c.ParentID] > 0)
	switch {
	case !ours:
	case isPrivate(c, a.opts.GuildID):
		delete(a.notPrivate, c.ID)
	default:
		a.notPrivate[c.ID] = c.Name
	}
}

// notePublic records channels ensurePrivate found readable by every member.
func (a *Adapter) notePublic(public []*discordgo.Channel) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range public {
		a.notPrivate[c.ID] = c.Name
	}
}

// holdIfPublic returns nil when posting into ref reaches only the admin
// and viewer roles as far as the adapter knows. For a channel known to be
// public it reads the channel again, makes it (and the bridge's other
// public channels) private when the bot may, and otherwise returns a
// transient error marked bridge.Held that names what to grant.
func (a *Adapter) holdIfPublic(ctx context.Context, ref bridge.ChannelRef) error {
	id := ref.ChannelID
	if a.opts.Mode == ModeForum && ref.ParentID != "" {
		id = ref.ParentID // a post has the forum's overwrites
	}
	a.mu.Lock()
	name, held := a.notPrivate[id]
	a.mu.Unlock()
	if !held {
		return nil
	}
	c, err := a.channel(ctx, id)
	if err != nil {
		if notFound(err) {
			a.forgetPrivacy(id) // the post meets the missing channel itself
			return nil
		}
		return fmt.Errorf("discord: could not check that #%s is private before posting into it; the messages wait: %w", name, err)
	}
	if !isPrivate(c, a.opts.GuildID) {
		all, err := a.guildChannels(ctx)
		if err != nil {
			return fmt.Errorf("discord: could not check that #%s is private before posting into it; the messages wait: %w", name, err)
		}
		a.mu.Lock()
		a.noteLayout(all)
		a.mu.Unlock()
		if err := a.ensurePrivate(ctx, all); err != nil {
			return bridge.Held(fmt.Errorf("discord: holding the messages for #%s: every member of the server can read it, so they wait in the outbox and are posted once it is private: %w", c.Name, err))
		}
		if c, err = a.channel(ctx, id); err != nil {
			return fmt.Errorf("discord: could not check that #%s is private before posting into it; the messages wait: %w", name, err)
		}
	}
	a.notePrivacy(c)
	if !isPrivate(c, a.opts.GuildID) {
		return bridge.Held(fmt.Errorf("%w: #%s is readable by every member and could not be made private; "+
			"deny @everyone View Channel on it (or grant the bot's role Manage Roles): its messages wait in the outbox until then", ErrNotPrivate, c.Name))
	}
	a.forgetPrivacy(id)
	a.log.Info("a held channel is private now; posting its messages", "channel", id, "name", c.Name)
	return nil
}

func (a *Adapter) forgetPrivacy(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.notPrivate, id)
}
