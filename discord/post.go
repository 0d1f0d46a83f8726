package discord

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// hookOf returns the webhook to post into ref with: the adapter's current
// one for the channel when it knows one, else the ref's.
func (a *Adapter) hookOf(ref bridge.ChannelRef) (id, token, threadID string) {
	key := ref.ChannelID
	if a.opts.Mode == ModeForum {
		key, threadID = ref.ParentID, ref.ChannelID
	}
	a.mu.Lock()
	wh := a.webhooks[key]
	a.mu.Unlock()
	if wh != nil {
		return wh.ID, wh.Token, threadID
	}
	return ref.WebhookID, ref.WebhookToken, threadID
}

// Post implements bridge.Discord: it posts exactly the recorded parts of r
// with the channel's webhook. On an error it returns the ids of the parts
// already posted with it (FindPosted then tells what is missing).
func (a *Adapter) Post(ctx context.Context, ref bridge.ChannelRef, r bridge.Rendered) ([]string, error) {
	if ref.ChannelID == "" {
		return nil, errors.New("discord: Post: no channel")
	}
	if err := a.holdIfPublic(ctx, ref); err != nil {
		return nil, err // nothing posted; the message waits (privacy_hold.go)
	}
	rec, err := decodeRendered(r)
	if err != nil {
		return nil, err
	}
	var ids []string
	avatar := a.versionedAvatar(ctx, rec.Avatar)
	for _, p := range rec.Parts {
		params := &discordgo.WebhookParams{
			Content:         p.Content,
			Username:        rec.Username,
			AvatarURL:       avatar,
			Embeds:          p.Embeds,
			AllowedMentions: noMentions(),
		}
		var msg *discordgo.Message
		var err error
		if p.File != nil {
			msg, err = a.postWithFile(ctx, ref, params, p)
		} else {
			msg, err = a.execute(ctx, ref, params)
		}
		if err != nil {
			return ids, fmt.Errorf("discord: post QQ message %s (part %d of %d): %w", rec.QQID, len(ids)+1, len(rec.Parts), err)
		}
		ids = append(ids, msg.ID)
	}
	return ids, nil
}

// execute runs the webhook, finding the channel's webhook again once when
// Discord says it is gone.
func (a *Adapter) execute(ctx context.Context, ref bridge.ChannelRef, params *discordgo.WebhookParams) (*discordgo.Message, error) {
	for try := 0; ; try++ {
		id, token, thread := a.hookOf(ref)
		if id == "" || token == "" {
			return nil, errors.New("channel has no webhook: call EnsureChannel first")
		}
		var msg *discordgo.Message
		err := a.do(ctx, "execute webhook", false, func(o ...discordgo.RequestOption) (err error) {
			rewindFiles(params)
			if thread != "" {
				msg, err = a.rest.WebhookThreadExecute(id, token, true, thread, params, o...)
			} else {
				msg, err = a.rest.WebhookExecute(id, token, true, params, o...)
			}
			return err
		})
		if err == nil {
			if msg == nil || msg.ID == "" {
				return nil, errors.New("discord returned no message for the webhook post")
			}
			return msg, nil
		}
		if try > 0 || restCode(err) == 10003 {
			return nil, channelGone(err)
		}
		if restCode(err) == 50083 && thread != "" { // thread archived
			a.log.Info("forum post archived; reopening it", "thread", thread)
			uerr := a.do(ctx, "reopen a forum post", true, func(o ...discordgo.RequestOption) error {
				_, err := a.rest.ChannelEdit(thread, &discordgo.ChannelEdit{Archived: new(false)}, o...)
				return err
			})
			if uerr != nil {
				return nil, fmt.Errorf("%w (reopening the post failed: %v)", err, uerr)
			}
			continue
		}
		if restCode(err) != 10015 { // 10015: unknown webhook
			return nil, err
		}
		key := ref.ChannelID
		if a.opts.Mode == ModeForum {
			key = ref.ParentID
		}
		a.log.Warn("webhook is gone; making a new one", "channel", key)
		a.mu.Lock()
		delete(a.webhooks, key)
		a.mu.Unlock()
		if _, err := a.webhook(ctx, key); err != nil {
			return nil, channelGone(err)
		}
	}
}

