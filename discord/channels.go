package discord

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// guildInfo is what permission checks need to know of the guild.
type guildInfo struct {
	id      string // also the id of the @everyone role
	ownerID string
	perms   map[string]int64 // role id -> permissions
	at      time.Time
}

type memberInfo struct {
	roles []string
	at    time.Time
}

const (
	guildTTL  = 5 * time.Minute
	memberTTL = time.Minute
)

// guildInfo returns the cached guild facts, refreshing them when old.
func (a *Adapter) guildInfo(ctx context.Context, fresh bool) (*guildInfo, error) {
	a.mu.Lock()
	gi := a.guild
	a.mu.Unlock()
	if gi != nil && !fresh && time.Since(gi.at) < guildTTL {
		return gi, nil
	}
	var g *discordgo.Guild
	err := a.do(ctx, "read the guild", true, func(o ...discordgo.RequestOption) (err error) {
		g, err = a.rest.Guild(a.opts.GuildID, o...)
		return err
	})
	if err != nil {
		return nil, err
	}
	gi = &guildInfo{id: g.ID, ownerID: g.OwnerID, perms: map[string]int64{}, at: time.Now()}
	for _, r := range g.Roles {
		gi.perms[r.ID] = r.Permissions
	}
	a.mu.Lock()
	a.guild = gi
	a.mu.Unlock()
	return gi, nil
}

// memberRoles returns the roles of a member, from the message's member
// data when given, else from the API (cached briefly).
func (a *Adapter) memberRoles(ctx context.Context, userID string, m *discordgo.Member) ([]string, error) {
	if m != nil {
		a.mu.Lock()
		a.members[userID] = memberInfo{roles: m.Roles, at: time.Now()}
		a.mu.Unlock()
		return m.Roles, nil
	}
	a.mu.Lock()
	mi, ok := a.members[userID]
	a.mu.Unlock()
	if ok && time.Since(mi.at) < memberTTL {
		return mi.roles, nil
	}
	var mem *discordgo.Member
	err := a.do(ctx, "read a guild member", true, func(o ...discordgo.RequestOption) (err error) {
		mem, err = a.rest.GuildMember(a.opts.GuildID, userID, o...)
		return err
	})
	if err != nil {
		if restCode(err) == 10007 || restCode(err) == 10013 { // unknown member / user: left the guild
			return nil, nil
		}
		return nil, err
	}
	a.mu.Lock()
	a.members[userID] = memberInfo{roles: mem.Roles, at: time.Now()}
	a.mu.Unlock()
	return mem.Roles, nil
}

// allowed reports whether a member may reply to QQ and use the admin
// commands: holder of AdminRoleID, or (when it is empty) the guild owner
// and members whose roles grant Administrator or Manage Server.
func (a *Adapter) allowed(ctx context.Context, userID string, m *discordgo.Member) (bool, error) {
	roles, err := a.memberRoles(ctx, userID, m)
	if err != nil {
		return false, err
	}
	if a.opts.AdminRoleID != "" {
		return slices.Contains(roles, a.opts.AdminRoleID), nil
	}
	gi, err := a.guildInfo(ctx, false)
	if err != nil {
		return false, err
	}
	return canManage(gi, userID, roles), nil
}

// canManage computes Manage Server from the owner, @everyone and the
// member's roles.
func canManage(gi *guildInfo, userID string, roles []string) bool {
	if userID != "" && userID == gi.ownerID {
		return true
	}
	const want = discordgo.PermissionAdministrator | discordgo.PermissionManageGuild
	p := gi.perms[gi.id] // @everyone
	for _, id := range roles {
		p |= gi.perms[id]
	}
	return p&want != 0
}

// guildChannels lists the guild's channels.
func (a *Adapter) guildChannels(ctx context.Context) ([]*discordgo.Channel, error) {
	var chs []*discordgo.Channel
	err := a.do(ctx, "list the guild's channels", true, func(o ...discordgo.RequestOption) (err error) {
		chs, err = a.rest.GuildChannels(a.opts.GuildID, o...)
		return err
	})
	return chs, err
}

