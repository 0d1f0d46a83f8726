package bridge_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// On the wire: Discord refuses one QQ message's post for good (HTTP 400).
// A placeholder says so in the session channel; once the cause is gone, an
// admin's /retry delivers the message once, and the placeholder goes. With
// restart, the bridge stops between the delivery and the removal (Discord
// put off the first deletion with a long rate limit): the next start
// removes it.
func TestIntegrationPlaceholderGoneAfterRetry(t *testing.T) {
	for _, restart := range []bool{false, true} {
		name := "live"
		if restart {
			name = "restart between delivery and removal"
		}
		t.Run(name, func(t *testing.T) {
			w := &world{t: t}
			w.qq = qqtest.New(qqtest.WithAccount(owner))
			t.Cleanup(w.qq.Close)
			w.dc = discordtest.New(discordtest.WithHeartbeatInterval(100 * time.Millisecond))
			t.Cleanup(w.dc.Close)
			sid := w.qq.AddSession(w.qq.AddUser(qqtest.User{Nick: "Poison Peer"}))
			dir := t.TempDir()
			// Back-offs long enough for the test to stop the bridge while
			// the removal waits for its second try.
			short := func(c *bridge.EngineConfig) {
				c.ShutdownGrace, c.RetryBase, c.MaxBackoff = 100*time.Millisecond, 4*time.Second, 8*time.Second
			}
			e, stop := runEngineWith(t, w.qq, w.dc, dir, short)
			ctx := context.Background()

			w.deliver(sid, "before the poison")
			var ch discordtest.Channel
			w.eventually("the first message", func() bool {
				var ok bool
				ch, ok = w.channelOf(sid)
				return ok && contents(w.posted(ch.ID)) == "before the poison"
			})
			w.dc.FailRoute("POST", "/webhooks/*/*", 1, 400)
			w.deliver(sid, "the poison")
			w.deliver(sid, "after it")
			var placeholder discordtest.Message
			w.eventually("the placeholder", func() bool {
				for _, m := range w.dc.Messages(ch.ID) {
					if m.Author.ID == w.dc.BotUserID && strings.Contains(m.Content, "could not be shown") {
						placeholder = m
						return true
					}
				}
				return false
			})
			if !strings.Contains(placeholder.Content, "Poison Peer") || !strings.Contains(placeholder.Content, "/retry") {
				t.Errorf("placeholder = %q", placeholder.Content)
			}
			w.eventually("the rest of the session", func() bool {
				return contents(w.posted(ch.ID)) == "before the poison|after it"
			})
			var es []bridge.OutboxEntry
			w.eventually("/outbox to list the parked message alone", func() bool {
				var err error
				es, err = e.Outbox(ctx, "", 0)
				return err == nil && len(es) == 1 && es[0].Status == bridge.StatusParked && strings.Contains(es[0].Summary, "the poison")
			})

			if restart {
				// Discord puts off the first deletion for longer than
				// the bridge waits: it tries again later.
				w.dc.RateLimitRoute("DELETE", "/channels/*/messages/*", 1, 10*time.Minute)
			}
			if n, err := e.Retry(ctx, es[0].ID); err != nil || n != 1 {
				t.Fatalf("Retry = %d, %v", n, err)
			}
			w.eventually("the retried message", func() bool {
				return strings.Contains(contents(w.posted(ch.ID)), "the poison")
			})
			if restart {
				w.eventually("the first deletion", func() bool { return w.dc.Count429() == 1 })
				stop()
				if _, ok := w.dc.Message(ch.ID, placeholder.ID); !ok {
					t.Fatal("the placeholder was removed before the restart: the test did not restart in between")
				}
				e, _ = runEngineWith(t, w.qq, w.dc, dir, short)
			}
			w.eventually("the placeholder to go", func() bool {
				_, ok := w.dc.Message(ch.ID, placeholder.ID)
				return !ok
			})
			if got := contents(w.posted(ch.ID)); got != "before the poison|after it|the poison" {
				t.Errorf("channel = %s, want the retried message once, after the rest", got)
			}
			if n := len(w.notices(ch.ID)); n != 0 {
				t.Errorf("bridge notices left in the channel: %q", w.notices(ch.ID))
			}
			if es, err := e.Outbox(ctx, "", 0); err != nil || len(es) != 0 {
				t.Errorf("/outbox after the retry = %+v, %v", es, err)
			}
		})
	}
}
