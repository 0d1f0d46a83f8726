package discord

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
)

// TestBotPostsCarryANonce: messages the bot posts as itself carry a nonce
// with enforce_nonce, so a post whose answer was lost is made again without
// a second message showing.
func TestBotPostsCarryANonce(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	ch := srv.AdminChannelID
	count := func() int { return len(srv.Messages(ch)) }

	// Applied, then a 502: the retry with the same nonce returns the first.
	n := count()
	srv.ApplyThenFail("POST", "/channels/*/messages", 1, discordtest.Lost502)
	msg, err := a.PostAsBot(ctx, "say hello", ch, BotNonce("hello", "1"), &discordgo.MessageSend{Content: "hello"})
	if err != nil {
		t.Fatalf("PostAsBot after an applied-then-502: %v", err)
	}
	ms := srv.Messages(ch)
	if len(ms) != n+1 || ms[len(ms)-1].ID != msg.ID {
		t.Fatalf("%d new messages (returned %s); want the one message", len(ms)-n, msg.ID)
	}
	var body struct {
		Nonce        string `json:"nonce"`
		EnforceNonce bool   `json:"enforce_nonce"`
	}
	reqs := srv.Requests()
	if err := json.Unmarshal(reqs[len(reqs)-1].Body, &body); err != nil || body.Nonce != BotNonce("hello", "1") || !body.EnforceNonce {
		t.Errorf("request body %s: want the nonce with enforce_nonce", reqs[len(reqs)-1].Body)
	}
	// Posting again later with the same nonce shows nothing new either.
	if again, err := a.PostAsBot(ctx, "say hello", ch, BotNonce("hello", "1"), &discordgo.MessageSend{Content: "hello"}); err != nil || again.ID != msg.ID || count() != n+1 {
		t.Errorf("same nonce again: %v, %v; %d new messages", again, err, count()-n)
	}

	// A failed reply's reason shows once, even when the mark is repeated
	// after its answer was lost.
	member := srv.Type(ch, srv.AdminUserID, "to QQ")
	n = count()
	srv.ApplyThenFail("POST", "/channels/*/messages", 1, discordtest.LostDrop)
	_ = a.MarkFailed(ctx, ch, member.ID, "QQ refused it")
	if err := a.MarkFailed(ctx, ch, member.ID, "QQ refused it"); err != nil {
		t.Fatal(err)
	}
	var reasons int
	for _, m := range srv.Messages(ch)[n:] {
		if strings.Contains(m.Content, "QQ refused it") {
			reasons++
		}
	}
	if reasons != 1 {
		t.Errorf("%d reasons shown, want 1", reasons)
	}

	// An admin post with an image, retried after a lost answer, is one
	// message with the whole image.
	n = count()
	srv.ApplyThenFail("POST", "/channels/*/messages", 1, discordtest.Lost503)
	if _, err := a.PostAdmin(ctx, AdminMessage{Content: "scan this", Image: pngBytes, ImageName: "qr.png"}); err != nil {
		t.Fatal(err)
	}
	ms = srv.Messages(ch)
	if len(ms) != n+1 || len(ms[n].Attachments) != 1 || !bytes.Equal(ms[n].Attachments[0].Data, pngBytes) {
		t.Errorf("admin post: %d new messages, %+v", len(ms)-n, ms[len(ms)-1].Attachments)
	}
}
