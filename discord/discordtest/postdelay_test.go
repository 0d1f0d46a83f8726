package discordtest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

// postCtx sends a raw POST with ctx and returns the status (0: no answer).
func postCtx(ctx context.Context, s *Server, path, body string) int {
	req, _ := http.NewRequestWithContext(ctx, "POST", s.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bot "+s.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestSetPostDelaySlowsOneChannel: posts into the slowed channel (bot
// message, webhook execute, webhook execute into a thread) are held; a
// client that gives up gets nothing stored; posts elsewhere and reads of
// the slowed channel are served at once; a finite delay stores the post
// after at least that long; a delay of 0 makes the channel fast again.
func TestSetPostDelaySlowsOneChannel(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dg := session(t, s)
	text := s.AddChannel(Channel{Type: ChannelTypeText, Name: "slow"})
	other := s.AddChannel(Channel{Type: ChannelTypeText, Name: "fast"})
	forum := s.AddChannel(Channel{Type: ChannelTypeForum, Name: "inbox"})
	wh, err := dg.WebhookCreate(text, "bridge", "")
	if err != nil {
		t.Fatal(err)
	}
	owh, err := dg.WebhookCreate(other, "bridge", "")
	if err != nil {
		t.Fatal(err)
	}
	fwh, err := dg.WebhookCreate(forum, "bridge", "")
	if err != nil {
		t.Fatal(err)
	}
	th, err := dg.ForumThreadStartComplex(forum, &discordgo.ThreadStart{Name: "Alice"}, &discordgo.MessageSend{Content: "first"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, slowed, path, fastPath string
	}{
		{"bot message", text, "/api/v9/channels/" + text + "/messages", "/api/v9/channels/" + other + "/messages"},
		{"webhook execute", text, "/api/v9/webhooks/" + wh.ID + "/" + wh.Token + "?wait=true", "/api/v9/webhooks/" + owh.ID + "/" + owh.Token + "?wait=true"},
		{"webhook execute in a thread", th.ID, "/api/v9/webhooks/" + fwh.ID + "/" + fwh.Token + "?wait=true&thread_id=" + th.ID, "/api/v9/channels/" + other + "/messages"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(s.Messages(c.slowed))
			s.SetPostDelay(c.slowed, time.Minute)
			ctx, cancel := context.WithCancel(ctxT(t))
			held := make(chan int, 1)
			go func() { held <- postCtx(ctx, s, c.path, `{"content":"held"}`) }()
			if st := postCtx(ctxT(t), s, c.fastPath, `{"content":"elsewhere"}`); st != http.StatusOK {
				t.Fatalf("a post into another channel: status %d", st)
			}
			if _, err := dg.ChannelMessages(c.slowed, 10, "", "", ""); err != nil {
				t.Fatalf("reading the slowed channel: %v", err)
			}
			if n := len(s.Messages(c.slowed)); n != before {
				t.Fatalf("%d messages stored while the post is held, want %d", n, before)
			}
			cancel()
			if st := <-held; st != 0 {
				t.Fatalf("the held post was answered %d before its client gave up", st)
			}
			if n := len(s.Messages(c.slowed)); n != before {
				t.Fatalf("an abandoned post stored something: %d messages, want %d", n, before)
			}

			const d = 30 * time.Millisecond
			s.SetPostDelay(c.slowed, d)
			start := time.Now()
			if st := postCtx(ctxT(t), s, c.path, `{"content":"slow"}`); st != http.StatusOK {
				t.Fatalf("a slowed post: status %d", st)
			}
			if took := time.Since(start); took < d {
				t.Fatalf("a post slowed by %v was answered in %v", d, took)
			}
			if n := len(s.Messages(c.slowed)); n != before+1 {
				t.Fatalf("%d messages after the slowed post, want %d", n, before+1)
			}
			s.SetPostDelay(c.slowed, 0)
			if st := postCtx(ctxT(t), s, c.path, `{"content":"fast again"}`); st != http.StatusOK {
				t.Fatalf("after SetPostDelay(0): status %d", st)
			}
		})
	}
}
