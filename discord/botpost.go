package discord

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/bwmarrin/discordgo"
)

// nonceLen is the longest nonce Discord accepts.
const nonceLen = 25

var nonceEnc = base32.StdEncoding.WithPadding(base32.NoPadding)

// BotNonce returns the nonce of a bot-user post about what parts name
// (e.g. "notice" and the member's message id): the same parts always give
// the same nonce, so a post whose answer was lost can be made again and
// Discord returns the first message instead of a second one.
func BotNonce(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return strings.ToLower(nonceEnc.EncodeToString(h[:]))[:nonceLen]
}

// randomNonce is a nonce for a post that is not about anything in
// particular: it makes the post's own retries safe.
func randomNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(nonceEnc.EncodeToString(b[:]))[:nonceLen]
}

// botMessage is a message create with the fields discordgo's MessageSend
// lacks.
type botMessage struct {
	*discordgo.MessageSend
	Nonce        string `json:"nonce,omitempty"`
	EnforceNonce bool   `json:"enforce_nonce,omitempty"`
}

// PostAsBot posts m into channelID as the bot user, with nonce and
// enforce_nonce. Within a few minutes Discord answers a second post with
// the same nonce with the first message, so the post is safe to repeat: a
// lost answer (a 5xx, a time-out, a dropped connection) is retried like an
// idempotent call, and a caller may post again with the same nonce later.
// With an empty nonce it is an ordinary post, and a lost answer is
// reported as bridge.ErrAmbiguous. what names the post in errors.
func (a *Adapter) PostAsBot(ctx context.Context, what, channelID, nonce string, m *discordgo.MessageSend) (*discordgo.Message, error) {
	if channelID == "" || m == nil {
		return nil, errors.New("discord: PostAsBot: no channel or no message")
	}
	if len(nonce) > nonceLen {
		return nil, fmt.Errorf("discord: PostAsBot: nonce %q is longer than Discord's %d characters", nonce, nonceLen)
	}
	send := *m
	for _, e := range send.Embeds {
		if e.Type == "" {
			e.Type = discordgo.EmbedTypeRich
		}
	}
	body := botMessage{MessageSend: &send, Nonce: nonce, EnforceNonce: nonce != ""}
	endpoint := discordgo.EndpointChannelMessages(channelID)
	// The body is built once: file readers are read once, and every
	// attempt sends the same bytes.
	ct, b := "application/json", []byte(nil)
	var err error
	if len(send.Files) > 0 {
		ct, b, err = discordgo.MultipartBodyWithJSON(body, send.Files)
	} else {
		b, err = json.Marshal(body)
	}
	if err != nil {
		return nil, fmt.Errorf("discord: %s: %w", what, err)
	}
	var msg *discordgo.Message
	err = a.do(ctx, what, nonce != "", func(o ...discordgo.RequestOption) error {
		resp, err := a.rest.RequestRaw("POST", endpoint, ct, b, endpoint, 0, o...)
		if err != nil {
			return err
		}
		msg = &discordgo.Message{}
		if err := json.Unmarshal(resp, msg); err != nil {
			return fmt.Errorf("discord: %s: the answer cannot be read: %w", what, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if msg.ID == "" {
		return nil, fmt.Errorf("discord: %s: Discord returned no message", what)
	}
	return msg, nil
}
