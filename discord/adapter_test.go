package discord

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
)

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
