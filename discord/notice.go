package discord

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// PostNotice implements bridge.Discord: it posts text as the bot into a
// session channel (or forum post), never pinging anybody. The nonce (sent
// with enforce_nonce, see PostAsBot) makes the call idempotent, so a lost
// answer may be retried.
func (a *Adapter) PostNotice(ctx context.Context, ref bridge.ChannelRef, nonce, text string) (string, error) {
	if ref.ChannelID == "" {
		return "", errors.New("discord: post a notice: no channel given")
	}
	if nonce == "" || len(nonce) > nonceLen {
		return "", fmt.Errorf("discord: post a notice: the nonce must have 1 to %d characters", nonceLen)
	}
	if err := a.holdIfPublic(ctx, ref); err != nil {
		return "", err // nothing posted; it waits (privacy_hold.go)
	}
	m, err := a.PostAsBot(ctx, "post a notice", ref.ChannelID, nonce, &discordgo.MessageSend{
		Content:         clip(NeutraliseMentions(stripControlKeepLines(text)), 2000),
		AllowedMentions: noMentions(),
	})
	if err != nil {
		return "", channelGone(err)
	}
	return m.ID, nil
}

// stripControlKeepLines is stripControl that keeps line breaks.
func stripControlKeepLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = stripControl(l)
	}
	return strings.Join(lines, "\n")
}

// EditNotice implements bridge.Discord: it rewords a notice posted with
// PostNotice. A notice or channel no longer there (deleted by someone) is
// done.
func (a *Adapter) EditNotice(ctx context.Context, channelID, messageID, text string) error {
	if channelID == "" || messageID == "" {
		return errors.New("discord: edit a notice: no channel or no message given")
	}
	content := clip(NeutraliseMentions(stripControlKeepLines(text)), 2000)
	err := a.do(ctx, "edit a notice", true, func(o ...discordgo.RequestOption) error {
		ed := discordgo.NewMessageEdit(channelID, messageID)
		ed.Content = &content
		ed.AllowedMentions = noMentions()
		_, err := a.rest.ChannelMessageEditComplex(ed, o...)
		return err
	})
	if notFound(err) {
		return nil
	}
	return err
}

// DeleteNotice implements bridge.Discord: it deletes a notice posted with
// PostNotice. A notice or channel no longer there (deleted by someone) is
// done: deleting is idempotent.
func (a *Adapter) DeleteNotice(ctx context.Context, channelID, messageID string) error {
	if channelID == "" || messageID == "" {
		return errors.New("discord: delete a notice: no channel or no message given")
	}
	err := a.do(ctx, "delete a notice", true, func(o ...discordgo.RequestOption) error {
		return a.rest.ChannelMessageDelete(channelID, messageID, o...)
	})
	if notFound(err) {
		return nil
	}
	return err
}
