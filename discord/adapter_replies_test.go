package discord

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
)

func TestReadingRepliesAndPermissionGating(t *testing.T) {
	srv := newServer(t)
	a, h := start(t, srv, func(o *Options) { o.AdminRoleID = srv.AdminRoleID })
	ctx := t.Context()
	ref, err := a.EnsureChannel(ctx, session("s1", "1", "Alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "gateway", a.Connected)

	qq, err := a.Post(ctx, ref, mustRender(t, a, textMsg("q1", "hi from QQ", bridge.Peer{UIN: "1", Nick: "Alice"})))
	if err != nil {
		t.Fatal(err)
	}
	srv.PostAsBot(ref.ChannelID, "bot talk")
	srv.PostAsWebhook(ref.ChannelID, "foreign", "webhook talk")
	other := srv.AddBotMember("OtherBot")
	letIn(srv, ref.ChannelID, other)
	letIn(srv, ref.ChannelID, srv.PlainUserID)
	srv.Type(ref.ChannelID, other, "other bot")
	srv.Type(srv.AdminChannelID, srv.AdminUserID, "not a session channel")
	sent := srv.Type(ref.ChannelID, srv.AdminUserID, "hello QQ", discordtest.WithReply(qq[0]),
		discordtest.WithAttachment("a.png", "image/png", []byte("png")))

	waitFor(t, "the admin's reply", func() bool { r, _ := h.snapshot(); return len(r) > 0 })
	// Give the ignored messages a chance to (wrongly) arrive.
	time.Sleep(50 * time.Millisecond)
	replies, _ := h.snapshot()
	if len(replies) != 1 {
		t.Fatalf("%d replies, want 1: %+v", len(replies), replies)
	}
	r := replies[0]
	if r.MessageID != sent.ID || r.ChannelID != ref.ChannelID || r.Content != "hello QQ" || r.AuthorID != srv.AdminUserID ||
		r.ReplyTo != qq[0] || len(r.AttachmentURLs) != 1 || r.AuthorName == "" {
		t.Errorf("reply %+v", r)
	}

	// A member without the role: a notice, only once.
	before := len(srv.Messages(ref.ChannelID))
	srv.Type(ref.ChannelID, srv.PlainUserID, "me too")
	waitFor(t, "the notice", func() bool { return len(srv.Messages(ref.ChannelID)) == before+2 })
	srv.Type(ref.ChannelID, srv.PlainUserID, "me again")
	time.Sleep(100 * time.Millisecond)
	msgs := srv.Messages(ref.ChannelID)
	if len(msgs) != before+3 {
		t.Errorf("%d new messages, want 3 (two of the member, one notice)", len(msgs)-before)
	}
	notice := msgs[before+1]
	if notice.Author.ID != srv.BotUserID || !strings.Contains(notice.Content, "not sent to QQ") || !notice.Pinged.None() {
		t.Errorf("notice %+v", notice)
	}
	if replies, _ := h.snapshot(); len(replies) != 1 {
		t.Errorf("a member without the role got through: %+v", replies[1:])
	}
}

func TestManageServerGatingWithoutAdminRole(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	manager := srv.AddMember("manager", srv.ManagerRoleID)
	gi, err := a.guildInfo(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		user string
		want bool
	}{
		{srv.AdminUserID, true}, // owner and Administrator
		{manager, true},         // Manage Server
		{srv.PlainUserID, false},
	} {
		ok, err := a.allowed(ctx, tt.user, nil)
		if err != nil || ok != tt.want {
			t.Errorf("allowed(%s) = %v, %v; want %v", tt.user, ok, err, tt.want)
		}
	}
	if !canManage(gi, gi.ownerID, nil) {
		t.Error("the owner without roles may not manage")
	}
}

func TestCatchUpAfterGatewayDown(t *testing.T) {
	srv := newServer(t)
	a, h := start(t, srv, nil)
	ctx := t.Context()
	ref, err := a.EnsureChannel(ctx, session("s1", "1", "Alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "gateway", a.Connected)
	waitFor(t, "first Resumed", func() bool { _, n := h.snapshot(); return n == 1 })
	letIn(srv, ref.ChannelID, srv.PlainUserID)
	last := srv.Type(ref.ChannelID, srv.AdminUserID, "live")
	waitFor(t, "live reply", func() bool { r, _ := h.snapshot(); return len(r) == 1 })

	srv.HangGateway(true) // keep it down while members write
	srv.DropGateway()
	waitFor(t, "the adapter to notice", func() bool { return !a.Connected() })
	m1 := srv.Type(ref.ChannelID, srv.AdminUserID, "while away 1")
	srv.Type(ref.ChannelID, srv.PlainUserID, "not allowed")
	m2 := srv.Type(ref.ChannelID, srv.AdminUserID, "while away 2")
	srv.HangGateway(false)

	waitFor(t, "reconnect", func() bool { _, n := h.snapshot(); return n >= 2 && a.Connected() })
	got, err := a.RepliesAfter(ctx, ref.ChannelID, last.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].MessageID != m1.ID || got[1].MessageID != m2.ID || got[0].Content != "while away 1" {
		t.Fatalf("RepliesAfter = %+v, want the two admin messages in order", got)
	}
	if live, _ := h.snapshot(); len(live) != 1 {
		t.Errorf("messages while away arrived live: %+v", live)
	}
}

func TestRateLimitStormIsBounded(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	s := session("s1", "1", "Alice")
	ref, err := a.EnsureChannel(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}

	// A short storm is ridden out.
	before := srv.Count429()
	srv.RateLimit(2, 20*time.Millisecond, false)
	if _, err := a.Post(ctx, ref, mustRender(t, a, textMsg("m1", "after a storm", s.Peer))); err != nil {
		t.Fatalf("post after 2 429s: %v", err)
	}
	if n := srv.Count429() - before; n != 2 {
		t.Errorf("%d 429s, want 2", n)
	}

	var t0 time.Time
	// A global limit makes the call wait retry_after, then succeeds.
	srv.RateLimit(1, 150*time.Millisecond, true)
	t0 = time.Now()
	if _, err := a.Post(ctx, ref, mustRender(t, a, textMsg("m3", "global", s.Peer))); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 150*time.Millisecond {
		t.Errorf("global limit not waited for: %v", d)
	}

	// A retry_after longer than allowed fails at once.
	srv.RateLimit(1, time.Hour, false)
	t0 = time.Now()
	_, err = a.Post(ctx, ref, mustRender(t, a, textMsg("m4", "too long", s.Peer)))
	if !errors.Is(err, ErrRateLimited) || time.Since(t0) > time.Second {
		t.Errorf("hour-long retry_after: %v after %v", err, time.Since(t0))
	}
	// An endless storm (here on history reads) gives up after MaxRetries.
	before = srv.Count429()
	srv.RateLimitRoute("GET", "/channels/*/messages", 1000, 10*time.Millisecond)
	t0 = time.Now()
	_, err = a.RepliesAfter(ctx, ref.ChannelID, "")
	if !errors.Is(err, ErrRateLimited) {
		t.Fatalf("endless 429: %v, want ErrRateLimited", err)
	}
	if n := srv.Count429() - before; n != 4 {
		t.Errorf("%d attempts in the storm, want 4 (1 + MaxRetries)", n)
	}
	if time.Since(t0) > 2*time.Second {
		t.Errorf("gave up only after %v", time.Since(t0))
	}
}

func TestServerErrorsRetriedBounded(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	srv.FailNext(2, 502)
	if _, err := a.EnsureChannel(ctx, session("s1", "1", "Alice"), nil); err != nil {
		t.Fatalf("after two 502s: %v", err)
	}
	srv.FailNext(100, 503)
	_, err := a.RepliesAfter(ctx, srv.AdminChannelID, "")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("endless 503: %v, want ErrUnavailable", err)
	}
}

func TestWatchdogRebuildsStuckSession(t *testing.T) {
	// Heartbeats every 100 ms: discordgo's own check would fire only after
	// 5 missed acks (500 ms), so the adapter's watchdog (300 ms) acts first.
	srv := discordtest.New(discordtest.WithHeartbeatInterval(100 * time.Millisecond))
	t.Cleanup(srv.Close)
	a, h := start(t, srv, func(o *Options) {
		o.OpenTimeout = 300 * time.Millisecond
		o.HeartbeatTimeout = 300 * time.Millisecond
	})
	waitFor(t, "gateway", a.Connected)
	waitFor(t, "first Resumed", func() bool { _, n := h.snapshot(); return n == 1 })
	ids := srv.Identifies()

	// Heartbeats stop being acknowledged: the session is rebuilt.
	srv.SetHeartbeatAcks(false)
	waitFor(t, "a new session", func() bool { return srv.Identifies() > ids })
	srv.SetHeartbeatAcks(true)
	waitFor(t, "Resumed after the rebuild", func() bool { _, n := h.snapshot(); return n >= 2 && a.Connected() })

	// Open hangs (no HELLO): the attempt is abandoned and retried.
	srv.HangGateway(true)
	srv.DropGateway()
	waitFor(t, "disconnect", func() bool { return !a.Connected() })
	conns := srv.TotalGatewayConnections()
	waitFor(t, "a second hung attempt", func() bool { return srv.TotalGatewayConnections() >= conns+2 })
	srv.HangGateway(false)
	waitFor(t, "reconnect after hangs", a.Connected)

	// Op 7: reconnect.
	ids = srv.Identifies()
	srv.SendReconnect()
	waitFor(t, "reconnect after op 7", func() bool { return srv.Identifies() > ids && a.Connected() })
	if got := srv.LastIntents(); got&(1<<15) == 0 || got&(1<<9) == 0 || got&1 == 0 {
		t.Errorf("intents %b lack guilds, guild messages or message content", got)
	}
}

func TestMarkDeliveredAndFailed(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	ref, err := a.EnsureChannel(ctx, session("s1", "1", "Alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ok := srv.Type(ref.ChannelID, srv.AdminUserID, "good")
	bad := srv.Type(ref.ChannelID, srv.AdminUserID, "bad")
	if err := a.MarkDelivered(ctx, ref.ChannelID, ok.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.MarkFailed(ctx, ref.ChannelID, bad.ID, "QQ said @everyone no"); err != nil {
		t.Fatal(err)
	}
	m, _ := srv.Message(ref.ChannelID, ok.ID)
	if len(m.Reactions) != 1 || m.Reactions[0].Emoji.Name != "✅" || !m.Reactions[0].Me {
		t.Errorf("delivered reactions %+v", m.Reactions)
	}
	m, _ = srv.Message(ref.ChannelID, bad.ID)
	if len(m.Reactions) != 1 || m.Reactions[0].Emoji.Name != "❌" {
		t.Errorf("failed reactions %+v", m.Reactions)
	}
	msgs := srv.Messages(ref.ChannelID)
	last := msgs[len(msgs)-1]
	if last.MessageReference == nil || last.MessageReference.MessageID != bad.ID || !strings.Contains(last.Content, "QQ said") || !last.Pinged.None() {
		t.Errorf("failure reply %+v", last)
	}
}

func TestAdminPrimitives(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, func(o *Options) { o.AdminRoleID = srv.AdminRoleID })
	ctx := t.Context()
	png := []byte("\x89PNG\r\n\x1a\nfake")
	srv.SetRoleMentionable(srv.AdminRoleID, true)
	id, err := a.PostAdmin(ctx, AdminMessage{Content: "Scan to log in", Image: png, ImageName: "qr.png", MentionRoleID: srv.AdminRoleID})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := srv.Message(srv.AdminChannelID, id)
	if len(m.Attachments) != 1 || string(m.Attachments[0].Data) != string(png) || !strings.Contains(m.Content, "Scan to log in") {
		t.Errorf("admin message %+v", m)
	}
	if len(m.Pinged.Roles) != 1 || m.Pinged.Roles[0] != srv.AdminRoleID || m.Pinged.Everyone || len(m.Pinged.Users) != 0 {
		t.Errorf("pings %+v, want only the admin role", m.Pinged)
	}
	done := "Logged in"
	if err := a.EditAdmin(ctx, id, AdminEdit{Content: &done, RemoveImage: true}); err != nil {
		t.Fatal(err)
	}
	m, _ = srv.Message(srv.AdminChannelID, id)
	if m.Content != "Logged in" || len(m.Attachments) != 0 {
		t.Errorf("edited admin message %+v", m)
	}

	waitFor(t, "gateway", a.Connected)
	if _, err := a.RegisterCommands(ctx, []*discordgo.ApplicationCommand{{Name: "status", Description: "Bridge status"}}); err != nil {
		t.Fatal(err)
	}
	if cmds := srv.Commands(); len(cmds) != 1 || cmds[0].Name != "status" {
		t.Fatalf("commands %+v", cmds)
	}
	a.OnInteraction(func(ctx context.Context, in *Interaction) {
		if in.CommandName() == "status" {
			_ = in.Reply(ctx, "all good", true)
		}
	})
	in := srv.InvokeCommand(srv.AdminUserID, "status", nil)
	resp, err := in.Response(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "all good" || !resp.Ephemeral() {
		t.Errorf("admin's answer %+v", resp)
	}
	in = srv.InvokeCommand(srv.PlainUserID, "status", nil)
	resp, err = in.Response(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content == "all good" || !resp.Ephemeral() {
		t.Errorf("a plain member got %+v", resp)
	}
}

func TestWebhookRecreatedWhenDeleted(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	s := session("s1", "1", "Alice")
	ref, err := a.EnsureChannel(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.DeleteWebhook(ref.WebhookID)
	ids, err := a.Post(ctx, ref, mustRender(t, a, textMsg("m1", "still here", s.Peer)))
	if err != nil {
		t.Fatalf("post after the webhook was deleted: %v", err)
	}
	hooks := srv.Webhooks(ref.ChannelID)
	if len(hooks) != 1 || hooks[0].ID == ref.WebhookID {
		t.Fatalf("webhooks %+v, want one new", hooks)
	}
	if m, ok := srv.Message(ref.ChannelID, ids[0]); !ok || m.WebhookID != hooks[0].ID {
		t.Errorf("message %+v", m)
	}
}

func TestDeletedChannelIsReportedAsNotFound(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	s := session("s1", "1", "Alice")
	ref, err := a.EnsureChannel(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.DeleteChannel(ref.ChannelID)
	if _, err := a.Post(ctx, ref, mustRender(t, a, textMsg("m1", "into the void", s.Peer))); !errors.Is(err, bridge.ErrChannelNotFound) {
		t.Errorf("Post into a deleted channel: %v, want ErrChannelNotFound", err)
	}
	if _, _, err := a.FindPosted(ctx, ref, "", mustRender(t, a, textMsg("m1", "into the void", s.Peer))); !errors.Is(err, bridge.ErrChannelNotFound) {
		t.Errorf("FindPosted in a deleted channel: %v, want ErrChannelNotFound", err)
	}
	// The engine then asks for the channel again and gets a new one.
	ref2, err := a.EnsureChannel(ctx, s, &ref)
	if err != nil || ref2.ChannelID == ref.ChannelID {
		t.Fatalf("EnsureChannel after the deletion: %+v, %v", ref2, err)
	}
	if _, err := a.Post(ctx, ref2, mustRender(t, a, textMsg("m1", "into the new channel", s.Peer))); err != nil {
		t.Errorf("post into the new channel: %v", err)
	}
}

func TestForumReplies(t *testing.T) {
	srv := newServer(t)
	a, h := start(t, srv, func(o *Options) { o.Mode = ModeForum })
	ctx := t.Context()
	ref, err := a.EnsureChannel(ctx, session("s1", "1", "Alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "gateway", a.Connected)
	sent := srv.Type(ref.ChannelID, srv.AdminUserID, "reply in a post")
	waitFor(t, "the reply", func() bool { r, _ := h.snapshot(); return len(r) == 1 })
	if r, _ := h.snapshot(); r[0].MessageID != sent.ID || r[0].ChannelID != ref.ChannelID {
		t.Errorf("reply %+v", r[0])
	}
	got, err := a.RepliesAfter(ctx, ref.ChannelID, "")
	if err != nil || len(got) != 1 || got[0].MessageID != sent.ID {
		t.Errorf("RepliesAfter from the start = %+v, %v", got, err)
	}
}

func TestRedactAndClamp(t *testing.T) {
	err := redact(&url.Error{Op: "Post", URL: "http://x/api/v9/webhooks/123/s3cret-token?wait=true", Err: io.EOF})
	if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "/webhooks/123/[token]") {
		t.Errorf("redacted: %v", err)
	}
	err = redact(&url.Error{Op: "Post", URL: "http://x/api/v9/interactions/9/tok/callback", Err: io.EOF})
	if strings.Contains(err.Error(), "tok/") {
		t.Errorf("redacted: %v", err)
	}
	a := &Adapter{opts: Options{MaxRetryAfter: 5 * time.Second}}
	tr := &transport{a: a}
	h := http.Header{}
	h.Set("X-RateLimit-Reset-After", "3600")
	h.Set("X-RateLimit-Reset", "99999999999")
	tr.clampReset(h)
	if h.Get("X-RateLimit-Reset-After") != "5.050" || h.Get("X-RateLimit-Reset") != "" {
		t.Errorf("clamped headers %v", h)
	}
}
