package discord

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// The archive place (bridge.ArchivePlace): transcripts of archived session
// channels go to Options.ArchiveChannelID, or, without one, to a thread of
// the admin channel named archiveThreadName. Each transcript message ends
// with its nonce on a line of its own, so that a post that may have
// happened is found again (Discord does not return nonces in history).

var _ bridge.ArchivePlace = (*Adapter)(nil)

const archiveThreadName = "QQ chat archive"

// archivePlace returns the channel (or thread) transcripts go to, creating
// the admin channel's archive thread when needed.
func (a *Adapter) archivePlace(ctx context.Context) (string, error) {
	if id := a.opts.ArchiveChannelID; id != "" {
		return id, a.placePrivate(ctx, id, "the archive channel (discord.archive_channel_id)")
	}
	if a.opts.AdminChannelID == "" {
		return "", bridge.Permanent(errors.New("discord: no archive place: set discord.archive_channel_id or discord.admin_channel_id"))
	}
	// Its threads are as visible as the admin channel.
	if err := a.placePrivate(ctx, a.opts.AdminChannelID, "the admin channel, whose thread takes the transcripts,"); err != nil {
		return "", err
	}
	a.mu.Lock()
	id := a.archiveThread
	a.mu.Unlock()
	if id != "" {
		return id, nil
	}
	a.layoutMu.Lock()
	defer a.layoutMu.Unlock()
	th, err := a.findArchiveThread(ctx)
	if err != nil {
		return "", err
	}
	if th == nil {
		err = a.do(ctx, "create the archive thread", false, func(o ...discordgo.RequestOption) (err error) {
			th, err = a.rest.ThreadStartComplex(a.opts.AdminChannelID, &discordgo.ThreadStart{
				Name: archiveThreadName, Type: discordgo.ChannelTypeGuildPublicThread, AutoArchiveDuration: 10080,
			}, o...)
			return err
		})
		if err != nil {
			return "", bridge.Ambiguous(fmt.Errorf("discord: could not create the archive thread in the admin channel: %w", err))
		}
	} else if th.ThreadMetadata != nil && th.ThreadMetadata.Archived {
		err := a.do(ctx, "reopen the archive thread", true, func(o ...discordgo.RequestOption) error {
			_, err := a.rest.ChannelEdit(th.ID, &discordgo.ChannelEdit{Archived: new(false)}, o...)
			return err
		})
		if err != nil {
			return "", fmt.Errorf("discord: could not reopen the archive thread: %w", err)
		}
	}
	a.mu.Lock()
	a.archiveThread = th.ID
	a.mu.Unlock()
	return th.ID, nil
}

// placePrivate checks that the place transcripts go to is private: they
// hold private messages.
func (a *Adapter) placePrivate(ctx context.Context, id, what string) error {
	c, err := a.channel(ctx, id)
	if err != nil {
		if notFound(err) {
			return bridge.Permanent(fmt.Errorf("discord: %s %s does not exist or the bot cannot see it: %w", what, id, err))
		}
		return err
	}
	if !isPrivate(c, a.opts.GuildID) {
		return bridge.Held(fmt.Errorf("%w: %s #%s is readable by every member; deny @everyone View Channel on it "+
			"(or set discord.archive_channel_id to a private channel): no transcript is posted, and no channel archived, until then", ErrNotPrivate, what, c.Name))
	}
	return nil
}

