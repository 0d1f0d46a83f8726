package bridge_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
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

// These tests run the engine with the real adapters (bridge/qqport over
// the qq client, and the discord adapter) against the two test doubles.

var owner = qqtest.Account{
	MusicID: 30003, MusicKey: "Q_H_L_integration", LoginType: 2, Nick: "Owner",
	OpenID: "oid", AccessToken: "at", RefreshToken: "rt", RefreshKey: "rk", ExpiredAt: 1900000000,
	MusicKeyCreateTime: time.Now().Unix(), KeyExpiresIn: 259200,
}

type countingObserver struct {
	bridge.NopObserver
	polls atomic.Int64
	// toDiscord counts the QQ messages delivered to Discord (posted or
	// found posted).
	toDiscord atomic.Int64
}

func (o *countingObserver) PollDone(time.Duration, error) { o.polls.Add(1) }

func (o *countingObserver) Relayed(d bridge.Direction, out bridge.Outcome) {
	if d == bridge.ToDiscord && (out == bridge.OutcomeDelivered || out == bridge.OutcomeReconciled) {
		o.toDiscord.Add(1)
	}
}

type world struct {
	t      *testing.T
	qq     *qqtest.Server
	dc     *discordtest.Server
	client *qq.Client
	port   *qqport.Port
	ad     *discord.Adapter
	engine *bridge.Engine
	obs    *countingObserver
	cancel context.CancelFunc
	done   chan struct{}
}

func newWorld(t *testing.T, qqOpts ...qqtest.Option) *world {
	t.Helper()
	return newWorldWith(t, nil, qqOpts...)
}

// newWorldWith is newWorld with the engine's configuration edited.
func newWorldWith(t *testing.T, edit func(*bridge.EngineConfig), qqOpts ...qqtest.Option) *world {
	t.Helper()
	w := &world{t: t, obs: &countingObserver{}}
	w.qq = qqtest.New(append([]qqtest.Option{qqtest.WithAccount(owner)}, qqOpts...)...)
	t.Cleanup(w.qq.Close)
	w.dc = discordtest.New(discordtest.WithHeartbeatInterval(100 * time.Millisecond))
	t.Cleanup(w.dc.Close)
	dir := t.TempDir()
	var err error
	w.client, err = ownerClient(w.qq, dir)
	if err != nil {
		t.Fatal(err)
	}
	w.port = qqport.New(w.client)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	w.ad, err = discord.New(discord.Options{
		Token: w.dc.Token, GuildID: w.dc.GuildID, AdminChannelID: w.dc.AdminChannelID, APIURL: w.dc.APIURL(),
		Logger: quiet, WatchdogInterval: 50 * time.Millisecond, HeartbeatTimeout: time.Second,
		ReconnectBackoff: 20 * time.Millisecond, MaxReconnectBackoff: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, "bridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := bridge.EngineConfig{
		PollInterval: 50 * time.Millisecond, IdlePollInterval: 50 * time.Millisecond, Backfill: 20,
		RetryBase: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Observer: w.obs,
	}
	if edit != nil {
		edit(&cfg)
	}
	w.engine = bridge.NewEngine(cfg, st, w.port, w.ad, quiet)
	if err := w.ad.Start(context.Background(), w.engine); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan struct{})
	go func() { _ = w.engine.Run(ctx); close(w.done) }()
	t.Cleanup(func() {
		cancel()
		<-w.done
		w.ad.Close()
		st.Close()
	})
	return w
}

func (w *world) eventually(what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (w *world) channelOf(sid string) (discordtest.Channel, bool) {
	for _, ch := range w.dc.Channels() {
		if strings.HasSuffix(ch.Topic, " · #"+discord.SessionTag(w.dc.Token, sid)) {
			return ch, true
		}
	}
	return discordtest.Channel{}, false
}

func (w *world) posted(chID string) []discordtest.Message {
	var out []discordtest.Message
	for _, m := range w.dc.Messages(chID) {
		if m.WebhookID != "" {
			out = append(out, m)
		}
	}
	return out
}

func contents(ms []discordtest.Message) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, m.Content)
	}
	return strings.Join(parts, "|")
}

