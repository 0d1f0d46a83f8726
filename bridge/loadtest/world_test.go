package loadtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/qqport"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// owner is the bridged QQ Music account the double knows.
var owner = qqtest.Account{
	MusicID: 40004, MusicKey: "Q_H_L_loadtest", LoginType: 2, Nick: "Owner",
	OpenID: "oid", AccessToken: "at", RefreshToken: "rt", RefreshKey: "rk",
	ExpiredAt: time.Now().Add(90 * 24 * time.Hour).Unix(), MusicKeyCreateTime: time.Now().Unix(), KeyExpiresIn: 259200,
}

var quiet = slog.New(slog.DiscardHandler)

// world is the two doubles with n QQ sessions already bridged to Discord
// (each has its channel, or forum post, and one relayed message), and the
// bridge's data folder: what a bridge that has been running for a while
// looks like. Engines and naive pollers are started on it one at a time.
type world struct {
	t        testing.TB
	dir      string
	qq       *qqtest.Server
	dc       *discordtest.Server
	mode     string
	sessions []string          // QQ session ids, in creation order
	channel  map[string]string // session id -> Discord channel (or post) id
	dbPath   string
	credPath string
	devPath  string
}

// newWorld builds a world of n sessions. The bridging itself is done by
// the real engine, with a fast poll and no client-side throttle so that
// building a large world does not take minutes; measured runs then start
// a fresh engine (a restart) with the product's settings.
func newWorld(t testing.TB, n int, mode string) *world {
	t.Helper()
	w := &world{t: t, dir: t.TempDir(), mode: mode, channel: map[string]string{}}
	w.qq = qqtest.New(qqtest.WithAccount(owner))
	t.Cleanup(w.qq.Close)
	w.dc = discordtest.New()
	t.Cleanup(w.dc.Close)
	w.dbPath = filepath.Join(w.dir, "data", "bridge.db")
	w.credPath = filepath.Join(w.dir, "data", "credential.json")
	w.devPath = filepath.Join(w.dir, "data", "device.json")
	if err := os.MkdirAll(filepath.Dir(w.dbPath), 0o700); err != nil {
		t.Fatal(err)
	}
	cred, err := owner.CredentialJSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.credPath, cred, 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		u := w.qq.AddUser(qqtest.User{Nick: fmt.Sprintf("peer%04d", i)})
		sid := w.qq.AddSession(u)
		if _, err := w.qq.Deliver(sid, qqtest.Text(fmt.Sprintf("hello-%d", i))); err != nil {
			t.Fatal(err)
		}
		w.sessions = append(w.sessions, sid)
	}

	r := w.start(runOpts{interval: 50 * time.Millisecond, setup: true})
	waitFor(t, 15*time.Minute, fmt.Sprintf("%d sessions bridged", n), func() bool {
		st, err := r.e.Status(context.Background())
		if err != nil || st.SessionsBridged < n || st.OutboxToDiscord > 0 {
			return false
		}
		dirty, err := r.st.DirtySessions(context.Background())
		return err == nil && len(dirty) == 0
	})
	bridged, err := r.st.BridgedSessions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range bridged {
		w.channel[s.ID] = s.Channel.ChannelID
	}
	r.stop()
	if len(w.channel) != n {
		t.Fatalf("%d sessions bridged, want %d", len(w.channel), n)
	}
	return w
}

// runOpts says how to run an engine.
type runOpts struct {
	interval time.Duration
	// setup: fast retries and no client-side throttle (building a world).
	// Otherwise every setting is the product's default, as cmd/bridge
	// wires them, but the poll interval.
	setup bool
	// onPoll, when set, is called after each session-list poll with the
	// number of polls so far (from the engine's goroutine).
	onPoll func(n int64)
}

// running is an engine running on a world, with its own client, store and
// adapter, as one process of the bridge would have.
type running struct {
	w      *world
	st     *store.Store
	client *qq.Client
	ad     *discord.Adapter
	e      *bridge.Engine
	obs    *observer
	qqc    *qqCounter
	tq     *timedQQ
	th     *timedHandler
	cancel context.CancelFunc
	done   chan struct{}
}

// observer counts the engine's polls.
type observer struct {
	bridge.NopObserver
	polls  atomic.Int64
	onPoll func(n int64)
}

func (o *observer) PollDone(time.Duration, error) {
	n := o.polls.Add(1)
	if o.onPoll != nil {
		o.onPoll(n)
	}
}

