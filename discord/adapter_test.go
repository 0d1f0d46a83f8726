package discord

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
)

// recHandler records what the adapter hands to the engine.
type recHandler struct {
	mu      sync.Mutex
	replies []bridge.Reply
	resumed int
	// calls is every call, in order: "resumed" or "reply: <content>".
	calls []string
}

func (h *recHandler) HandleReply(_ context.Context, r bridge.Reply) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.replies = append(h.replies, r)
	h.calls = append(h.calls, "reply: "+r.Content)
	return nil
}

func (h *recHandler) Resumed(context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.resumed++
	h.calls = append(h.calls, "resumed")
}

func (h *recHandler) callLog() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.calls, " | ")
}

func (h *recHandler) snapshot() ([]bridge.Reply, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]bridge.Reply(nil), h.replies...), h.resumed
}

func newServer(t *testing.T) *discordtest.Server {
	t.Helper()
	srv := discordtest.New(discordtest.WithHeartbeatInterval(40 * time.Millisecond))
	t.Cleanup(srv.Close)
	return srv
}

func testOptions(srv *discordtest.Server) Options {
	return Options{
		Token:               srv.Token,
		GuildID:             srv.GuildID,
		AdminChannelID:      srv.AdminChannelID,
		APIURL:              srv.APIURL(),
		Logger:              slog.New(slog.NewTextHandler(io.Discard, nil)),
		WatchdogInterval:    25 * time.Millisecond,
		HeartbeatTimeout:    400 * time.Millisecond,
		OpenTimeout:         time.Second,
		ReconnectBackoff:    20 * time.Millisecond,
		MaxReconnectBackoff: 100 * time.Millisecond,
		CallTimeout:         3 * time.Second,
		MaxRetries:          3,
		MaxRetryAfter:       2 * time.Second,
		RetryBackoff:        5 * time.Millisecond,
	}
}

// start starts an adapter against srv; it is closed before srv.
func start(t *testing.T, srv *discordtest.Server, edit func(*Options)) (*Adapter, *recHandler) {
	t.Helper()
	opts := testOptions(srv)
	if edit != nil {
		edit(&opts)
	}
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h := &recHandler{}
	if err := a.Start(t.Context(), h); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(a.Close)
	return a, h
}

