package discord

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// noticeBody is a bot message with a nonce Discord enforces: a second
// create with the same nonce from the same author within a few minutes
// returns the first message instead of posting again. discordgo's
// MessageSend has no nonce, so the body is written here.
type noticeBody struct {
	Content         string                            `json:"content"`
	Nonce           string                            `json:"nonce"`
	EnforceNonce    bool                              `json:"enforce_nonce"`
	AllowedMentions *discordgo.MessageAllowedMentions `json:"allowed_mentions"`
}

// PostNotice implements bridge.Discord: it posts text as the bot into a
// session channel (or forum post), never pinging anybody. The nonce makes
// the call idempotent, so a lost answer may be retried.
func (a *Adapter) PostNotice(ctx context.Context, ref bridge.ChannelRef, nonce, text string) (string, error) {
	if ref.ChannelID == "" {
		return "", errors.New("discord: post a notice: no channel given")
	}
	if nonce == "" || len(nonce) > 25 {
		return "", errors.New("discord: post a notice: the nonce must have 1 to 25 characters")
	}
	if err := a.holdIfPublic(ctx, ref); err != nil {
		return "", err // nothing posted; it waits (privacy_hold.go)
	}
	body := noticeBody{
		Content:         clip(NeutraliseMentions(stripControlKeepLines(text)), 2000),
		Nonce:           nonce,
		EnforceNonce:    true,
		AllowedMentions: noMentions(),
	}
	var id string
	err := a.do(ctx, "post a notice", true, func(o ...discordgo.RequestOption) error {
		raw, err := a.rest.RequestWithBucketID("POST", discordgo.EndpointChannelMessages(ref.ChannelID), body,
			discordgo.EndpointChannelMessages(ref.ChannelID), o...)
		if err != nil {
			return err
		}
		var m discordgo.Message
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		id = m.ID
		return nil
	})
	if err != nil {
		return "", channelGone(err)
	}
	return id, nil
}

// stripControlKeepLines is stripControl that keeps line breaks.
func stripControlKeepLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = stripControl(l)
	}
	return strings.Join(lines, "\n")
}