// qqCounter counts a client's QQ calls and those risk control refused.
type qqCounter struct {
	calls, refused atomic.Int64
}

func (c *qqCounter) onResult(_, _ string, err error) {
	c.calls.Add(1)
	if errors.Is(err, qq.ErrRateLimited) {
		c.refused.Add(1)
	}
}

// newClient is a QQ client as cmd/bridge makes it (the reference's 10
// requests/s, burst 50 throttle), or unthrottled when limit is rate.Inf.
func (w *world) newClient(limit rate.Limit, qqc *qqCounter) *qq.Client {
	w.t.Helper()
	c, err := qq.New(qq.Options{
		Endpoints:      w.qq.Endpoints(),
		DeviceFile:     w.devPath,
		CredentialFile: w.credPath,
		RateLimit:      limit,
		Logger:         quiet,
		OnResult:       qqc.onResult,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// newAdapter is a Discord adapter as cmd/bridge makes it.
func (w *world) newAdapter() *discord.Adapter {
	w.t.Helper()
	ad, err := discord.New(discord.Options{
		Token: w.dc.Token, GuildID: w.dc.GuildID, AdminChannelID: w.dc.AdminChannelID,
		APIURL: w.dc.APIURL(), Mode: w.mode, Logger: quiet,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return ad
}

// start runs an engine on the world's database.
func (w *world) start(o runOpts) *running {
	w.t.Helper()
	r := &running{w: w, obs: &observer{onPoll: o.onPoll}, qqc: &qqCounter{}, done: make(chan struct{})}
	var limit rate.Limit // 0: the client's default, as cmd/bridge
	if o.setup {
		limit = rate.Inf
	}
	r.client = w.newClient(limit, r.qqc)
	r.ad = w.newAdapter()
	var err error
	if r.st, err = store.Open(context.Background(), w.dbPath); err != nil {
		w.t.Fatal(err)
	}
	cfg := bridge.EngineConfig{
		PollInterval: o.interval, IdlePollInterval: o.interval,
		Backfill: bridge.DefaultBackfill, Observer: r.obs,
	}
	if o.setup {
		cfg.RetryBase, cfg.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	}
	r.tq = &timedQQ{QQ: qqport.New(r.client)}
	r.e = bridge.NewEngine(cfg, r.st, r.tq, r.ad, quiet)
	r.th = &timedHandler{DiscordHandler: r.e}
	if err := r.ad.Start(context.Background(), r.th); err != nil {
		r.st.Close()
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		defer close(r.done)
		if err := r.e.Run(ctx); err != nil {
			w.t.Errorf("engine: %v", err)
		}
	}()
	return r
}

// stop ends the engine as a SIGTERM would.
func (r *running) stop() {
	r.cancel()
	<-r.done
	r.ad.Close()
	r.st.Close()
}

// settled waits until the engine has caught up with Discord after its
// start (replies are held until then) and polled a few times.
func (r *running) settled(timeout time.Duration) {
	r.w.t.Helper()
	start := r.obs.polls.Load()
	last, stable := int64(-1), 0
	waitFor(r.w.t, timeout, "the engine to settle", func() bool {
		// The start-up catch-up reads every session channel's history.
		n := int64(r.w.dc.Count("GET", "/channels/*/messages"))
		if n == last {
			stable++
		} else {
			last, stable = n, 0
		}
		return stable >= 5 && r.obs.polls.Load() >= start+2
	})
}

// waitFor polls cond every 20 ms until it holds, or fails the test.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// posted returns, for each message index of tag ("<tag>-<i>") relayed to
// any session channel, the times Discord stored it (more than one: a
// duplicate).
func (w *world) posted(tag string) map[int][]time.Time {
	out := map[int][]time.Time{}
	prefix := tag + "-"
	for _, ch := range w.channel {
		for _, m := range w.dc.Messages(ch) {
			if m.WebhookID == "" || !strings.HasPrefix(m.Content, prefix) {
				continue
			}
			i, err := strconv.Atoi(m.Content[len(prefix):])
			if err != nil {
				continue
			}
			out[i] = append(out[i], m.Timestamp)
		}
	}
	return out
}

// totalCount sums a count map.
func totalCount(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// nopHandler is the Discord handler of the naive poller, which relays one
// way only.
type nopHandler struct{}

func (nopHandler) HandleReply(context.Context, bridge.Reply) error { return nil }
func (nopHandler) Resumed(context.Context)                         {}
