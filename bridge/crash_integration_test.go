package bridge_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/qqport"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// These tests kill the bridge at each step boundary while it runs with the
// real adapters against qqtest and discordtest, start a new one on the same
// database, and check what a user sees: every QQ message in its Discord
// channel once and in order, every reply at QQ once and marked delivered,
// one channel per session. Reconciliation here goes through the real
// adapters (the Discord channel history, QQ's client_key echo), not fakes.

// crashProc is one run of the bridge: store, QQ client, Discord adapter
// and engine, as one process would hold them.
type crashProc struct {
	st   *store.Store
	ad   *discord.Adapter
	e    *bridge.Engine
	stop context.CancelFunc
	done chan struct{}

	armed    atomic.Pointer[string]
	dead     atomic.Bool
	fired    chan struct{}
	fireOnce sync.Once
	release  chan struct{}
}

func (p *crashProc) die() {
	p.dead.Store(true)
	p.fireOnce.Do(func() { close(p.fired) })
}

// hook freezes the goroutine that reaches the armed step boundary, and any
// that reaches a boundary after it, until the process is killed; then the
// step is abandoned without another write.
func (p *crashProc) hook(point string) error {
	if !p.dead.Load() {
		armed := p.armed.Load()
		if armed == nil || *armed != point || !p.armed.CompareAndSwap(armed, nil) {
			return nil
		}
		p.die()
	}
	<-p.release
	return bridge.ErrSimulatedCrash
}

func (p *crashProc) arm(point string) { p.armed.Store(&point) }

type crashWorld struct {
	t   *testing.T
	qq  *qqtest.Server
	dc  *discordtest.Server
	dir string
	p   *crashProc
}

func newCrashWorld(t *testing.T) *crashWorld {
	t.Helper()
	w := &crashWorld{t: t, dir: t.TempDir()}
	w.qq = qqtest.New(qqtest.WithAccount(owner), qqtest.WithMaxPageSizes(20, 3))
	t.Cleanup(w.qq.Close)
	w.dc = discordtest.New(discordtest.WithHeartbeatInterval(100 * time.Millisecond))
	t.Cleanup(w.dc.Close)
	t.Cleanup(func() {
		if w.p != nil {
			w.kill()
		}
	})
	return w
}

