package bridge_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/qqport"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// runEngine starts an engine, as a process start would, on the database
// in dir against the two servers; the returned func stops it.
func runEngine(t *testing.T, qs *qqtest.Server, ds *discordtest.Server, dir string) (stop func()) {
	t.Helper()
	_, stop = runEngineWith(t, qs, ds, dir, nil)
	return stop
}

// runEngineWith is runEngine with the engine's configuration edited; it
// also returns the engine (what the admin commands call).
func runEngineWith(t *testing.T, qs *qqtest.Server, ds *discordtest.Server, dir string, edit func(*bridge.EngineConfig)) (*bridge.Engine, func()) {
	t.Helper()
	client, err := ownerClient(qs, dir)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ad, err := discord.New(discord.Options{
		Token: ds.Token, GuildID: ds.GuildID, AdminChannelID: ds.AdminChannelID, APIURL: ds.APIURL(),
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
		RetryBase: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	}
	if edit != nil {
		edit(&cfg)
	}
	e := bridge.NewEngine(cfg, st, qqport.New(client), ad, quiet)
	if err := ad.Start(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		<-done
		ad.Close()
		st.Close()
	}
	t.Cleanup(stop)
	return e, stop
}

// A restart against an oldest-first server reads a 5,000-message session
// from its stored read position: 2 pages (one to learn the order, one from
// the position), not its 100 pages of history.
func TestIntegrationRestartOldestFirstReadsTwoPages(t *testing.T) {
	w := &world{t: t}
	w.qq = qqtest.New(qqtest.WithAccount(owner), qqtest.WithPageOrder(false))
	t.Cleanup(w.qq.Close)
	w.dc = discordtest.New(discordtest.WithHeartbeatInterval(100 * time.Millisecond))
	t.Cleanup(w.dc.Close)
	sid := w.qq.AddSession(w.qq.AddUser(qqtest.User{Nick: "Long"}))
	old := time.Now().Add(-48 * time.Hour) // history, not live: only the backfill is relayed
	for i := range 4999 {
		in := qqtest.Text(fmt.Sprintf("h%04d", i))
		in.Time = old
		if _, err := w.qq.Deliver(sid, in); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	stop := runEngine(t, w.qq, w.dc, dir)
	w.deliver(sid, "live")
	w.eventually("the backfill and the live message", func() bool {
		ch, ok := w.channelOf(sid)
		if !ok {
			return false
		}
		p := w.posted(ch.ID)
		return len(p) > 0 && p[len(p)-1].Content == "live"
	})
	stop()

	for i := range 3 {
		w.deliver(sid, fmt.Sprintf("after restart %d", i))
	}
	w.qq.ResetCounts()
	runEngine(t, w.qq, w.dc, dir)
	ch, _ := w.channelOf(sid)
	w.eventually("the messages written during the restart", func() bool {
		p := w.posted(ch.ID)
		return len(p) > 0 && p[len(p)-1].Content == "after restart 2"
	})
	if n := w.qq.Count("GetMessage"); n != 2 {
		t.Errorf("the restart read %d pages of the 5,003-message session, want 2", n)
	}
	p := w.posted(ch.ID)
	if got := contents(p[len(p)-4:]); got != "live|after restart 0|after restart 1|after restart 2" {
		t.Errorf("channel ends with %s", got)
	}
}