// loadLayout finds the session categories (or the forum) and their
// channels, so that replies are recognised after a restart.
func (a *Adapter) loadLayout(ctx context.Context) error {
	chs, err := a.guildChannels(ctx)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.noteLayout(chs)
	return nil
}

// noteLayout records our categories, forum and session channels from a
// channel list. a.mu must be held.
func (a *Adapter) noteLayout(chs []*discordgo.Channel) {
	forumName := ChannelName(a.opts.CategoryName, "qq-music")
	if a.opts.Mode == ModeChannels {
		clear(a.categories) // the list is the truth: drop deleted ones
	}
	for _, c := range chs {
		switch {
		case c.Type == discordgo.ChannelTypeGuildCategory && a.opts.Mode == ModeChannels:
			if n := categoryIndex(a.opts.CategoryName, c.Name); n > 0 {
				a.categories[c.ID] = n
			}
		case c.Type == discordgo.ChannelTypeGuildForum && a.opts.Mode == ModeForum && c.Name == forumName && a.forumID == "":
			a.forumID = c.ID
		}
	}
	if a.opts.Mode == ModeChannels {
		for _, c := range chs {
			if c.Type == discordgo.ChannelTypeGuildText && a.categories[c.ParentID] > 0 && c.ID != a.opts.AdminChannelID {
				a.sessionChan[c.ID] = true
			}
		}
	}
}

func (a *Adapter) forgetChannel(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sessionChan, id)
	delete(a.webhooks, id)
	delete(a.categories, id)
	if a.forumID == id {
		a.forumID = ""
	}
}

// recheckChannel drops what the adapter concluded about a channel, so that
// the next message there looks again.
func (a *Adapter) recheckChannel(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sessionChan, id)
	delete(a.checkedAt, id)
}

func (a *Adapter) dropGuildInfo() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.guild = nil
}