// start starts a bridge process on the world's files.
func (w *crashWorld) start() {
	w.t.Helper()
	p := &crashProc{fired: make(chan struct{}), release: make(chan struct{})}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(w.dir, "bridge.db"))
	if err != nil {
		w.t.Fatal(err)
	}
	client, err := ownerClient(w.qq, w.dir)
	if err != nil {
		w.t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ad, err := discord.New(discord.Options{
		Token: w.dc.Token, GuildID: w.dc.GuildID, AdminChannelID: w.dc.AdminChannelID, APIURL: w.dc.APIURL(),
		Logger: quiet, WatchdogInterval: 50 * time.Millisecond, HeartbeatTimeout: time.Second,
		ReconnectBackoff: 20 * time.Millisecond, MaxReconnectBackoff: 200 * time.Millisecond,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	wst, wqq, wdc := bridge.WithStepHook(st, qqport.New(client), ad, p.hook)
	e := bridge.NewEngine(bridge.EngineConfig{
		PollInterval: 50 * time.Millisecond, IdlePollInterval: 50 * time.Millisecond, Backfill: 20,
		RetryBase: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		ArchivePlace: bridge.WithArchiveStepHook(ad, p.hook),
	}, wst, wqq, wdc, quiet)
	if err := ad.Start(ctx, e); err != nil {
		w.t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	p.st, p.ad, p.e, p.stop, p.done = st, ad, e, stop, make(chan struct{})
	go func() { _ = e.Run(runCtx); close(p.done) }()
	w.p = p
}

// kill ends the process: nothing more is started, frozen steps are
// abandoned, then the gateway and the database are closed.
func (w *crashWorld) kill() {
	w.t.Helper()
	p := w.p
	w.p = nil
	p.stop()
	p.die()
	// The database goes with the process: the frozen steps, released,
	// write nothing more.
	p.st.Close()
	close(p.release)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		w.t.Fatal("the engine did not stop within 30 s of the kill")
	}
	p.ad.Close()
	p.st.Close()
}

func (w *crashWorld) eventually(what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// channels returns the Discord channels made for a session.
func (w *crashWorld) channels(sid string) []discordtest.Channel {
	var out []discordtest.Channel
	for _, ch := range w.dc.Channels() {
		if strings.HasSuffix(ch.Topic, " · #"+discord.SessionTag(w.dc.Token, sid)) {
			out = append(out, ch)
		}
	}
	return out
}

// posted is what the bridge posted into a session's channel.
func (w *crashWorld) posted(sid string) string {
	chs := w.channels(sid)
	if len(chs) == 0 {
		return ""
	}
	var parts []string
	for _, ch := range chs {
		for _, m := range w.dc.Messages(ch.ID) {
			if m.WebhookID != "" {
				parts = append(parts, m.Content)
			}
		}
	}
	return strings.Join(parts, ",")
}

// sent is what QQ received from the bridge.
func (w *crashWorld) sent() string {
	var parts []string
	for _, s := range w.qq.Sent() {
		parts = append(parts, s.Meta.Content)
	}
	return strings.Join(parts, ",")
}

func (w *crashWorld) markedDelivered(channelID, messageID string) bool {
	m, ok := w.dc.Message(channelID, messageID)
	if !ok {
		return false
	}
	for _, r := range m.Reactions {
		if r.Emoji.Name == "✅" {
			return true
		}
	}
	return false
}

// settled reports whether the running engine has nothing left to deliver.
func (w *crashWorld) settled() bool {
	st, err := w.p.e.Status(context.Background())
	return err == nil && st.OutboxToDiscord == 0 && st.OutboxToQQ == 0
}

func (w *crashWorld) deliver(sid, text string) {
	w.t.Helper()
	if _, err := w.qq.Deliver(sid, qqtest.Text(text)); err != nil {
		w.t.Fatal(err)
	}
}

func TestCrashAtEveryStepWithRealAdapters(t *testing.T) {
	tests := []struct {
		name  string
		point string
		// side: "qq" (two QQ messages arrive), "reply" (a member
		// replies) or "new" (the crash happens while the session is new).
		side string
	}{
		{"qq→discord before observe commit", "before-observe-commit", "qq"},
		{"qq→discord after observe commit", "after-observe-commit", "qq"},
		{"qq→discord before attempt recorded", "before-attempt", "qq"},
		{"qq→discord attempt recorded, before post", "before-delivery", "qq"},
		{"qq→discord posted, not recorded", "after-delivery", "qq"},
		{"new session: channel created, not recorded", "after-ensure-channel", "new"},
		{"new session: first messages read, not recorded", "before-observe-commit", "new"},
		{"discord→qq before attempt recorded", "before-attempt", "reply"},
		{"discord→qq attempt recorded, before send", "before-delivery", "reply"},
		{"discord→qq sent, not recorded", "after-delivery", "reply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newCrashWorld(t)
			sid := w.qq.AddSession(w.qq.AddUser(qqtest.User{Nick: "Bea"}))
			var want []string
			var r1 *discordtest.Message
			if tt.side == "new" {
				w.start()
				w.p.arm(tt.point)
				w.deliver(sid, "m1")
				want = append(want, "m1")
			} else {
				for i := 1; i <= 3; i++ {
					w.deliver(sid, fmt.Sprintf("m%d", i))
				}
				want = append(want, "m1", "m2", "m3")
				w.start()
				w.eventually("the first three messages relayed", func() bool {
					return w.posted(sid) == "m1,m2,m3" && w.settled()
				})
				w.p.arm(tt.point)
				switch tt.side {
				case "qq":
					w.deliver(sid, "m4")
					w.deliver(sid, "m5")
					want = append(want, "m4", "m5")
				case "reply":
					m := w.dc.Type(w.channels(sid)[0].ID, w.dc.AdminUserID, "r1")
					r1 = &m
				}
			}
			select {
			case <-w.p.fired:
			case <-time.After(30 * time.Second):
				t.Fatalf("the bridge never reached %q", tt.point)
			}
			w.kill()

			// A new process on the same database; life goes on.
			w.start()
			w.deliver(sid, "m6")
			want = append(want, "m6")
			w.eventually("the session's channel", func() bool { return len(w.channels(sid)) > 0 })
			chID := w.channels(sid)[0].ID
			r2 := w.dc.Type(chID, w.dc.AdminUserID, "r2")
			wantSent := "r2"
			if r1 != nil {
				wantSent = "r1,r2"
			}
			defer func() {
				if t.Failed() {
					st, err := w.p.e.Status(context.Background())
					t.Logf("at the failure: posted %q, sent %q, %d channels, engine %+v (%v), r2 marked %v", w.posted(sid), w.sent(), len(w.channels(sid)), st, err, w.markedDelivered(chID, r2.ID))
				}
			}()
			w.eventually("everything relayed after the restart", func() bool {
				return w.posted(sid) == strings.Join(want, ",") && w.sent() == wantSent && w.settled() &&
					w.markedDelivered(chID, r2.ID) && (r1 == nil || w.markedDelivered(chID, r1.ID))
			})
			// Nothing more arrives later: no duplicate was merely late.
			time.Sleep(500 * time.Millisecond)
			if got := w.posted(sid); got != strings.Join(want, ",") {
				t.Errorf("the channel shows %s, want %s", got, strings.Join(want, ","))
			}
			if got := w.sent(); got != wantSent {
				t.Errorf("QQ received %s, want %s", got, wantSent)
			}
			if n := len(w.channels(sid)); n != 1 {
				t.Errorf("%d channels for the session, want 1", n)
			}
			if n := len(w.dc.Webhooks(chID)); n != 1 {
				t.Errorf("%d webhooks in the session's channel, want 1", n)
			}
		})
	}
}
