package discord

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// qqWeb is where a card's relative link points.
const qqWeb = "https://y.qq.com"

// cardFields are the fields a card's embed already shows in its title,
// description, link and cover.
var cardFields = map[string]bool{"msg_type": true, "title": true, "content": true, "pic": true, "url": true}

// cardEmbed shows a QQ card (a song, playlist, album, profile, or any
// message carrying a title or link): its title, description, cover and a
// link to y.qq.com, the other fields it carried, and its message type in
// the footer, since QQ documents no card type.
func cardEmbed(m bridge.Message) *discordgo.MessageEmbed {
	footer := &discordgo.MessageEmbedFooter{Text: fmt.Sprintf("QQ Music card · msg_type %d", m.Type)}
	c := m.Card
	if c == nil {
		return &discordgo.MessageEmbed{Title: "🎵 Card", Description: "(the card carried nothing)", Footer: footer}
	}
	e := &discordgo.MessageEmbed{
		Title:       clip(NeutraliseMentions(strings.TrimSpace(c.Title)), maxEmbedTitle),
		Description: clip(NeutraliseMentions(c.Description), maxEmbedDescription),
		URL:         cardURL(c.URL),
		Footer:      footer,
	}
	if e.Title == "" {
		e.Title = "🎵 Card"
	}
	if cover := cardURL(c.CoverURL); cover != "" {
		e.Thumbnail = &discordgo.MessageEmbedThumbnail{URL: cover}
	} else if c.CoverURL != "" {
		e.Description = clip(e.Description+"\ncover: "+NeutraliseMentions(c.CoverURL), maxEmbedDescription)
	}
	if e.URL == "" && c.URL != "" {
		e.Description = clip(e.Description+"\n"+NeutraliseMentions(c.URL), maxEmbedDescription)
	}
	total := textLen(e.Title) + textLen(e.Description) + textLen(footer.Text)
	for _, f := range m.Fields {
		if cardFields[f.Name] || len(e.Fields) == maxEmbedFields {
			continue
		}
		name := clip(NeutraliseMentions(strings.TrimSpace(f.Name)), maxFieldName)
		value := clip(NeutraliseMentions(strings.TrimSpace(f.Value)), maxFieldValue)
		if name == "" || value == "" || total+textLen(name)+textLen(value) > maxEmbedTotal {
			continue
		}
		total += textLen(name) + textLen(value)
		e.Fields = append(e.Fields, &discordgo.MessageEmbedField{Name: name, Value: value, Inline: true})
	}
	return e
}

// cardURL makes a card's link absolute: an http(s) URL as is, a
// scheme-less "y.qq.com/..." with https, a path on y.qq.com; else "" (the
// caller shows the text).
func cardURL(raw string) string {
	raw = strings.TrimSpace(raw)
	switch {
	case raw == "":
		return ""
	case strings.HasPrefix(raw, "//"):
		return httpURL("https:" + raw)
	case strings.HasPrefix(raw, "/"):
		return httpURL(qqWeb + raw)
	}
	if u, err := url.Parse(raw); err == nil && u.Scheme == "" && (u.Host == "" && strings.Contains(strings.SplitN(raw, "/", 2)[0], ".qq.com")) {
		return httpURL("https://" + raw)
	}
	return httpURL(raw)
}

// withLinks gives an unknown message's embed the link and picture among
// its fields, so that it shows like a card while still listing every
// field and naming its type.
func withLinks(e *discordgo.MessageEmbed, fields []bridge.Field) *discordgo.MessageEmbed {
	for _, f := range fields {
		switch f.Name {
		case "url":
			if u := cardURL(f.Value); u != "" && e.URL == "" {
				e.URL = u
			}
		case "pic":
			if u := cardURL(f.Value); u != "" && e.Thumbnail == nil {
				e.Thumbnail = &discordgo.MessageEmbedThumbnail{URL: u}
			}
		}
	}
	return e
}