func TestIntegrationRelayBothWays(t *testing.T) {
	for _, newestFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("newestFirst=%v", newestFirst), func(t *testing.T) {
			w := newWorld(t, qqtest.WithPageOrder(newestFirst), qqtest.WithMaxPageSizes(20, 3))
			alice := w.qq.AddUser(qqtest.User{Nick: "Alice", Avatar: "https://img.example/alice.png"})
			bob := w.qq.AddUser(qqtest.User{Nick: "Bob"})
			sa, sb := w.qq.AddSession(alice), w.qq.AddSession(bob)
			for i := range 7 {
				if _, err := w.qq.Deliver(sa, qqtest.Text(fmt.Sprintf("a%d", i))); err != nil {
					t.Fatal(err)
				}
				if _, err := w.qq.Deliver(sb, qqtest.Text(fmt.Sprintf("b%d", i))); err != nil {
					t.Fatal(err)
				}
			}
			var cha, chb discordtest.Channel
			w.eventually("both channels with their history", func() bool {
				var ok1, ok2 bool
				cha, ok1 = w.channelOf(sa)
				chb, ok2 = w.channelOf(sb)
				return ok1 && ok2 && len(w.posted(cha.ID)) == 7 && len(w.posted(chb.ID)) == 7
			})
			if got := contents(w.posted(cha.ID)); got != "a0|a1|a2|a3|a4|a5|a6" {
				t.Errorf("Alice's channel: %s", got)
			}
			if got := contents(w.posted(chb.ID)); got != "b0|b1|b2|b3|b4|b5|b6" {
				t.Errorf("Bob's channel: %s", got)
			}
			if m := w.posted(cha.ID)[0]; !strings.Contains(m.Author.Username, "Alice") || m.AvatarURL != "https://img.example/alice.png" {
				t.Errorf("posted as %q with avatar %q", m.Author.Username, m.AvatarURL)
			}

			// A member's reply reaches QQ once, to the right user.
			w.dc.Type(cha.ID, w.dc.AdminUserID, "hello Alice")
			w.eventually("the reply at QQ", func() bool { return len(w.qq.Sent()) == 1 })
			if s := w.qq.Sent()[0]; s.UserID != fmt.Sprint(alice.UIN) || s.Meta.Content != "hello Alice" {
				t.Errorf("QQ received %+v", s)
			}

			// The owner writes in the QQ Music app: mirrored, marked as the owner's.
			app, err := qq.New(qq.Options{HTTPClient: w.qq.Client(), Endpoints: w.qq.Endpoints(), Credential: w.client.Credential(), RateLimit: rate.Inf})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := app.SendMessage(context.Background(), qq.SendMessageParams{UserID: fmt.Sprint(alice.UIN), SessionID: sa,
				MsgType: 1, MetaData: qq.TextMetaData("typed in the app"), ClientKey: qq.NewClientKey()}); err != nil {
				t.Fatal(err)
			}
			w.eventually("the owner's app message", func() bool { return len(w.posted(cha.ID)) == 8 })
			last := w.posted(cha.ID)[7]
			if last.Content != "typed in the app" || !strings.Contains(last.Author.Username, "you") {
				t.Errorf("owner's message posted as %q by %q", last.Content, last.Author.Username)
			}
			// Our own reply came back from QQ too, and was not posted again.
			time.Sleep(300 * time.Millisecond)
			if got := contents(w.posted(cha.ID)); strings.Contains(got, "hello Alice") {
				t.Errorf("the bridge echoed its own reply: %s", got)
			}
			if n := len(w.qq.Sent()); n != 2 { // the reply and the app message
				t.Errorf("QQ received %d messages, want 2", n)
			}
		})
	}
}

