package bridge_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// A bridge killed while it re-opens an archived session (its fresh channel
// made but not recorded, with or without the notice of its earlier
// messages posted) shows, after its restart, one channel that starts with
// that notice once, then the new message once, even though Discord no
// longer remembers the notice's nonce.
func TestCrashWhileReopeningWithRealAdapters(t *testing.T) {
	for _, point := range []string{"after-ensure-channel", "after-opening-notice"} {
		t.Run(point, func(t *testing.T) {
			w := newCrashWorld(t)
			w.dc.UpdateChannel(w.dc.AdminChannelID, func(c *discordtest.Channel) {
				c.PermissionOverwrites = append(c.PermissionOverwrites, discordtest.Overwrite{ID: w.dc.GuildID, Deny: discordtest.PermViewChannel})
			})
			w.start()
			sid := w.qq.AddSession(w.qq.AddUser(qqtest.User{Nick: "Phoenix"}))
			for _, text := range []string{"one", "two"} {
				if _, err := w.qq.Deliver(sid, qqtest.Text(text)); err != nil {
					t.Fatal(err)
				}
			}
			w.eventually("the first messages posted", func() bool { return w.posted(sid) == "one,two" })
			if _, err := w.p.e.Archive(context.Background(), sid, "archived by the test"); err != nil {
				t.Fatal(err)
			}
			if n := len(w.channels(sid)); n != 0 {
				t.Fatalf("%d channels after the archive", n)
			}

			w.p.arm(point)
			if _, err := w.qq.Deliver(sid, qqtest.Text("back again")); err != nil {
				t.Fatal(err)
			}
			select {
			case <-w.p.fired:
			case <-time.After(2 * time.Minute):
				t.Fatalf("the bridge never reached %s", point)
			}
			w.kill()
			w.dc.ForgetNonces() // the restart comes after Discord's few minutes
			w.start()

			w.eventually("the new message posted", func() bool { return w.posted(sid) == "back again" })
			chs := w.channels(sid)
			if len(chs) != 1 {
				t.Fatalf("%d channels for the session; want its one new channel", len(chs))
			}
			var order []string
			for _, m := range w.dc.Messages(chs[0].ID) {
				if m.WebhookID != "" {
					order = append(order, m.Content)
					continue
				}
				order = append(order, "notice")
				if !strings.Contains(m.Content, "— one\n") || !strings.Contains(m.Content, "— two\n") || strings.Contains(m.Content, "back again") {
					t.Errorf("the notice does not quote exactly the earlier messages:\n%s", m.Content)
				}
			}
			if got := strings.Join(order, ","); got != "notice,back again" {
				t.Errorf("the new channel shows %s; want the notice once, then the new message", got)
			}
		})
	}
}
