package discord

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// renderedVersion is the version of the recorded rendering this adapter
// writes. A later version may read older ones; it never re-renders them.
const renderedVersion = 1

// recorded is what a bridge.Rendered holds: exactly the webhook posts a QQ
// message became, as first attempted. The engine stores it before the
// first attempt; later attempts post it again as is, and FindPosted looks
// for it in the channel, so a change of rendering between versions (or a
// re-rendering of changed data) never makes the bridge post twice.
type recorded struct {
	V        int          `json:"v"`
	QQID     string       `json:"qq_id,omitempty"` // for errors and logs
	Username string       `json:"username"`
	Avatar   string       `json:"avatar,omitempty"`
	Parts    []recordPart `json:"parts"`
}

type recordPart struct {
	Content string                    `json:"content,omitempty"`
	Embeds  []*discordgo.MessageEmbed `json:"embeds,omitempty"`
	// File, when set, is a QQ picture or video to download and upload
	// with the part at post time (see media.go); Embeds then hold the
	// link shown instead when it cannot be uploaded.
	File *recordFile `json:"file,omitempty"`
}

// Render implements bridge.Discord: it renders m into the webhook posts
// that show it (see render) and records them as versioned JSON.
func (a *Adapter) Render(m bridge.Message) (bridge.Rendered, error) {
	r := recorded{
		V:        renderedVersion,
		QQID:     m.ID,
		Username: WebhookUsername(m.Sender.Nick, m.Sender.UIN, m.FromOwner),
		Avatar:   httpURL(m.Sender.AvatarURL),
	}
	for _, p := range render(m) {
		r.Parts = append(r.Parts, recordPart{Content: p.Content, Embeds: p.Embeds})
	}
	recordMedia(m, r.Parts)
	b, err := json.Marshal(r)
	if err != nil {
		return nil, bridge.Permanent(fmt.Errorf("discord: render QQ message %s: %w", m.ID, err))
	}
	return b, nil
}

// decodeRendered reads a recorded rendering. One this adapter cannot read
// is a permanent failure: posting something else would not be what was
// recorded.
func decodeRendered(b bridge.Rendered) (recorded, error) {
	var r recorded
	if len(b) == 0 {
		return r, bridge.Permanent(errors.New("discord: the recorded rendering is empty; the message cannot be posted as recorded"))
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, bridge.Permanent(fmt.Errorf("discord: the recorded rendering cannot be read (%v); the message cannot be posted as recorded", err))
	}
	if r.V != renderedVersion {
		return r, bridge.Permanent(fmt.Errorf("discord: the recorded rendering has version %d, this bridge reads version %d; run the bridge version that recorded it, or skip the message", r.V, renderedVersion))
	}
	if len(r.Parts) == 0 {
		return r, bridge.Permanent(errors.New("discord: the recorded rendering has no parts; the message cannot be posted as recorded"))
	}
	return r, nil
}