func TestIntegrationIdleCycleCostsOneRequest(t *testing.T) {
	w := newWorld(t)
	for i := range 100 {
		sid := w.qq.AddSession(w.qq.AddUser(qqtest.User{Nick: fmt.Sprintf("peer%03d", i)}))
		if _, err := w.qq.Deliver(sid, qqtest.Text("hi")); err != nil {
			t.Fatal(err)
		}
	}
	w.eventually("100 bridged sessions", func() bool {
		st, err := w.engine.Status(context.Background())
		return err == nil && st.SessionsBridged == 100 && st.OutboxToDiscord == 0
	})
	time.Sleep(200 * time.Millisecond) // let the last catch-ups settle
	w.qq.ResetCounts()
	start := w.obs.polls.Load()
	w.eventually("ten idle polls", func() bool { return w.obs.polls.Load() >= start+10 })
	polls := w.obs.polls.Load() - start
	counts := w.qq.Counts()
	total := 0
	for _, n := range counts {
		total += n
	}
	// Allow for a poll in flight at either end of the window.
	if int64(total) < polls-1 || int64(total) > polls+1 || counts["GetSessionList"] != total {
		t.Errorf("%d idle polls cost %d QQ requests (%v), want one GetSessionList each", polls, total, counts)
	}
}

func TestIntegrationExpiryPausesAndResumesWithoutLoss(t *testing.T) {
	w := newWorld(t)
	alice := w.qq.AddUser(qqtest.User{Nick: "Alice"})
	sid := w.qq.AddSession(alice)
	if _, err := w.qq.Deliver(sid, qqtest.Text("before")); err != nil {
		t.Fatal(err)
	}
	var ch discordtest.Channel
	w.eventually("the channel", func() bool {
		var ok bool
		ch, ok = w.channelOf(sid)
		return ok && len(w.posted(ch.ID)) == 1
	})

	// The key dies and cannot be refreshed.
	w.qq.ExpireCredential()
	w.qq.Fail("Login", qqtest.Fault{Kind: qqtest.Expired})
	w.eventually("the engine to ask for a login", func() bool {
		st, err := w.engine.Status(context.Background())
		return err == nil && st.LoginNeeded
	})
	if _, err := w.qq.Deliver(sid, qqtest.Text("during")); err != nil {
		t.Fatal(err)
	}
	w.dc.Type(ch.ID, w.dc.AdminUserID, "queued reply")
	time.Sleep(500 * time.Millisecond)
	if n := len(w.qq.Sent()); n != 0 {
		t.Fatalf("sent %d messages with a dead credential", n)
	}
	if got := contents(w.posted(ch.ID)); got != "before" {
		t.Fatalf("relayed without a credential: %s", got)
	}

	// A new login arrives.
	w.qq.ClearFaults()
	fresh := owner
	fresh.MusicKey = "Q_H_L_relogged"
	fresh.MusicKeyCreateTime = time.Now().Unix()
	w.qq.SetAccount(fresh)
	cred := w.client.Credential()
	cred.MusicKey, cred.MusickeyCreateTime = fresh.MusicKey, fresh.MusicKeyCreateTime
	w.client.SetCredential(cred)
	w.port.ResetRefresh()
	w.engine.CredentialRenewed()

	w.eventually("both directions after the login", func() bool {
		return contents(w.posted(ch.ID)) == "before|during" && len(w.qq.Sent()) == 1
	})
	if s := w.qq.Sent()[0]; s.Meta.Content != "queued reply" {
		t.Errorf("QQ received %q", s.Meta.Content)
	}
}

// ownerClient is a QQ Music client logged in as owner against qs, with its
// device and credential files in dir and no client-side throttle.
func ownerClient(qs *qqtest.Server, dir string) (*qq.Client, error) {
	return qq.New(qq.Options{
		HTTPClient: qs.Client(), Endpoints: qs.Endpoints(),
		DeviceFile: filepath.Join(dir, "device.json"), CredentialFile: filepath.Join(dir, "credential.json"),
		Credential: &qq.Credential{MusicID: owner.MusicID, MusicKey: owner.MusicKey, LoginType: 2, OpenID: owner.OpenID,
			AccessToken: owner.AccessToken, RefreshToken: owner.RefreshToken, RefreshKey: owner.RefreshKey,
			ExpiredAt: owner.ExpiredAt, MusickeyCreateTime: owner.MusicKeyCreateTime, KeyExpiresIn: owner.KeyExpiresIn},
		RateLimit: rate.Inf, QIMEIBackoff: time.Millisecond,
	})
}