// letIn gives a member access to a (private) channel by a member
// overwrite, as a server admin would in the client.
func letIn(srv *discordtest.Server, channelID, userID string) {
	srv.UpdateChannel(channelID, func(c *discordtest.Channel) {
		c.PermissionOverwrites = append(c.PermissionOverwrites, discordtest.Overwrite{
			ID: userID, Type: discordtest.OverwriteMember,
			Allow: discordtest.PermViewChannel | discordtest.PermSendMessages | discordtest.PermReadMessageHistory,
		})
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func session(id, uin, nick string) bridge.Session {
	return bridge.Session{ID: id, Peer: bridge.Peer{UIN: uin, Nick: nick, AvatarURL: "https://qq.example/a/" + uin + ".png"}}
}

func textMsg(id, text string, from bridge.Peer) bridge.Message {
	return bridge.Message{ID: id, Kind: bridge.KindText, Text: text, Sender: from}
}

// mustRender records what a should post for m, as the engine does before
// the first attempt.
func mustRender(t *testing.T, a *Adapter, m bridge.Message) bridge.Rendered {
	t.Helper()
	r, err := a.Render(m)
	if err != nil {
		t.Fatalf("Render(%s): %v", m.ID, err)
	}
	return r
}

func TestStartRejectsBadToken(t *testing.T) {
	srv := newServer(t)
	opts := testOptions(srv)
	opts.Token = "wrong"
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	err = a.Start(t.Context(), &recHandler{})
	if !errors.Is(err, ErrTokenRejected) {
		t.Fatalf("Start with a bad token: %v, want ErrTokenRejected", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error shows the token: %v", err)
	}
}

func TestChannelCreationNamingAndRename(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()

	s1 := session("s1", "1001", "周杰伦 Jay!")
	ref1, err := a.EnsureChannel(ctx, s1, nil)
	if err != nil {
		t.Fatal(err)
	}
	ch, ok := srv.Channel(ref1.ChannelID)
	if !ok {
		t.Fatal("channel not created")
	}
	cat, _ := srv.Channel(ch.ParentID)
	if ch.Name != "周杰伦-jay" || cat.Name != "QQ Music" || cat.Type != discordtest.ChannelTypeCategory {
		t.Errorf("channel %q in %q (type %d), want 周杰伦-jay in category QQ Music", ch.Name, cat.Name, cat.Type)
	}
	if !strings.Contains(ch.Topic, "周杰伦 Jay!") || !strings.HasSuffix(ch.Topic, " · #"+SessionTag(srv.Token, "s1")) || strings.Contains(ch.Topic, "1001") {
		t.Errorf("topic %q: want the nick and the session's tag, not the uin", ch.Topic)
	}
	if ref1.WebhookID == "" || ref1.WebhookToken == "" || ref1.ParentID != cat.ID {
		t.Errorf("ref %+v", ref1)
	}

	// Same nick, other session: a unique name.
	ref2, err := a.EnsureChannel(ctx, session("s2", "1002", "周杰伦 jay"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ref2.Name != "周杰伦-jay-2" {
		t.Errorf("second channel named %q, want 周杰伦-jay-2", ref2.Name)
	}

	// Known channel: nothing new, same webhook.
	again, err := a.EnsureChannel(ctx, s1, &ref1)
	if err != nil || again != ref1 {
		t.Errorf("EnsureChannel again = %+v, %v; want %+v", again, err, ref1)
	}
	// Lost ref: found again by its topic, not duplicated.
	found, err := a.EnsureChannel(ctx, s1, nil)
	if err != nil || found.ChannelID != ref1.ChannelID {
		t.Errorf("EnsureChannel without ref = %+v, %v; want channel %s", found, err, ref1.ChannelID)
	}

	// Nick change: renamed in place.
	s1.Peer.Nick = "Jay Chou"
	renamed, err := a.EnsureChannel(ctx, s1, &ref1)
	if err != nil {
		t.Fatal(err)
	}
	ch, _ = srv.Channel(ref1.ChannelID)
	if renamed.ChannelID != ref1.ChannelID || ch.Name != "jay-chou" || !strings.Contains(ch.Topic, "Jay Chou") {
		t.Errorf("after nick change: ref %+v, channel %q topic %q", renamed, ch.Name, ch.Topic)
	}

	// Deleted channel: a new one.
	srv.DeleteChannel(ref1.ChannelID)
	fresh, err := a.EnsureChannel(ctx, s1, &renamed)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.ChannelID == ref1.ChannelID {
		t.Error("deleted channel reused")
	}
	if _, ok := srv.Channel(fresh.ChannelID); !ok {
		t.Error("new channel missing")
	}
}

func TestCategoryOverflowAndChannelWarning(t *testing.T) {
	srv := newServer(t)
	cat := srv.AddChannel(discordtest.Channel{Type: discordtest.ChannelTypeCategory, Name: "QQ Music"})
	for i := range maxCategoryChildren {
		srv.AddChannel(discordtest.Channel{Type: discordtest.ChannelTypeText, Name: fmt.Sprintf("old-%d", i), ParentID: cat, Topic: "x"})
	}
	total := len(srv.Channels())
	a, _ := start(t, srv, func(o *Options) { o.ChannelWarnAt = total + 2 })
	ctx := t.Context()

	ref, err := a.EnsureChannel(ctx, session("s1", "1", "Alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	parent, _ := srv.Channel(ref.ParentID)
	if parent.Name != "QQ Music 2" || ref.ParentID == cat {
		t.Fatalf("overflow channel went into %q", parent.Name)
	}
	// The overflow category is private, and so are the 50 channels of an
	// earlier version, made private at start.
	if got := seen(srv, srv.PlainUserID, ref.ChannelID, ref.ParentID, cat); len(got) > 0 {
		t.Errorf("a plain member sees %v", got)
	}
	for _, c := range srv.VisibleChannels(srv.PlainUserID) {
		if c.ParentID == cat {
			t.Errorf("a plain member sees the old channel %s", c.Name)
		}
	}
	// The next one fills "QQ Music 2" too, and the count reached the
	// warning threshold: the admin channel hears about it once.
	ref2, err := a.EnsureChannel(ctx, session("s2", "2", "Bob"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ref2.ParentID != ref.ParentID {
		t.Errorf("second overflow channel in %s, want %s", ref2.ParentID, ref.ParentID)
	}
	if _, err := a.EnsureChannel(ctx, session("s3", "3", "Carol"), nil); err != nil {
		t.Fatal(err)
	}
	warnings := 0
	for _, m := range srv.Messages(srv.AdminChannelID) {
		if strings.Contains(m.Content, "500") {
			warnings++
		}
	}
	if warnings != 1 {
		t.Errorf("%d channel-limit warnings in the admin channel, want 1", warnings)
	}
}

func TestGuildFull(t *testing.T) {
	srv := newServer(t)
	for i := len(srv.Channels()); i < maxGuildChannels; i++ {
		srv.AddChannel(discordtest.Channel{Type: discordtest.ChannelTypeText, Name: fmt.Sprintf("c-%d", i)})
	}
	a, _ := start(t, srv, nil)
	_, err := a.EnsureChannel(t.Context(), session("s1", "1", "Alice"), nil)
	if !errors.Is(err, ErrGuildFull) {
		t.Fatalf("EnsureChannel in a full guild: %v, want ErrGuildFull", err)
	}
}

func TestForumMode(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, func(o *Options) { o.Mode = ModeForum })
	ctx := t.Context()
	alice := session("s1", "1", "Alice")
	ref1, err := a.EnsureChannel(ctx, alice, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref2, err := a.EnsureChannel(ctx, session("s2", "2", "Bob"), nil)
	if err != nil {
		t.Fatal(err)
	}
	forum, _ := srv.Channel(ref1.ParentID)
	th, _ := srv.Channel(ref1.ChannelID)
	if forum.Type != discordtest.ChannelTypeForum || ref2.ParentID != forum.ID || !th.IsThread() || th.Name != "Alice (#"+SessionTag(srv.Token, "s1")+")" {
		t.Fatalf("forum %+v thread %+v", forum, th)
	}
	if len(srv.Webhooks(forum.ID)) != 1 || ref1.WebhookID != ref2.WebhookID {
		t.Errorf("want one webhook on the forum, got %d", len(srv.Webhooks(forum.ID)))
	}
	ids, err := a.Post(ctx, ref1, mustRender(t, a, textMsg("m1", "hello from QQ", alice.Peer)))
	if err != nil {
		t.Fatal(err)
	}
	m, ok := srv.Message(ref1.ChannelID, ids[0])
	if !ok || m.Content != "hello from QQ" || m.Author.Username != "Alice" {
		t.Errorf("posted into the thread: %+v (found %v)", m, ok)
	}
	// Rename on nick change.
	alice.Peer.Nick = "Alicia"
	if _, err := a.EnsureChannel(ctx, alice, &ref1); err != nil {
		t.Fatal(err)
	}
	if th, _ := srv.Channel(ref1.ChannelID); th.Name != "Alicia (#"+SessionTag(srv.Token, "s1")+")" {
		t.Errorf("thread name after nick change %q", th.Name)
	}
}

func TestWebhookReuseAfterRestart(t *testing.T) {
	srv := newServer(t)
	ctx := t.Context()
	opts := testOptions(srv)
	a1, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := a1.Start(ctx, &recHandler{}); err != nil {
		t.Fatal(err)
	}
	s := session("s1", "1", "Alice")
	ref, err := a1.EnsureChannel(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	a1.Close()

	a2, _ := start(t, srv, nil)
	// The new process lost its store: it finds the channel and the webhook.
	ref2, err := a2.EnsureChannel(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ref2.ChannelID != ref.ChannelID || ref2.WebhookID != ref.WebhookID {
		t.Errorf("after restart: %+v, want channel %s webhook %s", ref2, ref.ChannelID, ref.WebhookID)
	}
	if n := len(srv.Webhooks(ref.ChannelID)); n != 1 {
		t.Errorf("%d webhooks in the channel, want 1", n)
	}
	if _, err := a2.Post(ctx, ref2, mustRender(t, a2, textMsg("m", "hi", s.Peer))); err != nil {
		t.Fatal(err)
	}
}

func TestWebhookLimit(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	ref, err := a.EnsureChannel(ctx, session("s1", "1", "Alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := start(t, srv, func(o *Options) { o.WebhookName = "Other" })
	var hooks []string
	for range 14 {
		ch, _ := srv.Channel(ref.ChannelID)
		wh, err := a2.rest.WebhookCreate(ch.ID, "foreign", "")
		if err != nil {
			t.Fatal(err)
		}
		hooks = append(hooks, wh.ID)
	}
	_, err = a2.EnsureChannel(ctx, session("s1", "1", "Alice"), &ref)
	if !errors.Is(err, ErrWebhookLimit) {
		t.Fatalf("16th webhook: %v, want ErrWebhookLimit", err)
	}
}

func TestPostSplitsAndNeverPings(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	s := session("s1", "1", "Discord Clyde")
	ref, err := a.EnsureChannel(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("一二三四五 six seven\n", 300) // 4800 characters
	ids, err := a.Post(ctx, ref, mustRender(t, a, textMsg("m1", long, s.Peer)))
	if err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages(ref.ChannelID)
	if len(ids) != 3 || len(msgs) != 3 {
		t.Fatalf("%d ids, %d messages; want 3", len(ids), len(msgs))
	}
	var joined strings.Builder
	for i, m := range msgs {
		if m.ID != ids[i] {
			t.Errorf("id %d: %s, want %s (in order)", i, ids[i], m.ID)
		}
		if len([]rune(m.Content)) > MaxContent {
			t.Errorf("part %d has %d characters", i, len([]rune(m.Content)))
		}
		if m.AvatarURL != s.Peer.AvatarURL || m.WebhookID != ref.WebhookID {
			t.Errorf("part %d: avatar %q webhook %q", i, m.AvatarURL, m.WebhookID)
		}
		if strings.Contains(strings.ToLower(m.Author.Username), "discord") || strings.Contains(strings.ToLower(m.Author.Username), "clyde") {
			t.Errorf("username %q kept a forbidden word", m.Author.Username)
		}
		joined.WriteString(m.Content + "\n")
	}
	if strings.Join(strings.Fields(joined.String()), " ") != strings.Join(strings.Fields(long), " ") {
		t.Error("split lost or changed text")
	}

	role := srv.ManagerRoleID
	srv.SetRoleMentionable(role, true)
	ping := fmt.Sprintf("@everyone @here <@&%s> <@%s> <@!%s> hi", role, srv.AdminUserID, srv.PlainUserID)
	ids, err = a.Post(ctx, ref, mustRender(t, a, textMsg("m2", ping, s.Peer)))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := srv.Message(ref.ChannelID, ids[0])
	if !m.Pinged.None() {
		t.Errorf("message pinged %+v", m.Pinged)
	}
	if m.AllowedMentions == nil || m.AllowedMentions.ParseNull || len(m.AllowedMentions.Parse) != 0 {
		t.Errorf("allowed_mentions %+v, want an explicit empty parse list", m.AllowedMentions)
	}
	if strings.Contains(m.Content, "@everyone") || strings.Contains(m.Content, "<@") || !strings.Contains(m.Content, "everyone") {
		t.Errorf("content %q not neutralised", m.Content)
	}

	// The owner's own messages are marked.
	ids, err = a.Post(ctx, ref, mustRender(t, a, bridge.Message{ID: "m3", Kind: bridge.KindText, Text: "mine", FromOwner: true, Sender: bridge.Peer{UIN: "9", Nick: "Me"}}))
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := srv.Message(ref.ChannelID, ids[0]); m.Author.Username != "Me (you, from QQ)" {
		t.Errorf("owner message under %q", m.Author.Username)
	}
}

func TestPostRendersMediaAndCards(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	s := session("s1", "1", "Alice")
	ref, err := a.EnsureChannel(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs := []bridge.Message{
		{ID: "i", Kind: bridge.KindImage, Sender: s.Peer, Media: &bridge.Media{URL: "https://img.example/a.jpg"}},
		{ID: "c", Kind: bridge.KindCard, Sender: s.Peer, Card: &bridge.Card{Title: "晴天", Description: "周杰伦", CoverURL: "https://img.example/c.jpg", URL: "https://y.qq.com/n/song"}},
		{ID: "u", Kind: bridge.KindUnknown, Type: 77, Sender: s.Peer, Fields: []bridge.Field{{Name: "foo", Value: "bar"}}},
	}
	for _, m := range msgs {
		ids, err := a.Post(ctx, ref, mustRender(t, a, m))
		if err != nil {
			t.Fatalf("post %s: %v", m.ID, err)
		}
		got, _ := srv.Message(ref.ChannelID, ids[0])
		if len(got.Embeds) != 1 {
			t.Fatalf("%s: %d embeds", m.ID, len(got.Embeds))
		}
		e := got.Embeds[0]
		switch m.ID {
		case "i":
			if e.Image == nil || e.Image.URL != "https://img.example/a.jpg" {
				t.Errorf("image embed %+v", e)
			}
		case "c":
			if e.Title != "晴天" || e.URL != "https://y.qq.com/n/song" || e.Thumbnail == nil {
				t.Errorf("card embed %+v", e)
			}
		case "u":
			if !strings.Contains(e.Title, "77") || len(e.Fields) != 1 || e.Fields[0].Value != "bar" {
				t.Errorf("unknown embed %+v", e)
			}
		}
	}
}

func TestFindPosted(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	s := session("s1", "1", "Alice")
	ref, err := a.EnsureChannel(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	first, err := a.Post(ctx, ref, mustRender(t, a, textMsg("m0", "before", s.Peer)))
	if err != nil {
		t.Fatal(err)
	}
	m := textMsg("m1", strings.Repeat("word ", 900), s.Peer) // 3 parts
	if _, found, err := a.FindPosted(ctx, ref, first[0], mustRender(t, a, m)); err != nil || found {
		t.Fatalf("before posting: found %v, %v", found, err)
	}
	ids, err := a.Post(ctx, ref, mustRender(t, a, m))
	if err != nil {
		t.Fatal(err)
	}
	got, found, err := a.FindPosted(ctx, ref, first[0], mustRender(t, a, m))
	if err != nil || !found || strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Fatalf("FindPosted = %v, %v, %v; want %v", got, found, err, ids)
	}
	// A crash after the first part: the part is removed, not found.
	last := ids[len(ids)-1]
	m2 := textMsg("m2", strings.Repeat("other ", 800), s.Peer)
	parts := render(m2)
	wh := srv.Webhooks(ref.ChannelID)[0]
	partial, err := a.rest.WebhookExecute(wh.ID, wh.Token, true, &discordgo.WebhookParams{Content: parts[0].Content, Username: "Alice", AllowedMentions: noMentions()})
	if err != nil {
		t.Fatal(err)
	}
	if _, found, err := a.FindPosted(ctx, ref, last, mustRender(t, a, m2)); err != nil || found {
		t.Fatalf("partial post: found %v, %v", found, err)
	}
	if _, ok := srv.Message(ref.ChannelID, partial.ID); ok {
		t.Error("the partial first part is still there")
	}
}

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
// messages then wait for that catch-up instead of overtaking it.
func TestFailedReplyTriggersCatchUp(t *testing.T) {
	srv := newServer(t)
	a, err := New(testOptions(srv))
	if err != nil {
		t.Fatal(err)
	}
	h := &failingHandler{}
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
	if got, want := h.callLog(), "resumed | resumed | reply: written after"; got != want {
		t.Errorf("handler calls: %s; want %s (a catch-up asked for before the next reply)", got, want)
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
