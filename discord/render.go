package discord

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// Discord's embed limits.
const (
	maxEmbedTitle       = 256
	maxEmbedDescription = 4096
	maxEmbedFields      = 25
	maxFieldName        = 256
	maxFieldValue       = 1024
	maxEmbedTotal       = 6000
)

// outMessage is one Discord message a QQ message becomes.
type outMessage struct {
	Content string
	Embeds  []*discordgo.MessageEmbed
}

// render turns a QQ message into the Discord messages that show it, in
// order: its text split to fit (mentions neutralised), then, on the last
// one, an embed for an image, a video, a card or an unknown type. It never
// returns an empty list: a message with nothing to show says so.
func render(m bridge.Message) []outMessage {
	var embed *discordgo.MessageEmbed
	text := m.Text
	switch m.Kind {
	case bridge.KindText:
	case bridge.KindImage:
		embed = mediaEmbed("🖼️ Image", m.Media)
	case bridge.KindVideo:
		embed = mediaEmbed("🎬 Video", m.Media)
	case bridge.KindCard:
		embed = cardEmbed(m)
	default:
		embed = withLinks(unknownEmbed(m), m.Fields)
	}
	var out []outMessage
	for _, part := range SplitContent(NeutraliseMentions(text), MaxContent) {
		out = append(out, outMessage{Content: part})
	}
	if embed != nil {
		if len(out) == 0 {
			out = append(out, outMessage{})
		}
		out[len(out)-1].Embeds = []*discordgo.MessageEmbed{embed}
	}
	if len(out) == 0 {
		out = append(out, outMessage{Content: "*(empty QQ message)*"})
	}
	return out
}

// httpURL returns u when it is an absolute http(s) URL Discord accepts in an
// embed, else "".
func httpURL(u string) string {
	p, err := url.Parse(strings.TrimSpace(u))
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || len(u) > 2048 {
		return ""
	}
	return p.String()
}

func mediaEmbed(title string, m *bridge.Media) *discordgo.MessageEmbed {
	e := &discordgo.MessageEmbed{Title: title}
	if m == nil {
		e.Description = "(QQ sent no link for it)"
		return e
	}
	var facts []string
	if m.Width > 0 && m.Height > 0 {
		facts = append(facts, fmt.Sprintf("%d×%d", m.Width, m.Height))
	}
	if m.Duration > 0 {
		facts = append(facts, m.Duration.Round(time.Second).String())
	}
	if m.Size > 0 {
		facts = append(facts, humanSize(m.Size))
	}
	u := httpURL(m.URL)
	switch {
	case u == "" && m.URL != "":
		facts = append(facts, "link: "+m.URL)
	case u == "":
		facts = append(facts, "(QQ sent no link for it)")
	default:
		e.URL = u
		if title == "🖼️ Image" {
			e.Image = &discordgo.MessageEmbedImage{URL: u}
		}
	}
	e.Description = clip(NeutraliseMentions(strings.Join(facts, " · ")), maxEmbedDescription)
	return e
}

func unknownEmbed(m bridge.Message) *discordgo.MessageEmbed {
	e := &discordgo.MessageEmbed{
		Title:       fmt.Sprintf("Unsupported QQ message (type %d)", m.Type),
		Description: "The bridge cannot show this kind of message; here is what it carried.",
	}
	total := textLen(e.Title) + textLen(e.Description)
	for _, f := range m.Fields {
		if len(e.Fields) == maxEmbedFields {
			break
		}
		name := clip(NeutraliseMentions(strings.TrimSpace(f.Name)), maxFieldName)
		value := clip(NeutraliseMentions(strings.TrimSpace(f.Value)), maxFieldValue)
		if name == "" {
			name = "(field)"
		}
		if value == "" {
			value = "(empty)"
		}
		if total+textLen(name)+textLen(value) > maxEmbedTotal {
			break
		}
		total += textLen(name) + textLen(value)
		e.Fields = append(e.Fields, &discordgo.MessageEmbedField{Name: name, Value: value})
	}
	if len(m.Fields) == 0 {
		e.Description = "The bridge cannot show this kind of message, and it carried no fields."
	}
	return e
}

// clip cuts s to max (UTF-16 units), marking the cut with an ellipsis.
func clip(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if textLen(s) <= max {
		return s
	}
	return s[:prefixWithin(s, max-1)] + "…"
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}
