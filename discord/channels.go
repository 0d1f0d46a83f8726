package discord

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

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
	if err := a.checkAdminChannel(chs); err != nil {
		return err
	}
	a.mu.Lock()
	a.noteLayout(chs)
	a.mu.Unlock()
	// Channels of an earlier version are made private now, or the admin
	// hears what to grant; either way Start goes on (replies still work).
	if err := a.ensurePrivate(ctx, chs); err != nil && !errors.Is(err, ErrNotPrivate) {
		a.log.Warn("could not check that the bridge's channels are private; checking again before creating one", "err", err)
	}
	a.scrubLegacyTopics(ctx, chs)
	a.scrubLegacyPosts(ctx)
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
			if c.Type == discordgo.ChannelTypeGuildText && a.isOurCategory(c.ParentID) && a.topicNames(c.Topic, s.ID) {
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
	if topic := Topic(s, a.tag(s.ID)); ch.Topic != topic {
		// The nick changed (or the topic was edited, or is an earlier
		// version's): rename.
		name := ch.Name
		base := ChannelName(s.Peer.Nick, "qq "+a.tag(s.ID))
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
	a.notePrivacy(ch)
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
	if err := a.ensurePrivate(ctx, all); err != nil {
		return nil, err
	}
	total := len(all)
	if total >= maxGuildChannels {
		a.warnChannels(ctx, total)
		return nil, errGuildFull()
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
			return nil, errGuildFull()
		}
		n := top + 1
		catName := CategoryName(a.opts.CategoryName, n)
		cat, err := a.createPrivate(ctx, "create a category", discordgo.GuildChannelCreateData{
			Name: catName,
			Type: discordgo.ChannelTypeGuildCategory,
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
	name := UniqueName(ChannelName(s.Peer.Nick, "qq "+a.tag(s.ID)), takenNames(all, ""))
	var ch *discordgo.Channel
	// No overwrites of its own: Discord syncs it to its (private) category.
	err := a.do(ctx, "create a session channel", false, func(o ...discordgo.RequestOption) (err error) {
		ch, err = a.rest.GuildChannelCreateComplex(a.opts.GuildID, discordgo.GuildChannelCreateData{
			Name:     name,
			Type:     discordgo.ChannelTypeGuildText,
			Topic:    Topic(s, a.tag(s.ID)),
			ParentID: parent,
		}, o...)
		return err
	})
	if c := a.findMade(ctx, err, "session channel", func(c *discordgo.Channel) bool {
		return c.Type == discordgo.ChannelTypeGuildText && c.ParentID == parent && a.topicNames(c.Topic, s.ID)
	}); c != nil {
		ch, err = c, nil
	}
	if err != nil {
		return nil, a.limitErr(ctx, err)
	}
	if !isPrivate(ch, a.opts.GuildID) {
		return nil, a.dropPublic(ctx, ch)
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
// It is checked first: the REST layer classes every 4xx as permanent,
// and the guild being full is not (the engine makes room, then retries).
func (a *Adapter) limitErr(ctx context.Context, err error) error {
	if restCode(err) == 30013 {
		a.warnChannels(ctx, maxGuildChannels)
		return fmt.Errorf("%w (%v)", errGuildFull(), err)
	}
	if errors.Is(err, bridge.ErrPermanent) {
		return err // already explained (overwritesRefused, refused)
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
	msg := fmt.Sprintf("⚠️ This server has %d of Discord's %d channels. When it is full, the bridge archives the least recently active session channels to make room (a transcript of each goes to the archive place, and its next message opens a new channel); forum mode (discord.mode = \"forum\") has no such limit.", total, maxGuildChannels)
	a.log.Warn("guild nears Discord's channel limit", "channels", total)
	if a.opts.AdminChannelID == "" {
		return
	}
	if _, err := a.PostAdmin(ctx, AdminMessage{Content: msg}); err != nil {
		a.log.Warn("could not warn the admin channel", "err", err)
	}
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
