package discord

import (
	"context"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// addReplyDetails fills what a reply carries beyond its text: the message
// it answers (as a short quote), its files (name, size, link), and, when
// it holds nothing QQ can take, what it held.
func addReplyDetails(m *discordgo.Message, r *bridge.Reply) {
	if rm := m.ReferencedMessage; rm != nil {
		r.Quote = &bridge.Quote{Nick: quoteNick(rm), Text: quoteText(rm)}
	}
	for _, at := range m.Attachments {
		if at != nil && at.URL != "" {
			r.Attachments = append(r.Attachments, bridge.Attachment{Name: at.Filename, Size: int64(at.Size), URL: at.URL})
		}
	}
	if !isBlank(r.Content) || len(r.Attachments) > 0 {
		return
	}
	switch {
	case m.Poll != nil:
		r.Unsendable = "a poll"
	case len(m.Embeds) > 0:
		r.Unsendable = "an embed"
	case len(m.Components) > 0:
		r.Unsendable = "buttons or menus"
	}
}

// quoteNick is who wrote the answered message: the QQ nick of a relayed
// one (its webhook name without the owner's mark), else the member's name.
func quoteNick(rm *discordgo.Message) string {
	if rm.Author == nil {
		return ""
	}
	if rm.WebhookID != "" {
		name := strings.ReplaceAll(rm.Author.Username, "\u200c", "")
		return strings.TrimSuffix(name, " (you, from QQ)")
	}
	if rm.Member != nil && rm.Member.Nick != "" {
		return rm.Member.Nick
	}
	if rm.Author.GlobalName != "" {
		return rm.Author.GlobalName
	}
	return rm.Author.Username
}

// quoteText is the answered message's text, or what it showed.
func quoteText(rm *discordgo.Message) string {
	if t := strings.TrimSpace(ReplyText(rm)); t != "" {
		return t
	}
	for _, e := range rm.Embeds {
		if e == nil {
			continue
		}
		switch {
		case e.Image != nil || strings.HasPrefix(e.Title, "🖼️"):
			return "[image]"
		case strings.HasPrefix(e.Title, "🎬"):
			return "[video]"
		case e.Title != "":
			return "[" + e.Title + "]"
		}
	}
	for _, at := range rm.Attachments {
		if at != nil {
			if strings.HasPrefix(at.ContentType, "image/") {
				return "[image]"
			}
			if strings.HasPrefix(at.ContentType, "video/") {
				return "[video]"
			}
			return "[file " + at.Filename + "]"
		}
	}
	return ""
}

// linkNotice tells the channel, once, that QQ receives attachments as
// links to Discord that expire.
func (a *Adapter) linkNotice(ctx context.Context, m *discordgo.Message) {
	if _, told := a.linkNoticed.LoadOrStore(m.ChannelID, true); told {
		return
	}
	_, err := a.PostAsBot(ctx, "tell that QQ gets links", m.ChannelID, BotNonce("links", m.ChannelID, m.ID), &discordgo.MessageSend{
		Content: "📎 QQ Music has no upload for private messages: the peer receives attachments as links (with name and size), " +
			"and Discord's links expire after about a day.",
		Reference:       &discordgo.MessageReference{MessageID: m.ID, ChannelID: m.ChannelID, FailIfNotExists: new(false)},
		AllowedMentions: noMentions(),
	})
	if err != nil {
		a.linkNoticed.Delete(m.ChannelID) // tell at the next one
		a.log.Warn("could not tell that QQ gets links", "channel", m.ChannelID, "err", err)
	}
}