// isSessionChannel reports whether channelID is a session channel (or a
// post of our forum).
func (a *Adapter) isSessionChannel(ctx context.Context, channelID string) (bool, error) {
	if channelID == "" || channelID == a.opts.AdminChannelID {
		return false, nil
	}
	a.mu.Lock()
	is, known := a.sessionChan[channelID]
	at := a.checkedAt[channelID]
	a.mu.Unlock()
	if known && (is || time.Since(at) < time.Minute) {
		return is, nil
	}
	ch, err := a.channel(ctx, channelID)
	if err != nil {
		if notFound(err) {
			return false, nil
		}
		return false, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch a.opts.Mode {
	case ModeForum:
		is = ch.IsThread() && ch.ParentID != "" && ch.ParentID == a.forumID
	default:
		is = ch.Type == discordgo.ChannelTypeGuildText && a.categories[ch.ParentID] > 0
	}
	a.sessionChan[channelID] = is
	a.checkedAt[channelID] = time.Now()
	return is, nil
}

func (a *Adapter) channel(ctx context.Context, id string) (*discordgo.Channel, error) {
	var ch *discordgo.Channel
	err := a.do(ctx, "read channel "+id, true, func(o ...discordgo.RequestOption) (err error) {
		ch, err = a.rest.Channel(id, o...)
		return err
	})
	return ch, err
}

// notFound reports whether err says the thing is gone.
func notFound(err error) bool {
	switch restCode(err) {
	case 10003, 10015, 10008: // unknown channel, webhook, message
		return true
	}
	return restStatus(err) == http.StatusNotFound
}

// EnsureChannel implements bridge.Discord.
func (a *Adapter) EnsureChannel(ctx context.Context, s bridge.Session, have *bridge.ChannelRef) (bridge.ChannelRef, error) {
	if s.ID == "" {
		return bridge.ChannelRef{}, errors.New("discord: EnsureChannel: session without id")
	}
	a.layoutMu.Lock()
	defer a.layoutMu.Unlock()
	if a.opts.Mode == ModeForum {
		return a.ensurePost(ctx, s, have)
	}
	var ch *discordgo.Channel
	if have != nil && have.ChannelID != "" {
		c, err := a.channel(ctx, have.ChannelID)
		switch {
		case err == nil:
			ch = c
		case notFound(err):
			a.log.Info("session channel is gone; creating a new one", "session", s.ID, "channel", have.ChannelID)
			a.forgetChannel(have.ChannelID)
		default:
			return bridge.ChannelRef{}, err
		}
	}
	var all []*discordgo.Channel
	if ch == nil {
		var err error
		if all, err = a.guildChannels(ctx); err != nil {
			return bridge.ChannelRef{}, err
		}
		a.mu.Lock()
		a.noteLayout(all)
		a.mu.Unlock()
		// A channel of this session may exist though the caller lost it.
		for _, c := range all {
			if c.Type == discordgo.ChannelTypeGuildText && a.isOurCategory(c.ParentID) && topicSessionID(c.Topic) == s.ID {
				ch = c
				break
			}
		}
		if ch == nil {
			if ch, err = a.createChannel(ctx, s, all); err != nil {
				return bridge.ChannelRef{}, err
			}
		}
	}
	if topic := Topic(s); ch.Topic != topic {
		// The nick changed (or the topic was edited): rename.
		name := ch.Name
		base := ChannelName(s.Peer.Nick, "qq "+s.Peer.UIN)
		if !sameBase(ch.Name, base) {
			if all == nil {
				var err error
				if all, err = a.guildChannels(ctx); err != nil {
					return bridge.ChannelRef{}, err
				}
			}
			name = UniqueName(base, takenNames(all, ch.ID))
		}
		var edited *discordgo.Channel
		err := a.do(ctx, "rename a session channel", true, func(o ...discordgo.RequestOption) (err error) {
			edited, err = a.rest.ChannelEdit(ch.ID, &discordgo.ChannelEdit{Name: name, Topic: topic}, o...)
			return err
		})
		switch {
		case err == nil:
			ch = edited
		case notFound(err):
			return bridge.ChannelRef{}, err
		default:
			// Discord allows two renames per channel per 10 minutes: a
			// refused rename must not stop the messages; the next
			// EnsureChannel tries again.
			a.log.Warn("could not rename a session channel; keeping its old name for now", "channel", ch.ID, "err", err)
		}
	}
	a.mu.Lock()
	a.sessionChan[ch.ID] = true
	a.mu.Unlock()
	wh, err := a.webhook(ctx, ch.ID)
	if err != nil {
		return bridge.ChannelRef{}, err
	}
	return bridge.ChannelRef{ChannelID: ch.ID, ParentID: ch.ParentID, WebhookID: wh.ID, WebhookToken: wh.Token, Name: ch.Name}, nil
}

func (a *Adapter) isOurCategory(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.categories[id] > 0
}

// sameBase reports whether name is base, or base with a "-N" suffix.
func sameBase(name, base string) bool {
	if name == base {
		return true
	}
	i := strings.LastIndexByte(name, '-')
	if i < 0 || i == len(name)-1 {
		return false
	}
	for _, c := range name[i+1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	// A long base is cut to make room for the suffix.
	return name[:i] == base || (utf8.RuneCountInString(name) == maxChannelName && strings.HasPrefix(base, name[:i]))
}

func takenNames(all []*discordgo.Channel, except string) func(string) bool {
	names := map[string]bool{}
	for _, c := range all {
		if c.ID != except && c.Type != discordgo.ChannelTypeGuildCategory {
			names[c.Name] = true
		}
	}
	return func(s string) bool { return names[s] }
}

// createChannel creates a session's text channel in the first category
// with room, creating the next category when all are full.
func (a *Adapter) createChannel(ctx context.Context, s bridge.Session, all []*discordgo.Channel) (*discordgo.Channel, error) {
	total := len(all)
	if total >= maxGuildChannels {
		a.warnChannels(ctx, total)
		return nil, ErrGuildFull
	}
	children := map[string]int{}
	for _, c := range all {
		children[c.ParentID]++
	}
	a.mu.Lock()
	parent, best, top := "", 0, 0
	for id, n := range a.categories {
		top = max(top, n)
		if children[id] < maxCategoryChildren && (best == 0 || n < best) {
			parent, best = id, n
		}
	}
	a.mu.Unlock()
	if parent == "" {
		if total+2 > maxGuildChannels {
			a.warnChannels(ctx, total)
			return nil, ErrGuildFull
		}
		n := top + 1
		var cat *discordgo.Channel
		catName := CategoryName(a.opts.CategoryName, n)
		err := a.do(ctx, "create a category", false, func(o ...discordgo.RequestOption) (err error) {
			cat, err = a.rest.GuildChannelCreateComplex(a.opts.GuildID, discordgo.GuildChannelCreateData{
				Name: catName,
				Type: discordgo.ChannelTypeGuildCategory,
			}, o...)
			return err
		})
		if c := a.findMade(ctx, err, "category", func(c *discordgo.Channel) bool {
			return c.Type == discordgo.ChannelTypeGuildCategory && c.Name == catName
		}); c != nil {
			cat, err = c, nil
		}
		if err != nil {
			return nil, a.limitErr(ctx, err)
		}
		a.log.Info("created a category for session channels", "name", cat.Name)
		a.mu.Lock()
		a.categories[cat.ID] = n
		a.mu.Unlock()
		parent = cat.ID
		total++
	}
	name := UniqueName(ChannelName(s.Peer.Nick, "qq "+s.Peer.UIN), takenNames(all, ""))
	var ch *discordgo.Channel
	err := a.do(ctx, "create a session channel", false, func(o ...discordgo.RequestOption) (err error) {
		ch, err = a.rest.GuildChannelCreateComplex(a.opts.GuildID, discordgo.GuildChannelCreateData{
			Name:     name,
			Type:     discordgo.ChannelTypeGuildText,
			Topic:    Topic(s),
			ParentID: parent,
		}, o...)
		return err
	})
	if c := a.findMade(ctx, err, "session channel", func(c *discordgo.Channel) bool {
		return c.Type == discordgo.ChannelTypeGuildText && c.ParentID == parent && topicSessionID(c.Topic) == s.ID
	}); c != nil {
		ch, err = c, nil
	}
	if err != nil {
		return nil, a.limitErr(ctx, err)
	}
	total++
	a.log.Info("created a session channel", "session", s.ID, "channel", ch.ID, "name", ch.Name)
	if total >= a.opts.ChannelWarnAt {
		a.warnChannels(ctx, total)
	}
	return ch, nil
}

// permHint adds which permission the bot lacks to a 50013 error.
func permHint(err error, perm string) error {
	if restCode(err) == 50013 {
		return fmt.Errorf("discord: the bot lacks the %s permission in this server; grant it to the bot's role: %w", perm, err)
	}
	return err
}

// limitErr turns Discord's "maximum channels" error into ErrGuildFull.
func (a *Adapter) limitErr(ctx context.Context, err error) error {
	if restCode(err) == 30013 {
		a.warnChannels(ctx, maxGuildChannels)
		return fmt.Errorf("%w (%v)", ErrGuildFull, err)
	}
	return permHint(err, "Manage Channels")
}

// warnChannels tells the admin channel, at most every 6 hours, that the
// guild nears Discord's 500-channel limit.
func (a *Adapter) warnChannels(ctx context.Context, total int) {
	a.mu.Lock()
	if !a.warnedAt.IsZero() && time.Since(a.warnedAt) < 6*time.Hour {
		a.mu.Unlock()
		return
	}
	a.warnedAt = time.Now()
	a.mu.Unlock()
	msg := fmt.Sprintf("⚠️ This server has %d of Discord's %d channels. New QQ sessions will soon get no channel: delete old session channels, or switch the bridge to forum mode (discord.mode = \"forum\").", total, maxGuildChannels)
	a.log.Warn("guild nears Discord's channel limit", "channels", total)
	if a.opts.AdminChannelID == "" {
		return
	}
	if _, err := a.PostAdmin(ctx, AdminMessage{Content: msg}); err != nil {
		a.log.Warn("could not warn the admin channel", "err", err)
	}
}

// ensurePost finds or creates a session's forum post (forum mode).
func (a *Adapter) ensurePost(ctx context.Context, s bridge.Session, have *bridge.ChannelRef) (bridge.ChannelRef, error) {
	forumID, err := a.ensureForum(ctx)
	if err != nil {
		return bridge.ChannelRef{}, err
	}
	name := ThreadName(s.Peer)
	var th *discordgo.Channel
	if have != nil && have.ChannelID != "" {
		c, err := a.channel(ctx, have.ChannelID)
		switch {
		case err == nil && c.ParentID == forumID:
			th = c
		case err == nil || notFound(err):
			a.log.Info("session post is gone; creating a new one", "session", s.ID, "thread", have.ChannelID)
		default:
			return bridge.ChannelRef{}, err
		}
	}
	if th == nil {
		// The caller may have lost the post, or an earlier create whose
		// answer was lost made it: look among the active ones.
		if found, err := a.findPost(ctx, forumID, s.Peer); err != nil {
			a.log.Warn("could not list active forum posts", "err", err)
		} else {
			th = found
		}
	}
	if th == nil {
		err := a.do(ctx, "create a forum post", false, func(o ...discordgo.RequestOption) (err error) {
			th, err = a.rest.ForumThreadStartComplex(forumID,
				&discordgo.ThreadStart{Name: name, AutoArchiveDuration: 10080},
				&discordgo.MessageSend{Content: Topic(s), AllowedMentions: noMentions()}, o...)
			return err
		})
		if bridge.OutcomeOf(err) == bridge.CallAmbiguous {
			// It may have been made: look before anything else is tried.
			if found, ferr := a.findPost(ctx, forumID, s.Peer); ferr == nil && found != nil {
				a.log.Info("found the forum post made by a create whose answer was lost", "session", s.ID, "thread", found.ID)
				th, err = found, nil
			}
		}
		if err != nil {
			if notFound(err) {
				// The forum itself was deleted: make it again next time.
				a.forgetChannel(forumID)
			}
			return bridge.ChannelRef{}, err
		}
		a.log.Info("created a forum post", "session", s.ID, "thread", th.ID)
	}
	if th != nil {
		edit := &discordgo.ChannelEdit{}
		changed := false
		if th.Name != name {
			edit.Name, changed = name, true
		}
		if th.ThreadMetadata != nil && th.ThreadMetadata.Archived {
			f := false
			edit.Archived, changed = &f, true
		}
		if changed {
			var edited *discordgo.Channel
			err := a.do(ctx, "update a forum post", true, func(o ...discordgo.RequestOption) (err error) {
				edited, err = a.rest.ChannelEdit(th.ID, edit, o...)
				return err
			})
			switch {
			case err == nil:
				th = edited
			case notFound(err):
				return bridge.ChannelRef{}, err
			default: // see EnsureChannel: renames are scarce
				a.log.Warn("could not update a forum post; trying again next time", "thread", th.ID, "err", err)
			}
		}
	}
	a.mu.Lock()
	a.sessionChan[th.ID] = true
	a.mu.Unlock()
	wh, err := a.webhook(ctx, forumID)
	if err != nil {
		return bridge.ChannelRef{}, err
	}
	return bridge.ChannelRef{ChannelID: th.ID, ParentID: forumID, WebhookID: wh.ID, WebhookToken: wh.Token, Name: th.Name}, nil
}

// findPost returns the active post of a peer in the forum, or nil. Posts
// are named ThreadName(peer), which ends with the uin.
func (a *Adapter) findPost(ctx context.Context, forumID string, p bridge.Peer) (*discordgo.Channel, error) {
	if p.UIN == "" {
		return nil, nil
	}
	var list *discordgo.ThreadsList
	err := a.do(ctx, "list active threads", true, func(o ...discordgo.RequestOption) (err error) {
		list, err = a.rest.GuildThreadsActive(a.opts.GuildID, o...)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, th := range list.Threads {
		if th.ParentID == forumID && strings.HasSuffix(th.Name, " ("+p.UIN+")") {
			return th, nil
		}
	}
	return nil, nil
}

// ensureForum returns the forum of forum mode, creating it when missing.
func (a *Adapter) ensureForum(ctx context.Context) (string, error) {
	a.mu.Lock()
	id := a.forumID
	a.mu.Unlock()
	if id != "" {
		return id, nil
	}
	all, err := a.guildChannels(ctx)
	if err != nil {
		return "", err
	}
	a.mu.Lock()
	a.noteLayout(all)
	id = a.forumID
	a.mu.Unlock()
	if id != "" {
		return id, nil
	}
	if len(all) >= maxGuildChannels {
		return "", ErrGuildFull
	}
	var f *discordgo.Channel
	err = a.do(ctx, "create the forum", false, func(o ...discordgo.RequestOption) (err error) {
		f, err = a.rest.GuildChannelCreateComplex(a.opts.GuildID, discordgo.GuildChannelCreateData{
			Name:  ChannelName(a.opts.CategoryName, "qq-music"),
			Type:  discordgo.ChannelTypeGuildForum,
			Topic: "One post per QQ Music private chat, kept by the QQ Music bridge.",
		}, o...)
		return err
	})
	if c := a.findMade(ctx, err, "forum", func(c *discordgo.Channel) bool {
		return c.Type == discordgo.ChannelTypeGuildForum && c.Name == ChannelName(a.opts.CategoryName, "qq-music")
	}); c != nil {
		f, err = c, nil
	}
	if restStatus(err) == http.StatusBadRequest {
		return "", fmt.Errorf("discord: could not create the forum (forum channels need a Community server; enable Community in the server settings or use discord.mode = \"channels\"): %w", err)
	}
	if err != nil {
		return "", permHint(err, "Manage Channels")
	}
	a.mu.Lock()
	a.forumID = f.ID
	a.mu.Unlock()
	return f.ID, nil
}

// webhook returns the bridge's webhook in a channel (or forum): cached,
// else found among the channel's webhooks (ours: made by this bot or
// application, with our name), else created.
func (a *Adapter) webhook(ctx context.Context, channelID string) (*discordgo.Webhook, error) {
	a.mu.Lock()
	wh := a.webhooks[channelID]
	botID, appID := a.botID, a.appID
	a.mu.Unlock()
	if wh != nil {
		return wh, nil
	}
	var hooks []*discordgo.Webhook
	err := a.do(ctx, "list a channel's webhooks", true, func(o ...discordgo.RequestOption) (err error) {
		hooks, err = a.rest.ChannelWebhooks(channelID, o...)
		return err
	})
	if err != nil {
		return nil, err
	}
	wh = a.ourHook(hooks, botID, appID)
	if wh == nil {
		if len(hooks) >= 15 {
			return nil, fmt.Errorf("channel %s: %w", channelID, ErrWebhookLimit)
		}
		err := a.do(ctx, "create a webhook", false, func(o ...discordgo.RequestOption) (err error) {
			wh, err = a.rest.WebhookCreate(channelID, a.opts.WebhookName, "", o...)
			return err
		})
		if bridge.OutcomeOf(err) == bridge.CallAmbiguous {
			// It may have been made: look before anything else is tried.
			lerr := a.do(ctx, "list a channel's webhooks", true, func(o ...discordgo.RequestOption) (err error) {
				hooks, err = a.rest.ChannelWebhooks(channelID, o...)
				return err
			})
			if found := a.ourHook(hooks, botID, appID); lerr == nil && found != nil {
				a.log.Info("found the webhook made by a create whose answer was lost", "channel", channelID)
				wh, err = found, nil
			}
		}
		if err != nil {
			switch restCode(err) {
			case 30007:
				return nil, fmt.Errorf("channel %s: %w", channelID, ErrWebhookLimit)
			case 30058:
				return nil, fmt.Errorf("discord: the guild has Discord's maximum of 1000 webhooks; delete unused ones: %w", err)
			}
			return nil, permHint(err, "Manage Webhooks")
		}
		a.log.Info("created a webhook", "channel", channelID)
	}
	a.mu.Lock()
	a.webhooks[channelID] = wh
	a.mu.Unlock()
	return wh, nil
}

func noMentions() *discordgo.MessageAllowedMentions {
	return &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}
}
