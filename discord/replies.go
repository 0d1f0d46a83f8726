package discord

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// runQueue hands the gateway's messages, in order, to the handler.
func (a *Adapter) runQueue(ctx context.Context) {
	defer a.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-a.queue:
			a.handleEvent(ctx, ev)
		}
	}
}

// fromMember reports whether m is a message a member typed (not a bot, a
// webhook or a system message).
func (a *Adapter) fromMember(m *discordgo.Message) bool {
	if m.Author == nil || m.Author.Bot || m.Author.System || m.WebhookID != "" {
		return false
	}
	a.mu.Lock()
	bot := a.botID
	a.mu.Unlock()
	if m.Author.ID == bot {
		return false
	}
	return m.Type == discordgo.MessageTypeDefault || m.Type == discordgo.MessageTypeReply
}

func (a *Adapter) handleMessage(ctx context.Context, m *discordgo.Message) {
	if m.GuildID != "" && m.GuildID != a.opts.GuildID {
		return
	}
	if !a.fromMember(m) {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	ok, err := a.isSessionChannel(cctx, m.ChannelID)
	if err != nil {
		a.log.Warn("could not tell whether a channel is a session channel; a catch-up will retry", "channel", m.ChannelID, "err", err)
		a.askCatchUp(ctx, m.ChannelID)
		return
	}
	if !ok {
		return
	}
	allowed, err := a.allowed(cctx, m.Author.ID, m.Member)
	if err != nil {
		a.log.Warn("could not check a member's permission; a catch-up will retry", "user", m.Author.ID, "err", err)
		a.askCatchUp(ctx, m.ChannelID)
		return
	}
	if !allowed {
		a.notice(cctx, m)
		return
	}
	// A message with nothing QQ can show (a poll, an embed only) goes too:
	// the engine refuses it, and the member sees ❌ and why.
	r := toReply(m)
	if err := a.handler.HandleReply(cctx, r); err != nil {
		a.log.Warn("reply not queued; a catch-up will find it again", "message", m.ID, "err", err)
		a.askCatchUp(ctx, m.ChannelID)
		return
	}
	if len(r.Attachments) > 0 {
		a.linkNotice(cctx, m)
	}
}

// askCatchUp has the handler catch up with a channel at once (Missed, or
// Resumed for a handler that only catches up every channel), so that a
// live message of it that could not be taken in is read again from the
// history, and so that the channel's later messages wait for that read
// instead of overtaking it. It runs before the next message is handed
// over; the handler does not block, and backs off when the history cannot
// be read.
func (a *Adapter) askCatchUp(ctx context.Context, channelID string) {
	if h, ok := a.handler.(bridge.MissedHandler); ok {
		h.Missed(ctx, channelID)
		return
	}
	a.handler.Resumed(ctx)
}

func toReply(m *discordgo.Message) bridge.Reply {
	r := bridge.Reply{
		ChannelID: m.ChannelID,
		MessageID: m.ID,
		AuthorID:  m.Author.ID,
		Content:   ReplyText(m),
		Time:      m.Timestamp,
	}
	r.AuthorName = m.Author.GlobalName
	if m.Member != nil && m.Member.Nick != "" {
		r.AuthorName = m.Member.Nick
	}
	if r.AuthorName == "" {
		r.AuthorName = m.Author.Username
	}
	for _, at := range m.Attachments {
		if at != nil && at.URL != "" {
			r.AttachmentURLs = append(r.AttachmentURLs, at.URL)
		}
	}
	if m.MessageReference != nil {
		r.ReplyTo = m.MessageReference.MessageID
	}
	addReplyDetails(m, &r)
	return r
}

var customEmoji = regexp.MustCompile(`<a?(:[A-Za-z0-9_~]+:)[0-9]+>`)

// ReplyText is the text of a member's message as QQ should get it: user
// mentions become "@name", custom emojis ":name:", and stickers
// "[sticker: name]".
func ReplyText(m *discordgo.Message) string {
	text := m.Content
	for _, u := range m.Mentions {
		if u == nil {
			continue
		}
		name := u.GlobalName
		if name == "" {
			name = u.Username
		}
		text = strings.NewReplacer("<@"+u.ID+">", "@"+name, "<@!"+u.ID+">", "@"+name).Replace(text)
	}
	text = customEmoji.ReplaceAllString(text, "$1")
	for _, st := range m.StickerItems {
		if st != nil {
			text = strings.TrimSpace(text + " [sticker: " + st.Name + "]")
		}
	}
	return text
}

// notice tells a member who may not reply so, at most once per
// NoticeInterval per member and channel.
func (a *Adapter) notice(ctx context.Context, m *discordgo.Message) {
	key := m.Author.ID + "/" + m.ChannelID
	a.mu.Lock()
	last, seen := a.notices[key]
	if seen && time.Since(last) < a.opts.NoticeInterval {
		a.mu.Unlock()
		return
	}
	a.notices[key] = time.Now()
	for k, t := range a.notices { // keep the map small
		if time.Since(t) > a.opts.NoticeInterval {
			delete(a.notices, k)
		}
	}
	a.mu.Unlock()
	who := "members with the Manage Server permission"
	if a.opts.AdminRoleID != "" {
		who = "members with the bridge's admin role"
	}
	text := fmt.Sprintf("Your message was not sent to QQ: only %s can reply here.", who)
	_, err := a.PostAsBot(ctx, "send a notice", m.ChannelID, BotNonce("notice", m.ChannelID, m.ID), &discordgo.MessageSend{
		Content:         text,
		Reference:       &discordgo.MessageReference{MessageID: m.ID, ChannelID: m.ChannelID, FailIfNotExists: new(false)},
		AllowedMentions: noMentions(),
	})
	if err != nil {
		a.log.Warn("could not send a notice", "channel", m.ChannelID, "err", err)
	}
}

// RepliesAfter implements bridge.Discord. It reads at most 5000 messages,
// at most catchUpReadRate pages a second with the other calls' reads.
func (a *Adapter) RepliesAfter(ctx context.Context, channelID, afterID string) ([]bridge.Reply, error) {
	msgs, err := a.history(ctx, channelID, afterID, 50, true) // paced: catchuppace.go
	if err != nil {
		return nil, err
	}
	var out []bridge.Reply
	for _, m := range msgs {
		if !a.fromMember(m) {
			continue
		}
		ok, err := a.allowed(ctx, m.Author.ID, nil)
		if err != nil {
			return nil, err
		}
		if ok {
			if m.ChannelID == "" {
				m.ChannelID = channelID
			}
			out = append(out, toReply(m)) // an empty one is refused with ❌ and why
		}
	}
	return out, nil
}

// MarkDelivered implements bridge.Discord: it reacts with ✅ and takes off
// the bot's ❌ of an earlier failure (a reply delivered by /retry).
func (a *Adapter) MarkDelivered(ctx context.Context, channelID, messageID string) error {
	if err := a.do(ctx, "mark a reply delivered", true, func(o ...discordgo.RequestOption) error {
		return a.rest.MessageReactionAdd(channelID, messageID, "✅", o...)
	}); err != nil {
		return err
	}
	return a.unmarkFailed(ctx, channelID, messageID)
}

// MarkFailed implements bridge.Discord: it reacts with ❌ and replies with
// the reason.
func (a *Adapter) MarkFailed(ctx context.Context, channelID, messageID, reason string) error {
	err := a.do(ctx, "mark a reply failed", true, func(o ...discordgo.RequestOption) error {
		return a.rest.MessageReactionAdd(channelID, messageID, "❌", o...)
	})
	if err != nil {
		return err
	}
	if reason == "" {
		reason = "unknown error"
	}
	text := clip("Not sent to QQ: "+NeutraliseMentions(stripControl(reason)), 1900)
	// The nonce makes a repeated mark (its answer lost) show one reason.
	_, err = a.PostAsBot(ctx, "explain a failed reply", channelID, BotNonce("failed", channelID, messageID), &discordgo.MessageSend{
		Content:         text,
		Reference:       &discordgo.MessageReference{MessageID: messageID, ChannelID: channelID, FailIfNotExists: new(false)},
		AllowedMentions: noMentions(),
	})
	return err
}
