package discord

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

func TestOpenDeadlockOnEarlyReconnect(t *testing.T) {
	srv := newServer(t)
	a, h := start(t, srv, func(o *Options) { o.OpenTimeout = 300 * time.Millisecond })
	waitFor(t, "gateway", a.Connected)
	// The next IDENTIFY gets op 7 instead of READY: discordgo's Open
	// deadlocks; the adapter abandons that session and builds another.
	srv.AnswerNextIdentify(7)
	ids := srv.Identifies()
	srv.DropGateway()
	waitFor(t, "a session after the deadlock", func() bool {
		_, n := h.snapshot()
		return srv.Identifies() > ids && a.Connected() && n >= 2
	})
	ref, err := a.EnsureChannel(t.Context(), session("s1", "1", "Alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.Type(ref.ChannelID, srv.AdminUserID, "after the deadlock")
	waitFor(t, "a live reply", func() bool { r, _ := h.snapshot(); return len(r) == 1 })
}

func TestStartReportsDisallowedIntents(t *testing.T) {
	srv := newServer(t)
	srv.DisallowIntents(1 << 15)
	a, err := New(testOptions(srv))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	err = a.Start(t.Context(), &recHandler{})
	if !errors.Is(err, ErrIntentsDisallowed) {
		t.Fatalf("Start without the message content intent: %v", err)
	}
}

func TestRoleChangeGrantsReplies(t *testing.T) {
	srv := newServer(t)
	a, h := start(t, srv, nil) // no admin role: Manage Server decides
	ctx := t.Context()
	ref, err := a.EnsureChannel(ctx, session("s1", "1", "Alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "gateway", a.Connected)
	letIn(srv, ref.ChannelID, srv.PlainUserID)
	srv.Type(ref.ChannelID, srv.PlainUserID, "denied")
	waitFor(t, "the notice", func() bool { return len(srv.Messages(ref.ChannelID)) == 2 })
	mods := srv.AddRole("mods", discordgo.PermissionManageGuild)
	srv.SetMemberRoles(srv.PlainUserID, mods)
	sent := srv.Type(ref.ChannelID, srv.PlainUserID, "allowed now")
	waitFor(t, "the reply", func() bool { r, _ := h.snapshot(); return len(r) == 1 })
	if r, _ := h.snapshot(); r[0].MessageID != sent.ID {
		t.Errorf("reply %+v", r[0])
	}
}

func TestForumPostFoundAfterLostStore(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, func(o *Options) { o.Mode = ModeForum })
	ctx := t.Context()
	s := session("s1", "1", "Alice")
	ref, err := a.EnsureChannel(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := a.EnsureChannel(ctx, s, nil)
	if err != nil || again.ChannelID != ref.ChannelID {
		t.Errorf("second EnsureChannel without ref = %+v, %v; want thread %s", again, err, ref.ChannelID)
	}
}

func TestInteractionsModalsAndFollowups(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	got := make(chan map[string]string, 1)
	a.OnInteraction(func(ctx context.Context, in *Interaction) {
		switch {
		case in.CommandName() == "login":
			_ = in.ShowModal(ctx, "login-form", "Log in", discordgo.TextInput{CustomID: "uin", Label: "QQ number", Style: discordgo.TextInputShort})
		case in.CommandName() == "slow":
			if in.Option("what") == nil || in.Option("what").StringValue() != "x" {
				_ = in.Reply(ctx, "missing option", true)
				return
			}
			_ = in.Defer(ctx, true)
			_ = in.EditReply(ctx, "done")
			_, _ = in.Followup(ctx, "and one more", true)
		case in.CustomID() == "login-form":
			got <- in.ModalValues()
			_ = in.Reply(ctx, "thanks", true)
		}
	})
	waitFor(t, "gateway", a.Connected)
	in := srv.InvokeCommand(srv.AdminUserID, "login", nil)
	resp, err := in.Response(ctx)
	if err != nil || resp.Type != 9 || resp.CustomID != "login-form" {
		t.Fatalf("modal response %+v, %v", resp, err)
	}
	sub := srv.SubmitModal(srv.AdminUserID, "login-form", map[string]string{"uin": "12345"})
	if resp, err := sub.Response(ctx); err != nil || resp.Content != "thanks" {
		t.Fatalf("modal submit answer %+v, %v", resp, err)
	}
	if v := <-got; v["uin"] != "12345" {
		t.Errorf("modal values %v", v)
	}
	in = srv.InvokeCommand(srv.AdminUserID, "slow", map[string]any{"what": "x"})
	if resp, err := in.Response(ctx); err != nil || resp.Type != 5 || !resp.Ephemeral() {
		t.Fatalf("deferred response %+v, %v", resp, err)
	}
	waitFor(t, "the followup", func() bool { return len(in.Followups()) == 1 })
	if orig, ok := in.Original(); !ok || orig.Content != "done" {
		t.Errorf("edited original %+v", orig)
	}
	if f := in.Followups()[0]; f.Content != "and one more" || !f.Ephemeral {
		t.Errorf("followup %+v", f)
	}
}

func TestBurstPacedByBucketHeaders(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	s := session("s1", "1", "Alice")
	ref, err := a.EnsureChannel(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetRouteLimit("POST", "/webhooks/*/*", 5, 200*time.Millisecond)
	for i := range 12 {
		if _, err := a.Post(ctx, ref, mustRender(t, a, textMsg(fmt.Sprint(i), fmt.Sprint("burst ", i), s.Peer))); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	if n := len(srv.Messages(ref.ChannelID)); n != 12 {
		t.Errorf("%d messages, want 12", n)
	}
	if n := srv.Count429(); n > 1 {
		t.Errorf("%d 429s: the adapter did not pace itself by the bucket headers", n)
	}
}

// Discord's global limit (50 requests/s) answers a global 429 to the
// request over the budget; without pacing, a sustained stream meets one
// every second (2% of its requests). After the first, the adapter paces
// itself just under the limit.
func TestGlobalLimitPacedAfterFirst429(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	s := session("s1", "1", "Alice")
	ref, err := a.EnsureChannel(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetGlobalLimit(50)
	const n = 150
	t0 := time.Now()
	for i := range n {
		if _, err := a.Post(ctx, ref, mustRender(t, a, textMsg(fmt.Sprint(i), fmt.Sprint("stream ", i), s.Peer))); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	if got := len(srv.Messages(ref.ChannelID)); got != n {
		t.Errorf("%d messages, want %d", got, n)
	}
	if k := srv.Count429(); k > 1 {
		t.Errorf("%d global 429s for %d posts in %v: the adapter did not pace itself after the first", k, n, time.Since(t0).Round(time.Millisecond))
	}
}

func TestInvalidSessionTriggersCatchUp(t *testing.T) {
	srv := newServer(t)
	a, h := start(t, srv, nil)
	waitFor(t, "first Resumed", func() bool { _, n := h.snapshot(); return n == 1 && a.Connected() })
	ids := srv.Identifies()
	srv.SendInvalidSession(false)
	waitFor(t, "a new session", func() bool { return srv.Identifies() > ids })
	waitFor(t, "Resumed after op 9", func() bool { _, n := h.snapshot(); return n == 2 })
}

func TestMissingPermissionIsExplained(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	srv.SetBotPermissions(discordgo.PermissionViewChannel | discordgo.PermissionSendMessages)
	_, err := a.EnsureChannel(t.Context(), session("s1", "1", "Alice"), nil)
	if err == nil || !strings.Contains(err.Error(), "Manage Channels") {
		t.Fatalf("EnsureChannel without Manage Channels: %v", err)
	}
}

// failingHandler refuses the first reply.
type failingHandler struct {
	recHandler
	failed bool
}

func (h *failingHandler) HandleReply(ctx context.Context, r bridge.Reply) error {
	h.mu.Lock()
	if !h.failed {
		h.failed = true
		h.mu.Unlock()
		return errors.New("store busy")
	}
	h.mu.Unlock()
	return h.recHandler.HandleReply(ctx, r)
}

// A live message that could not be handled is read again by a catch-up,
// asked for before the next message is handed over: the channel's later
// messages then wait for that catch-up instead of overtaking it. A handler
// that catches up single channels is asked for that channel only.
func TestFailedReplyTriggersCatchUp(t *testing.T) {
	type handler interface {
		bridge.DiscordHandler
		snapshot() ([]bridge.Reply, int)
		callLog() string
	}
	for _, tc := range []struct {
		name string
		h    handler
		want func(channelID string) string
	}{
		{"every channel caught up", &failingHandler{}, func(string) string { return "resumed | resumed | reply: written after" }},
		{"its channel only", &missHandler{}, func(ch string) string { return "resumed | missed " + ch + " | reply: written after" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t)
			a, err := New(testOptions(srv))
			if err != nil {
				t.Fatal(err)
			}
			h := tc.h
			if err := a.Start(t.Context(), h); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(a.Close)
			ref, err := a.EnsureChannel(t.Context(), session("s1", "1", "Alice"), nil)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "first Resumed", func() bool { _, n := h.snapshot(); return n == 1 && a.Connected() })
			srv.Type(ref.ChannelID, srv.AdminUserID, "lost once")
			srv.Type(ref.ChannelID, srv.AdminUserID, "written after")
			waitFor(t, "the second reply", func() bool { r, _ := h.snapshot(); return len(r) == 1 })
			if got, want := h.callLog(), tc.want(ref.ChannelID); got != want {
				t.Errorf("handler calls: %s; want %s (a catch-up asked for before the next reply)", got, want)
			}
		})
	}
}

func TestRenameRateLimitDoesNotBlockPosting(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	s := session("s1", "1", "Alice")
	ref, err := a.EnsureChannel(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Peer.Nick = "Bob"
	srv.RateLimitRoute("PATCH", "/channels/*", 1, 10*time.Minute) // Discord: 2 renames per 10 min
	got, err := a.EnsureChannel(ctx, s, &ref)
	if err != nil || got.ChannelID != ref.ChannelID || got.Name != "alice" {
		t.Fatalf("EnsureChannel during a rename limit = %+v, %v; want the old channel as is", got, err)
	}
	if _, err := a.Post(ctx, got, mustRender(t, a, textMsg("m1", "still delivered", s.Peer))); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	got, err = a.EnsureChannel(ctx, s, &ref)
	if err != nil || got.Name != "bob" {
		t.Errorf("rename on the next call = %+v, %v", got, err)
	}
	// The refused 429 must not leave discordgo sleeping on the bucket.
	if d := time.Since(t0); d > time.Second {
		t.Errorf("next call on the channel took %v", d)
	}
}

func TestPerCallDeadline(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, func(o *Options) { o.CallTimeout = 150 * time.Millisecond })
	ctx := t.Context()
	s := session("s1", "1", "Alice")
	ref, err := a.EnsureChannel(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A read held past the deadline is tried again.
	srv.DelayRoute("GET", "/channels/*/messages", 1, time.Second)
	if _, err := a.RepliesAfter(ctx, ref.ChannelID, ""); err != nil {
		t.Fatalf("read after one slow answer: %v", err)
	}
	// A post held past the deadline fails (retrying could post twice) and
	// quickly; FindPosted then tells it was not posted.
	srv.DelayRoute("POST", "/webhooks/*/*", 1, time.Second)
	t0 := time.Now()
	m := textMsg("m1", "slow", s.Peer)
	if _, err := a.Post(ctx, ref, mustRender(t, a, m)); err == nil || time.Since(t0) > 700*time.Millisecond {
		t.Fatalf("held post: %v after %v", err, time.Since(t0))
	}
	if _, found, err := a.FindPosted(ctx, ref, "", mustRender(t, a, m)); err != nil || found {
		t.Errorf("FindPosted after the timeout: %v, %v", found, err)
	}
}