// history returns the messages of a channel after afterID, oldest first,
// reading at most maxPages pages of 100; background reads (a catch-up's)
// are paced to leave room for live requests.
func (a *Adapter) history(ctx context.Context, channelID, afterID string, maxPages int, background bool) ([]*discordgo.Message, error) {
	if afterID == "" {
		afterID = "0"
	}
	var all []*discordgo.Message
	for page := 0; page < maxPages; page++ {
		if background {
			if err := a.waitCatchUpRead(ctx); err != nil {
				return nil, err
			}
		}
		var msgs []*discordgo.Message
		err := a.do(ctx, "read channel history", true, func(o ...discordgo.RequestOption) (err error) {
			msgs, err = a.rest.ChannelMessages(channelID, 100, "", afterID, "", o...)
			return err
		})
		if err != nil {
			return nil, channelGone(err)
		}
		slices.SortFunc(msgs, func(x, y *discordgo.Message) int { return compareIDs(x.ID, y.ID) })
		for _, m := range msgs {
			if compareIDs(m.ID, afterID) > 0 {
				all = append(all, m)
				afterID = m.ID
			}
		}
		if len(msgs) < 100 {
			return all, nil
		}
	}
	a.log.Warn("channel history longer than the catch-up reads; older part skipped", "channel", channelID)
	return all, nil
}

// compareIDs orders snowflakes (decimal strings of different lengths).
func compareIDs(x, y string) int {
	if len(x) != len(y) {
		return len(x) - len(y)
	}
	return strings.Compare(x, y)
}

// FindPosted implements bridge.Discord: it looks, after afterID, for the
// webhook messages recorded in r (never a new rendering). When only the
// first parts of a split message are there (a crash mid-post), it deletes
// them and reports not found, so that posting again does not duplicate
// them.
func (a *Adapter) FindPosted(ctx context.Context, ref bridge.ChannelRef, afterID string, r bridge.Rendered) ([]string, bool, error) {
	rec, err := decodeRendered(r)
	if err != nil {
		return nil, false, err
	}
	msgs, err := a.history(ctx, ref.ChannelID, afterID, 10, false)
	if err != nil {
		return nil, false, err
	}
	hookID, token, thread := a.hookOf(ref)
	parts, username := rec.Parts, rec.Username
	var ours []*discordgo.Message
	for _, dm := range msgs {
		if dm.WebhookID != "" && (dm.WebhookID == hookID || dm.WebhookID == ref.WebhookID) {
			ours = append(ours, dm)
		}
	}
	for i := range ours {
		if !samePart(ours[i], parts[0], username) {
			continue
		}
		ids := []string{ours[i].ID}
		for k := 1; k < len(parts) && i+k < len(ours) && samePart(ours[i+k], parts[k], username); k++ {
			ids = append(ids, ours[i+k].ID)
		}
		if len(ids) == len(parts) {
			return ids, true, nil
		}
		if i+len(ids) < len(ours) {
			continue // the run was cut by another message: not this one
		}
		for _, id := range ids {
			err := a.do(ctx, "delete a partly posted message", true, func(o ...discordgo.RequestOption) error {
				if thread != "" {
					// discordgo has no thread variant of the delete.
					return a.rest.ChannelMessageDelete(ref.ChannelID, id, o...)
				}
				return a.rest.WebhookMessageDelete(hookID, token, id, o...)
			})
			if err != nil && !notFound(err) {
				return nil, false, fmt.Errorf("discord: remove the first parts of QQ message %s before posting it again: %w", rec.QQID, err)
			}
		}
		return nil, false, nil
	}
	return nil, false, nil
}

// samePart reports whether a posted message is the recorded part p.
func samePart(dm *discordgo.Message, p recordPart, username string) bool {
	if p.File != nil && uploadedPart(dm, p) {
		return dm.Author == nil || dm.Author.Username == "" || dm.Author.Username == username
	}
	if strings.TrimSpace(dm.Content) != strings.TrimSpace(p.Content) || len(dm.Embeds) != len(p.Embeds) {
		return false
	}
	if dm.Author != nil && dm.Author.Username != "" && dm.Author.Username != username {
		return false
	}
	for i, e := range p.Embeds {
		if dm.Embeds[i].Title != e.Title || dm.Embeds[i].URL != e.URL {
			return false
		}
	}
	return true
}

// channelGone marks Discord's "Unknown Channel" (10003) as
// bridge.ErrChannelNotFound, so that the engine makes the channel again.
func channelGone(err error) error {
	if restCode(err) == 10003 {
		return fmt.Errorf("%w: %w", bridge.ErrChannelNotFound, err)
	}
	return err
}