// findArchiveThread looks for the admin channel's archive thread among the
// active and the archived threads.
func (a *Adapter) findArchiveThread(ctx context.Context) (*discordgo.Channel, error) {
	var active *discordgo.ThreadsList
	err := a.do(ctx, "list active threads", true, func(o ...discordgo.RequestOption) (err error) {
		active, err = a.rest.GuildThreadsActive(a.opts.GuildID, o...)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, th := range active.Threads {
		if th.ParentID == a.opts.AdminChannelID && th.Name == archiveThreadName {
			return th, nil
		}
	}
	var archived *discordgo.ThreadsList
	err = a.do(ctx, "list archived threads", true, func(o ...discordgo.RequestOption) (err error) {
		archived, err = a.rest.ThreadsArchived(a.opts.AdminChannelID, nil, 100, o...)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, th := range archived.Threads {
		if th.Name == archiveThreadName {
			return th, nil
		}
	}
	return nil, nil
}

// nonceLine is how a transcript message names its nonce.
func nonceLine(nonce string) string { return "-# " + nonce }

// PostTranscript implements bridge.ArchivePlace.
func (a *Adapter) PostTranscript(ctx context.Context, t bridge.Transcript) (string, error) {
	if t.Nonce == "" || len(t.Nonce) > 25 {
		return "", errors.New("discord: post a transcript: the nonce must have 1 to 25 characters")
	}
	place, err := a.archivePlace(ctx)
	if err != nil {
		return "", err
	}
	m, err := a.PostAsBot(ctx, "post a transcript", place, t.Nonce, &discordgo.MessageSend{
		Content:         clip(NeutraliseMentions(stripControlKeepLines(t.Note)), 1900) + "\n" + nonceLine(t.Nonce),
		AllowedMentions: noMentions(),
		Files:           []*discordgo.File{{Name: t.FileName, ContentType: "text/plain; charset=utf-8", Reader: bytes.NewReader(t.Body)}},
	})
	id := ""
	if err == nil {
		id = m.ID
	}
	switch {
	case err == nil && id != "":
		return id, nil
	case err == nil:
		return "", bridge.Ambiguous(errors.New("discord: post a transcript: Discord returned no message"))
	case notFound(err):
		a.mu.Lock()
		a.archiveThread = "" // found or made again next time
		a.mu.Unlock()
		return "", fmt.Errorf("discord: the archive place is gone; trying again: %w", err)
	case errors.Is(err, ErrRateLimited):
		return "", err // refused: nothing was posted
	case restStatus(err) >= 400 && restStatus(err) < 500:
		return "", bridge.Permanent(permHint(err, "Attach Files (in the archive place)"))
	default:
		return "", bridge.Ambiguous(err)
	}
}

// FindTranscript implements bridge.ArchivePlace: it reads the archive
// place's newest 200 messages.
func (a *Adapter) FindTranscript(ctx context.Context, nonce string) (string, bool, error) {
	place, err := a.archivePlace(ctx)
	if err != nil {
		return "", false, err
	}
	before := ""
	for range 2 {
		var msgs []*discordgo.Message
		err := a.do(ctx, "read the archive place", true, func(o ...discordgo.RequestOption) (err error) {
			msgs, err = a.rest.ChannelMessages(place, 100, before, "", "", o...)
			return err
		})
		if err != nil {
			return "", false, err
		}
		for _, m := range msgs {
			if m.Author != nil && m.Author.ID == a.botUserID() && strings.HasSuffix(m.Content, "\n"+nonceLine(nonce)) {
				return m.ID, true, nil
			}
		}
		if len(msgs) < 100 {
			break
		}
		before = msgs[len(msgs)-1].ID
	}
	return "", false, nil
}

func (a *Adapter) botUserID() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.botID
}

// DeleteChannel implements bridge.ArchivePlace. Deleting is idempotent:
// a channel already gone counts as deleted.
func (a *Adapter) DeleteChannel(ctx context.Context, channelID string) error {
	if channelID == "" || channelID == a.opts.AdminChannelID || channelID == a.opts.ArchiveChannelID {
		return bridge.Permanent(fmt.Errorf("discord: refusing to delete channel %q: not a session channel", channelID))
	}
	// Only a channel in the bridge's categories (or a post of its forum) is
	// deleted, whatever the store says.
	c, err := a.channel(ctx, channelID)
	switch {
	case notFound(err):
		a.forgetChannel(channelID)
		a.forgetPrivacy(channelID)
		return nil
	case err != nil:
		return err
	}
	a.mu.Lock()
	ours := a.categories[c.ParentID] > 0 || (c.ParentID != "" && c.ParentID == a.forumID)
	a.mu.Unlock()
	if !ours {
		return bridge.Permanent(fmt.Errorf("discord: refusing to delete #%s: it is not in the bridge's categories (moved by hand?); delete it yourself if it should go", c.Name))
	}
	err = a.do(ctx, "delete a session channel", true, func(o ...discordgo.RequestOption) error {
		_, err := a.rest.ChannelDelete(channelID, o...)
		return err
	})
	switch {
	case err == nil || notFound(err):
		a.forgetChannel(channelID)
		a.forgetPrivacy(channelID)
		return nil
	case restStatus(err) == 403:
		return bridge.Permanent(permHint(err, "Manage Channels"))
	default:
		return err // deleting again is safe
	}
}

// TranscriptURL implements bridge.ArchivePlace: the link to a transcript
// message, which Discord shows as a jump to it (for members who may read
// the archive place).
func (a *Adapter) TranscriptURL(ctx context.Context, msgID string) (string, error) {
	place, err := a.archivePlace(ctx)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("https://discord.com/channels/%s/%s/%s", a.opts.GuildID, place, msgID), nil
}

// PostOpening implements bridge.ArchivePlace: it posts the notice that
// opens a re-opened session's channel, marked with its nonce on a last
// line of its own, unless a post so marked is already among the channel's
// newest messages (an attempt before a crash, whose nonce Discord may no
// longer remember).
func (a *Adapter) PostOpening(ctx context.Context, ref bridge.ChannelRef, nonce, text string) (string, error) {
	if ref.ChannelID == "" {
		return "", errors.New("discord: post a re-opened chat's notice: no channel given")
	}
	if nonce == "" || len(nonce) > nonceLen {
		return "", fmt.Errorf("discord: post a re-opened chat's notice: the nonce must have 1 to %d characters", nonceLen)
	}
	if err := a.holdIfPublic(ctx, ref); err != nil {
		return "", err // nothing posted; it waits (privacy_hold.go)
	}
	var msgs []*discordgo.Message
	err := a.do(ctx, "read a re-opened chat's channel", true, func(o ...discordgo.RequestOption) (err error) {
		msgs, err = a.rest.ChannelMessages(ref.ChannelID, 50, "", "", "", o...)
		return err
	})
	if err != nil {
		return "", channelGone(err)
	}
	for _, m := range msgs {
		if m.Author != nil && m.Author.ID == a.botUserID() && strings.HasSuffix(m.Content, "\n"+nonceLine(nonce)) {
			return m.ID, nil
		}
	}
	m, err := a.PostAsBot(ctx, "post a re-opened chat's notice", ref.ChannelID, nonce, &discordgo.MessageSend{
		Content:         clip(NeutraliseMentions(stripControlKeepLines(text)), 1900) + "\n" + nonceLine(nonce),
		AllowedMentions: noMentions(),
	})
	if err != nil {
		return "", channelGone(err)
	}
	return m.ID, nil
}
