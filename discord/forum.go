package discord

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// ensurePost finds or creates a session's forum post (forum mode).
func (a *Adapter) ensurePost(ctx context.Context, s bridge.Session, have *bridge.ChannelRef) (bridge.ChannelRef, error) {
	forumID, err := a.ensureForum(ctx)
	if err != nil {
		return bridge.ChannelRef{}, err
	}
	name := ThreadName(s.Peer, a.tag(s.ID))
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
		if found, err := a.findPost(ctx, forumID, s); err != nil {
			a.log.Warn("could not list active forum posts", "err", err)
		} else {
			th = found
		}
	}
	if th == nil {
		if err := a.forumPrivate(ctx, forumID); err != nil {
			return bridge.ChannelRef{}, err
		}
		err := a.do(ctx, "create a forum post", false, func(o ...discordgo.RequestOption) (err error) {
			th, err = a.rest.ForumThreadStartComplex(forumID,
				&discordgo.ThreadStart{Name: name, AutoArchiveDuration: 10080},
				&discordgo.MessageSend{Content: Topic(s, a.tag(s.ID)), AllowedMentions: noMentions()}, o...)
			return err
		})
		if bridge.OutcomeOf(err) == bridge.CallAmbiguous {
			// It may have been made: look before anything else is tried.
			if found, ferr := a.findPost(ctx, forumID, s); ferr == nil && found != nil {
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
		wasLegacy := legacyTitle(th.Name)
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
		if wasLegacy {
			a.fixStarter(ctx, th.ID, s)
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

// findPost returns the active post of a session in the forum, or nil.
// Posts are named ThreadName(peer, tag), which ends with the tag.
func (a *Adapter) findPost(ctx context.Context, forumID string, s bridge.Session) (*discordgo.Channel, error) {
	var list *discordgo.ThreadsList
	err := a.do(ctx, "list active threads", true, func(o ...discordgo.RequestOption) (err error) {
		list, err = a.rest.GuildThreadsActive(a.opts.GuildID, o...)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, th := range list.Threads {
		// Posts of an earlier version end with " (uin)" instead.
		legacy := s.Peer.UIN != "" && strings.HasSuffix(th.Name, " ("+s.Peer.UIN+")")
		tagged := slices.ContainsFunc(a.tags(s.ID), func(tag string) bool { return strings.HasSuffix(th.Name, " (#"+tag+")") })
		if th.ParentID == forumID && (legacy || tagged) {
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
	if err := a.ensurePrivate(ctx, all); err != nil {
		return "", err
	}
	if id != "" {
		return id, nil
	}
	if len(all) >= maxGuildChannels {
		return "", ErrGuildFull
	}
	forumName := ChannelName(a.opts.CategoryName, "qq-music")
	f, err := a.createPrivate(ctx, "create the forum", discordgo.GuildChannelCreateData{
		Name:  forumName,
		Type:  discordgo.ChannelTypeGuildForum,
		Topic: "One post per QQ Music private chat, kept by the QQ Music bridge.",
	})
	if c := a.findMade(ctx, err, "forum", func(c *discordgo.Channel) bool {
		return c.Type == discordgo.ChannelTypeGuildForum && c.Name == forumName
	}); c != nil {
		f, err = c, nil
	}
	if restStatus(err) == http.StatusBadRequest {
		return "", fmt.Errorf("discord: could not create the forum (forum channels need a Community server; enable Community in the server settings or use discord.mode = \"channels\"): %w", err)
	}
	if errors.Is(err, bridge.ErrPermanent) {
		return "", err
	}
	if err != nil {
		return "", permHint(err, "Manage Channels")
	}
	a.mu.Lock()
	a.forumID = f.ID
	a.mu.Unlock()
	return f.ID, nil
}
