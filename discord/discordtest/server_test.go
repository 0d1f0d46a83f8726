package discordtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// events collects discordgo events of one kind.
type events[T any] struct {
	mu   sync.Mutex
	list []T
	ch   chan struct{}
}

func collect[T any](dg *discordgo.Session) *events[T] {
	e := &events[T]{ch: make(chan struct{}, 1000)}
	dg.AddHandler(func(_ *discordgo.Session, v T) {
		e.mu.Lock()
		e.list = append(e.list, v)
		e.mu.Unlock()
		e.ch <- struct{}{}
	})
	return e
}

func (e *events[T]) wait(t *testing.T, n int) []T {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		e.mu.Lock()
		if len(e.list) >= n {
			out := append([]T(nil), e.list...)
			e.mu.Unlock()
			return out
		}
		e.mu.Unlock()
		select {
		case <-e.ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %d events of %T", n, *new(T))
		}
	}
}

func (e *events[T]) len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.list)
}

func newServer(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s := New(append([]Option{WithHeartbeatInterval(50 * time.Millisecond)}, opts...)...)
	t.Cleanup(s.Close)
	return s
}

// session returns an unopened session; it is closed before the server.
func session(t *testing.T, s *Server) *discordgo.Session {
	t.Helper()
	dg := s.NewSession()
	dg.MaxRestRetries = 0
	dg.SyncEvents = true // handlers in arrival order
	t.Cleanup(func() { _ = dg.Close() })
	return dg
}

func open(t *testing.T, dg *discordgo.Session) {
	t.Helper()
	if err := dg.Open(); err != nil {
		t.Fatalf("Open: %v", err)
	}
}

func restErr(t *testing.T, err error) *discordgo.RESTError {
	t.Helper()
	var re *discordgo.RESTError
	if !errors.As(err, &re) {
		t.Fatalf("want *RESTError, got %T %v", err, err)
	}
	if re.Message == nil {
		t.Fatalf("RESTError without a JSON message: %s", re.ResponseBody)
	}
	return re
}

func TestGatewayReadyAndGuildCreate(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	extra := s.AddChannel(Channel{Type: ChannelTypeCategory, Name: "QQ Sessions"})
	dg := session(t, s)
	ready := collect[*discordgo.Ready](dg)
	guilds := collect[*discordgo.GuildCreate](dg)
	open(t, dg)

	r := ready.wait(t, 1)[0]
	if r.User.ID != s.BotUserID || !r.User.Bot || r.SessionID == "" {
		t.Fatalf("READY user/session = %+v %q", r.User, r.SessionID)
	}
	g := guilds.wait(t, 1)[0]
	if g.ID != s.GuildID || len(g.Channels) != 2 || len(g.Members) != 3 {
		t.Fatalf("GUILD_CREATE: id %s, %d channels, %d members", g.ID, len(g.Channels), len(g.Members))
	}
	var sawAdmin, sawManager bool
	for _, role := range g.Roles {
		sawAdmin = sawAdmin || (role.ID == s.AdminRoleID && role.Permissions&discordgo.PermissionAdministrator != 0)
		sawManager = sawManager || (role.ID == s.ManagerRoleID && role.Permissions == discordgo.PermissionManageGuild)
	}
	if !sawAdmin || !sawManager {
		t.Fatalf("roles missing in GUILD_CREATE: %+v", g.Roles)
	}
	for _, m := range g.Members {
		if m.User.ID == s.AdminUserID && (len(m.Roles) != 1 || m.Roles[0] != s.AdminRoleID) {
			t.Fatalf("admin member roles = %v", m.Roles)
		}
	}
	if c, err := dg.State.Channel(extra); err != nil || c.Type != discordgo.ChannelTypeGuildCategory {
		t.Fatalf("state channel %s: %v %v", extra, c, err)
	}
	if s.Identifies() != 1 || s.GatewayConnections() != 1 {
		t.Fatalf("identifies %d conns %d", s.Identifies(), s.GatewayConnections())
	}
	if s.LastIntents()&IntentMessageContent == 0 {
		t.Fatalf("intents %b lack MESSAGE_CONTENT", s.LastIntents())
	}
	// Heartbeats are ACKed: discordgo records the ACK time.
	if err := s.WaitFor(ctxT(t), func() bool { return s.Heartbeats() >= 2 }); err != nil {
		t.Fatal(err)
	}
	dg.RLock()
	ack := dg.LastHeartbeatAck
	dg.RUnlock()
	if time.Since(ack) > time.Second {
		t.Fatalf("last heartbeat ack %v ago", time.Since(ack))
	}
}

func TestMemberMessageArrivesAsMessageCreate(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dg := session(t, s)
	created := collect[*discordgo.MessageCreate](dg)
	open(t, dg)

	typed := s.Type(s.AdminChannelID, s.AdminUserID, "hello <@"+s.BotUserID+">",
		WithAttachment("pic.png", "image/png", []byte("\x89PNG fake")))
	got := created.wait(t, 1)[0]
	if got.ID != typed.ID || got.Content != typed.Content || got.Author.ID != s.AdminUserID {
		t.Fatalf("MessageCreate = %+v", got.Message)
	}
	if got.Member == nil || len(got.Member.Roles) != 1 || got.Member.Roles[0] != s.AdminRoleID {
		t.Fatalf("member on MessageCreate = %+v", got.Member)
	}
	if len(got.Attachments) != 1 || got.Attachments[0].Filename != "pic.png" {
		t.Fatalf("attachments = %+v", got.Attachments)
	}
	// The attachment URL serves the bytes (through the rewriting client too).
	resp, err := s.HTTPClient().Get(got.Attachments[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "\x89PNG fake" {
		t.Fatalf("attachment body %q", body)
	}
	if len(got.Mentions) != 1 || got.Mentions[0].ID != s.BotUserID {
		t.Fatalf("mentions = %+v", got.Mentions)
	}
	// A reply carries message_reference and pings the replied author.
	reply := s.Type(s.AdminChannelID, s.PlainUserID, "re", WithReply(typed.ID))
	if reply.MessageReference == nil || reply.MessageReference.MessageID != typed.ID || reply.Pinged.Users[0] != s.AdminUserID {
		t.Fatalf("reply = %+v pinged %+v", reply.MessageReference, reply.Pinged)
	}
	other := s.AddBotMember("otherbot")
	s.Type(s.AdminChannelID, other, "beep")
	if got := created.wait(t, 3)[2]; !got.Author.Bot || got.Author.ID != other {
		t.Fatalf("other bot message author = %+v", got.Author)
	}
}

func TestMessageContentIntentRedacts(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dg := session(t, s)
	dg.Identify.Intents = discordgo.IntentsGuilds | discordgo.IntentsGuildMessages
	created := collect[*discordgo.MessageCreate](dg)
	open(t, dg)
	s.Type(s.AdminChannelID, s.PlainUserID, "secret")
	s.Type(s.AdminChannelID, s.PlainUserID, "hey <@"+s.BotUserID+">")
	got := created.wait(t, 2)
	if got[0].Content != "" || got[1].Content == "" {
		t.Fatalf("contents = %q, %q", got[0].Content, got[1].Content)
	}
}

func TestGatewayDownStoresOnly(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	m := s.Type(s.AdminChannelID, s.PlainUserID, "while offline")
	dg := session(t, s)
	created := collect[*discordgo.MessageCreate](dg)
	open(t, dg)
	msgs, err := dg.ChannelMessages(s.AdminChannelID, 10, "", "", "")
	if err != nil || len(msgs) != 1 || msgs[0].ID != m.ID {
		t.Fatalf("history = %v %v", msgs, err)
	}
	time.Sleep(20 * time.Millisecond)
	if created.len() != 0 {
		t.Fatalf("offline message was dispatched")
	}
}

func TestChannelLimits(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dg := session(t, s)
	cat, err := dg.GuildChannelCreateComplex(s.GuildID, discordgo.GuildChannelCreateData{Name: "QQ", Type: discordgo.ChannelTypeGuildCategory})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < MaxChannelsPerCategory; i++ {
		if _, err := dg.GuildChannelCreateComplex(s.GuildID, discordgo.GuildChannelCreateData{Name: "Chat With Alice", ParentID: cat.ID}); err != nil {
			t.Fatalf("channel %d: %v", i, err)
		}
	}
	_, err = dg.GuildChannelCreateComplex(s.GuildID, discordgo.GuildChannelCreateData{Name: "one-too-many", ParentID: cat.ID})
	re := restErr(t, err)
	if re.Response.StatusCode != 400 || re.Message.Code != 50035 || !strings.Contains(string(re.ResponseBody), "CHANNEL_PARENT_MAX_CHANNELS") {
		t.Fatalf("category full: %s", re.ResponseBody)
	}
	chans, err := dg.GuildChannels(s.GuildID)
	if err != nil || len(chans) != 52 || chans[2].Name != "chat-with-alice" {
		t.Fatalf("GuildChannels: %d %v (name %q)", len(chans), err, chans[2].Name)
	}
	for i := len(chans); i < MaxChannelsPerGuild; i++ {
		if _, err := dg.GuildChannelCreate(s.GuildID, "c", discordgo.ChannelTypeGuildText); err != nil {
			t.Fatalf("channel %d: %v", i, err)
		}
	}
	_, err = dg.GuildChannelCreate(s.GuildID, "c", discordgo.ChannelTypeGuildText)
	if re := restErr(t, err); re.Message.Code != 30013 {
		t.Fatalf("guild full: %s", re.ResponseBody)
	}
}

func TestChannelEditDeleteDispatch(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dg := session(t, s)
	dg.StateEnabled = false // discordgo's state rewrites event structs in place
	creates := collect[*discordgo.ChannelCreate](dg)
	updates := collect[*discordgo.ChannelUpdate](dg)
	deletes := collect[*discordgo.ChannelDelete](dg)
	open(t, dg)
	ch, err := dg.GuildChannelCreateComplex(s.GuildID, discordgo.GuildChannelCreateData{Name: "qq-alice", Topic: "QQ 123"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dg.ChannelEdit(ch.ID, &discordgo.ChannelEdit{Name: "qq-alice-2", Topic: "QQ 456"}); err != nil {
		t.Fatal(err)
	}
	// An empty topic can be set with a raw request (discordgo's omitempty drops it).
	if _, err := dg.RequestWithBucketID("PATCH", discordgo.EndpointChannel(ch.ID), map[string]any{"topic": nil}, ""); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Channel(ch.ID); c.Topic != "" || c.Name != "qq-alice-2" {
		t.Fatalf("after edit: %+v", c)
	}
	if _, err := dg.ChannelDelete(ch.ID); err != nil {
		t.Fatal(err)
	}
	if creates.wait(t, 1)[0].ID != ch.ID || updates.wait(t, 2)[0].Topic != "QQ 456" || deletes.wait(t, 1)[0].ID != ch.ID {
		t.Fatal("channel events wrong")
	}
	if _, ok := s.Channel(ch.ID); ok {
		t.Fatal("channel still stored")
	}
	_, err = dg.Channel(ch.ID)
	if re := restErr(t, err); re.Message.Code != 10003 || re.Response.StatusCode != 404 {
		t.Fatalf("deleted channel: %s", re.ResponseBody)
	}
}

func TestWebhooks(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dg := session(t, s)
	wh, err := dg.WebhookCreate(s.AdminChannelID, "bridge", "")
	if err != nil {
		t.Fatal(err)
	}
	if wh.Token == "" || wh.ChannelID != s.AdminChannelID {
		t.Fatalf("webhook = %+v", wh)
	}
	msg, err := dg.WebhookExecute(wh.ID, wh.Token, true, &discordgo.WebhookParams{
		Content:         "@everyone hi <@" + s.AdminUserID + "> <@&" + s.AdminRoleID + ">",
		Username:        "Alice (QQ)",
		AvatarURL:       "https://y.qq.com/avatar/alice.jpg",
		AllowedMentions: &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if msg.WebhookID != wh.ID || msg.Author.Username != "Alice (QQ)" || msg.MentionEveryone || len(msg.Mentions) != 0 {
		t.Fatalf("webhook message = %+v", msg)
	}
	stored := s.Messages(s.AdminChannelID)
	if len(stored) != 1 || !stored[0].Pinged.None() || stored[0].AvatarURL != "https://y.qq.com/avatar/alice.jpg" {
		t.Fatalf("stored = %+v", stored)
	}
	// parse: null (discordgo's zero value) is treated as "parse everything".
	msg2, err := dg.WebhookExecute(wh.ID, wh.Token, true, &discordgo.WebhookParams{
		Content: "@everyone", AllowedMentions: &discordgo.MessageAllowedMentions{},
	})
	if err != nil || !msg2.MentionEveryone {
		t.Fatalf("parse null: %+v %v", msg2, err)
	}
	// Edit and delete the webhook message.
	edited, err := dg.WebhookMessageEdit(wh.ID, wh.Token, msg.ID, &discordgo.WebhookEdit{Content: ptr("edited")})
	if err != nil || edited.Content != "edited" || edited.EditedTimestamp == nil {
		t.Fatalf("edit: %+v %v", edited, err)
	}
	if err := dg.WebhookMessageDelete(wh.ID, wh.Token, msg.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Messages(s.AdminChannelID)); n != 1 {
		t.Fatalf("%d messages after delete", n)
	}
	// Name rules and the 15-per-channel limit.
	_, err = dg.WebhookCreate(s.AdminChannelID, "my discord hook", "")
	if re := restErr(t, err); re.Message.Code != 50035 {
		t.Fatalf("bad name: %s", re.ResponseBody)
	}
	for i := 1; i < MaxWebhooksPerChannel; i++ {
		if _, err := dg.WebhookCreate(s.AdminChannelID, "bridge", ""); err != nil {
			t.Fatal(err)
		}
	}
	_, err = dg.WebhookCreate(s.AdminChannelID, "bridge", "")
	if re := restErr(t, err); re.Message.Code != 30007 {
		t.Fatalf("16th webhook: %s", re.ResponseBody)
	}
	list, err := dg.ChannelWebhooks(s.AdminChannelID)
	if err != nil || len(list) != 15 {
		t.Fatalf("ChannelWebhooks: %d %v", len(list), err)
	}
	glist, err := dg.GuildWebhooks(s.GuildID)
	if err != nil || len(glist) != 15 {
		t.Fatalf("GuildWebhooks: %d %v", len(glist), err)
	}
	// Wrong token.
	_, err = dg.WebhookExecute(wh.ID, "nope", true, &discordgo.WebhookParams{Content: "x"})
	if re := restErr(t, err); re.Message.Code != 50027 {
		t.Fatalf("bad token: %s", re.ResponseBody)
	}
}

func ptr[T any](v T) *T { return &v }

func TestForumThreadsAndWebhookThreadID(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	forum := s.AddChannel(Channel{Type: ChannelTypeForum, Name: "qq-inbox"})
	dg := session(t, s)
	threads := collect[*discordgo.ThreadCreate](dg)
	open(t, dg)
	th, err := dg.ForumThreadStartComplex(forum, &discordgo.ThreadStart{Name: "Alice"}, &discordgo.MessageSend{Content: "first"})
	if err != nil {
		t.Fatal(err)
	}
	if th.ParentID != forum || th.Type != discordgo.ChannelTypeGuildPublicThread {
		t.Fatalf("thread = %+v", th)
	}
	if got := threads.wait(t, 1)[0]; got.ID != th.ID || !got.NewlyCreated {
		t.Fatalf("THREAD_CREATE = %+v", got.Channel)
	}
	if ms := s.Messages(th.ID); len(ms) != 1 || ms[0].ID != th.ID || ms[0].Content != "first" {
		t.Fatalf("starter message = %+v", ms)
	}
	wh, err := dg.WebhookCreate(forum, "bridge", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = dg.WebhookExecute(wh.ID, wh.Token, true, &discordgo.WebhookParams{Content: "no thread"})
	if re := restErr(t, err); re.Message.Code != 220001 {
		t.Fatalf("forum without thread: %s", re.ResponseBody)
	}
	m, err := dg.WebhookThreadExecute(wh.ID, wh.Token, true, th.ID, &discordgo.WebhookParams{Content: "in thread", Username: "Alice"})
	if err != nil || m.ChannelID != th.ID {
		t.Fatalf("thread execute: %+v %v", m, err)
	}
	m2, err := dg.WebhookExecute(wh.ID, wh.Token, true, &discordgo.WebhookParams{Content: "new post", ThreadName: "Bob"})
	if err != nil || m2.ChannelID == th.ID {
		t.Fatalf("thread_name execute: %+v %v", m2, err)
	}
	if c, ok := s.Channel(m2.ChannelID); !ok || c.Name != "Bob" || c.ParentID != forum {
		t.Fatalf("created thread = %+v", c)
	}
	// Archived threads are unarchived by a webhook post.
	if _, err := dg.ChannelEdit(th.ID, &discordgo.ChannelEdit{Archived: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := dg.WebhookThreadExecute(wh.ID, wh.Token, false, th.ID, &discordgo.WebhookParams{Content: "wake"}); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Channel(th.ID); c.ThreadMetadata.Archived {
		t.Fatal("thread still archived")
	}
}

func TestUploadAndMessageLimits(t *testing.T) {
	t.Parallel()
	s := newServer(t, WithUploadLimit(1024))
	dg := session(t, s)
	m, err := dg.ChannelMessageSendComplex(s.AdminChannelID, &discordgo.MessageSend{
		Content: "file",
		Files:   []*discordgo.File{{Name: "voice.amr", ContentType: "audio/amr", Reader: strings.NewReader("#!AMR data")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "voice.amr" || m.Attachments[0].Size != 10 {
		t.Fatalf("attachments = %+v", m.Attachments)
	}
	if st := s.Messages(s.AdminChannelID); string(st[0].Attachments[0].Data) != "#!AMR data" {
		t.Fatalf("stored bytes %q", st[0].Attachments[0].Data)
	}
	_, err = dg.ChannelMessageSendComplex(s.AdminChannelID, &discordgo.MessageSend{
		Files: []*discordgo.File{{Name: "big.bin", Reader: bytes.NewReader(make([]byte, 2048))}},
	})
	if re := restErr(t, err); re.Response.StatusCode != 413 || re.Message.Code != 40005 {
		t.Fatalf("too big: %s", re.ResponseBody)
	}
	tests := []struct {
		name string
		send *discordgo.MessageSend
		code int
		want string
	}{
		{"content 2001", &discordgo.MessageSend{Content: strings.Repeat("字", 2001)}, 50035, "content"},
		{"empty", &discordgo.MessageSend{}, 50006, ""},
		{"11 embeds", &discordgo.MessageSend{Embeds: make11Embeds()}, 50035, "embeds"},
		{"description 4097", &discordgo.MessageSend{Embeds: []*discordgo.MessageEmbed{{Description: strings.Repeat("a", 4097)}}}, 50035, "description"},
		{"total 6001", &discordgo.MessageSend{Embeds: []*discordgo.MessageEmbed{
			{Description: strings.Repeat("a", 4000)}, {Description: strings.Repeat("a", 2001)}}}, 50035, "MAX_EMBED_SIZE_EXCEEDED"},
		{"26 fields", &discordgo.MessageSend{Embeds: []*discordgo.MessageEmbed{{Fields: make26Fields()}}}, 50035, "fields"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dg.ChannelMessageSendComplex(s.AdminChannelID, tc.send)
			re := restErr(t, err)
			if re.Message.Code != tc.code || !strings.Contains(string(re.ResponseBody), tc.want) {
				t.Fatalf("got %s", re.ResponseBody)
			}
		})
	}
	// 2000 characters of CJK are fine.
	if _, err := dg.ChannelMessageSend(s.AdminChannelID, strings.Repeat("字", 2000)); err != nil {
		t.Fatal(err)
	}
}

func make11Embeds() []*discordgo.MessageEmbed {
	var out []*discordgo.MessageEmbed
	for i := 0; i < 11; i++ {
		out = append(out, &discordgo.MessageEmbed{Title: "t"})
	}
	return out
}

func make26Fields() []*discordgo.MessageEmbedField {
	var out []*discordgo.MessageEmbedField
	for i := 0; i < 26; i++ {
		out = append(out, &discordgo.MessageEmbedField{Name: "n", Value: "v"})
	}
	return out
}

func TestMessagesPagingEditDeleteReact(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dg := session(t, s)
	var ids []string
	for i := 0; i < 7; i++ {
		ids = append(ids, s.Type(s.AdminChannelID, s.PlainUserID, string(rune('a'+i))).ID)
	}
	after, err := dg.ChannelMessages(s.AdminChannelID, 3, "", ids[1], "")
	if err != nil || len(after) != 3 || after[0].ID != ids[4] || after[2].ID != ids[2] {
		t.Fatalf("after: %v %v", ids, after)
	}
	before, err := dg.ChannelMessages(s.AdminChannelID, 2, ids[3], "", "")
	if err != nil || len(before) != 2 || before[0].ID != ids[2] || before[1].ID != ids[1] {
		t.Fatalf("before: %v", before)
	}
	got, err := dg.ChannelMessage(s.AdminChannelID, ids[0])
	if err != nil || got.Content != "a" {
		t.Fatalf("get: %v %v", got, err)
	}
	if err := dg.MessageReactionAdd(s.AdminChannelID, ids[0], "✅"); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.Message(s.AdminChannelID, ids[0]); len(m.Reactions) != 1 || m.Reactions[0].Emoji.Name != "✅" || !m.Reactions[0].Me {
		t.Fatalf("reactions = %+v", m.Reactions)
	}
	_, err = dg.ChannelMessageEdit(s.AdminChannelID, ids[0], "mine now?")
	if re := restErr(t, err); re.Message.Code != 50005 {
		t.Fatalf("edit other's: %s", re.ResponseBody)
	}
	own, err := dg.ChannelMessageSend(s.AdminChannelID, "bot")
	if err != nil {
		t.Fatal(err)
	}
	if e, err := dg.ChannelMessageEdit(s.AdminChannelID, own.ID, "bot 2"); err != nil || e.Content != "bot 2" {
		t.Fatalf("edit own: %v %v", e, err)
	}
	if err := dg.ChannelMessageDelete(s.AdminChannelID, own.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Message(s.AdminChannelID, own.ID); ok {
		t.Fatal("deleted message still stored")
	}
}

func TestAllowedMentionsPings(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dg := session(t, s)
	content := "@here <@" + s.AdminUserID + "> <@!" + s.PlainUserID + "> <@&" + s.ManagerRoleID + ">"
	tests := []struct {
		name     string
		am       *discordgo.MessageAllowedMentions
		everyone bool
		users    int
		roles    int
	}{
		{"absent pings all", nil, true, 2, 1},
		{"empty parse pings none", &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}, false, 0, 0},
		{"users list", &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}, Users: []string{s.PlainUserID}}, false, 1, 0},
		{"parse roles", &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{discordgo.AllowedMentionTypeRoles}}, false, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := dg.ChannelMessageSendComplex(s.AdminChannelID, &discordgo.MessageSend{Content: content, AllowedMentions: tc.am})
			if err != nil {
				t.Fatal(err)
			}
			st, _ := s.Message(s.AdminChannelID, m.ID)
			if st.Pinged.Everyone != tc.everyone || len(st.Pinged.Users) != tc.users || len(st.Pinged.Roles) != tc.roles {
				t.Fatalf("pinged = %+v", st.Pinged)
			}
		})
	}
	_, err := dg.ChannelMessageSendComplex(s.AdminChannelID, &discordgo.MessageSend{Content: "x", AllowedMentions: &discordgo.MessageAllowedMentions{
		Parse: []discordgo.AllowedMentionType{discordgo.AllowedMentionTypeUsers}, Users: []string{s.PlainUserID}}})
	if re := restErr(t, err); re.Message.Code != 50035 {
		t.Fatalf("exclusive: %s", re.ResponseBody)
	}
}

func TestRateLimitAndFailures(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dg := session(t, s)
	s.RateLimit(1, 250*time.Millisecond, false)
	_, err := dg.ChannelMessageSend(s.AdminChannelID, "x", discordgo.WithRetryOnRatelimit(false))
	var rl *discordgo.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 250*time.Millisecond {
		t.Fatalf("want RateLimitError 250ms, got %v", err)
	}
	s.RateLimit(1, 20*time.Millisecond, true)
	if _, err := dg.ChannelMessageSend(s.AdminChannelID, "retried"); err != nil {
		t.Fatalf("discordgo retry: %v", err)
	}
	if s.Count429() != 2 || s.Count("POST", "/channels/*/messages") != 3 {
		t.Fatalf("429s %d posts %d", s.Count429(), s.Count("POST", "/channels/{id}/messages"))
	}
	s.FailNext(1, http.StatusInternalServerError)
	_, err = dg.ChannelMessageSend(s.AdminChannelID, "x")
	if re := restErr(t, err); re.Response.StatusCode != 500 {
		t.Fatalf("FailNext: %v", err)
	}
	// Raw headers of a global 429.
	s.RateLimit(1, 1500*time.Millisecond, true)
	resp := rawDo(t, s, "GET", "/api/v10/users/@me", "", "Bot "+s.Token)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" || resp.Header.Get("X-RateLimit-Global") != "true" ||
		resp.Header.Get("X-RateLimit-Reset-After") != "1.500" {
		t.Fatalf("429 headers: %d %v", resp.StatusCode, resp.Header)
	}
	var body struct {
		RetryAfter float64 `json:"retry_after"`
		Global     bool    `json:"global"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.RetryAfter != 1.5 || !body.Global {
		t.Fatalf("429 body: %+v %v", body, err)
	}
	resp.Body.Close()
}

func TestGlobalLimit(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.SetGlobalLimit(5)
	ok, limited := 0, 0
	for i := 0; i < 8; i++ {
		resp := rawDo(t, s, "GET", "/api/v9/users/@me", "", "Bot "+s.Token)
		resp.Body.Close()
		switch resp.StatusCode {
		case 200:
			ok++
		case 429:
			limited++
		}
	}
	if ok != 5 || limited != 3 {
		t.Fatalf("ok %d limited %d", ok, limited)
	}
}

func rawDo(t *testing.T, s *Server, method, path, body, auth string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestRawErrors(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	bot := "Bot " + s.Token
	tests := []struct {
		name, method, path, body, auth string
		status, code                   int
	}{
		{"no auth", "GET", "/api/v9/users/@me", "", "", 401, 0},
		{"bare token", "GET", "/api/v9/users/@me", "", s.Token, 401, 0},
		{"unknown route", "GET", "/api/v9/nope", "", bot, 404, 0},
		{"wrong method", "PUT", "/api/v9/users/@me", "", bot, 405, 0},
		{"broken json", "POST", "/api/v9/channels/" + s.AdminChannelID + "/messages", "{", bot, 400, 50109},
		{"wrong type", "POST", "/api/v9/channels/" + s.AdminChannelID + "/messages", `{"content":5}`, bot, 400, 50035},
		{"unknown channel", "POST", "/api/v9/channels/1/messages", `{"content":"x"}`, bot, 404, 10003},
		{"bad limit", "GET", "/api/v9/channels/" + s.AdminChannelID + "/messages?limit=500", "", bot, 400, 50035},
		{"bad emoji", "PUT", "/api/v9/channels/" + s.AdminChannelID + "/messages/1/reactions/abc/@me", "", bot, 400, 10014},
		{"array body", "POST", "/api/v9/guilds/" + s.GuildID + "/channels", `[1,2]`, bot, 400, 50035},
		{"unknown interaction", "POST", "/api/v9/interactions/1/tok/callback", `{"type":4,"data":{"content":"x"}}`, "", 404, 10062},
		{"unknown webhook", "POST", "/api/v9/webhooks/1/tok", `{"content":"x"}`, "", 404, 10015},
		{"bad commands", "PUT", "/api/v9/applications/" + s.ApplicationID + "/guilds/" + s.GuildID + "/commands", `[{"name":"Bad Name","description":""}]`, bot, 400, 50035},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := rawDo(t, s, tc.method, tc.path, tc.body, tc.auth)
			defer resp.Body.Close()
			var e struct {
				Code    *int   `json:"code"`
				Message string `json:"message"`
			}
			raw, _ := io.ReadAll(resp.Body)
			if err := json.Unmarshal(raw, &e); err != nil || e.Code == nil || e.Message == "" {
				t.Fatalf("body %q: %v", raw, err)
			}
			if resp.StatusCode != tc.status || *e.Code != tc.code {
				t.Fatalf("got %d %s", resp.StatusCode, raw)
			}
		})
	}
}

// TestMalformedNeverPanics throws junk at every route.
func TestMalformedNeverPanics(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	bodies := []string{"", "null", "{", "[]", `{"content":null,"embeds":{},"allowed_mentions":[]}`, `"x"`, `{"name":7}`,
		`{"type":"x","data":[]}`, `{"message":"x"}`, `{"parent_id":5}`, `{"embeds":[null]}`, `{"allowed_mentions":{"parse":["x"]}}`}
	paths := []string{
		"/guilds/" + s.GuildID + "/channels", "/channels/" + s.AdminChannelID, "/channels/" + s.AdminChannelID + "/messages",
		"/channels/" + s.AdminChannelID + "/webhooks", "/channels/" + s.AdminChannelID + "/threads",
		"/applications/" + s.ApplicationID + "/guilds/" + s.GuildID + "/commands", "/guilds/" + s.GuildID + "/members?limit=x",
		"/webhooks/1/2", "/interactions/1/2/callback", "/channels/" + s.AdminChannelID + "/messages?before=x&after=y",
	}
	for _, p := range paths {
		for _, m := range []string{"GET", "POST", "PATCH", "PUT", "DELETE"} {
			for _, b := range bodies {
				resp := rawDo(t, s, m, "/api/v9"+p, b, "Bot "+s.Token)
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 500 {
					t.Fatalf("%s %s %q: %d %s", m, p, b, resp.StatusCode, raw)
				}
			}
		}
	}
}

func TestInteractionRoundTrip(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dg := session(t, s)
	cmds, err := dg.ApplicationCommandBulkOverwrite(s.ApplicationID, s.GuildID, []*discordgo.ApplicationCommand{{
		Name: "bridge", Description: "Bridge control",
		Options: []*discordgo.ApplicationCommandOption{{Type: discordgo.ApplicationCommandOptionUser, Name: "who", Description: "who"}},
	}})
	if err != nil || len(cmds) != 1 || cmds[0].ID == "" {
		t.Fatalf("bulk overwrite: %v %v", cmds, err)
	}
	got := make(chan *discordgo.InteractionCreate, 4)
	dg.AddHandler(func(dg *discordgo.Session, ic *discordgo.InteractionCreate) {
		got <- ic
		switch ic.Type {
		case discordgo.InteractionApplicationCommand:
			_ = dg.InteractionRespond(ic.Interaction, &discordgo.InteractionResponse{
				Type: discordgo.InteractionResponseChannelMessageWithSource,
				Data: &discordgo.InteractionResponseData{Content: "status ok", Flags: discordgo.MessageFlagsEphemeral},
			})
		case discordgo.InteractionModalSubmit:
			_ = dg.InteractionRespond(ic.Interaction, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource})
			_, _ = dg.InteractionResponseEdit(ic.Interaction, &discordgo.WebhookEdit{Content: ptr("saved")})
			_, _ = dg.FollowupMessageCreate(ic.Interaction, true, &discordgo.WebhookParams{Content: "and more"})
		}
	})
	open(t, dg)
	it := s.InvokeCommand(s.AdminUserID, "bridge", map[string]any{"who": s.PlainUserID})
	resp, err := it.Response(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Type != CallbackChannelMessage || resp.Content != "status ok" || !resp.Ephemeral() {
		t.Fatalf("response = %+v", resp)
	}
	ic := <-got
	data := ic.ApplicationCommandData()
	if data.Name != "bridge" || data.ID != cmds[0].ID || data.Options[0].UserValue(nil).ID != s.PlainUserID {
		t.Fatalf("command data = %+v", data)
	}
	if ic.Member == nil || ic.Member.User.ID != s.AdminUserID || ic.Member.Permissions&discordgo.PermissionAdministrator == 0 {
		t.Fatalf("member = %+v", ic.Member)
	}
	if len(s.Messages(s.AdminChannelID)) != 0 {
		t.Fatal("ephemeral response stored in the channel")
	}
	// A second callback is refused.
	err = dg.InteractionRespond(ic.Interaction, &discordgo.InteractionResponse{Type: 4, Data: &discordgo.InteractionResponseData{Content: "again"}})
	if re := restErr(t, err); re.Message.Code != 40060 {
		t.Fatalf("second callback: %s", re.ResponseBody)
	}

	mod := s.SubmitModal(s.AdminUserID, "login", map[string]string{"cookie": "abc"})
	if r, err := mod.Response(ctxT(t)); err != nil || r.Type != CallbackDeferredChannelMessage {
		t.Fatalf("modal response = %+v %v", r, err)
	}
	mic := <-got
	if md := mic.ModalSubmitData(); md.CustomID != "login" || md.Components[0].(*discordgo.ActionsRow).Components[0].(*discordgo.TextInput).Value != "abc" {
		t.Fatalf("modal data = %+v", md)
	}
	if err := s.WaitFor(ctxT(t), func() bool { return len(mod.Followups()) == 1 }); err != nil {
		t.Fatal(err)
	}
	orig, _ := mod.Original()
	if orig.Content != "saved" || orig.Flags&FlagLoading != 0 || mod.Followups()[0].Content != "and more" {
		t.Fatalf("original %+v followups %+v", orig, mod.Followups())
	}
}

func TestInteractionTimeout(t *testing.T) {
	t.Parallel()
	s := newServer(t, WithInteractionTimeout(10*time.Millisecond))
	dg := session(t, s)
	seen := make(chan *discordgo.InteractionCreate, 1)
	dg.AddHandler(func(_ *discordgo.Session, ic *discordgo.InteractionCreate) { seen <- ic })
	open(t, dg)
	it := s.InvokeCommand(s.PlainUserID, "late", nil)
	ic := <-seen
	time.Sleep(20 * time.Millisecond)
	err := dg.InteractionRespond(ic.Interaction, &discordgo.InteractionResponse{Type: 4, Data: &discordgo.InteractionResponseData{Content: "x"}})
	if re := restErr(t, err); re.Message.Code != 10062 {
		t.Fatalf("late callback: %s", re.ResponseBody)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := it.Response(ctx); err == nil {
		t.Fatal("Response without a callback succeeded")
	}
}

func TestReconnectOp7Resumes(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dg := session(t, s)
	dg.ShouldReconnectOnError = true
	created := collect[*discordgo.MessageCreate](dg)
	open(t, dg)
	s.Type(s.AdminChannelID, s.PlainUserID, "before")
	created.wait(t, 1)
	s.SendReconnect()
	if err := s.WaitFor(ctxT(t), func() bool { return s.Resumes() >= 1 && s.Connected() }); err != nil {
		t.Fatal(err)
	}
	s.Type(s.AdminChannelID, s.PlainUserID, "after")
	if got := created.wait(t, 2); got[1].Content != "after" {
		t.Fatalf("after resume: %+v", got[1].Message)
	}
	if s.Identifies() != 1 || s.TotalGatewayConnections() < 2 {
		t.Fatalf("identifies %d connections %d", s.Identifies(), s.TotalGatewayConnections())
	}
}

func TestDropGatewayAndInvalidSession(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dg := session(t, s)
	dg.ShouldReconnectOnError = true
	open(t, dg)
	s.DropGateway()
	// discordgo's heartbeat and read goroutines may both reconnect, so
	// count at least one resume.
	if err := s.WaitFor(ctxT(t), func() bool { return s.Resumes() >= 1 && s.Connected() }); err != nil {
		t.Fatal(err)
	}
	s.SendInvalidSession(false)
	if err := s.WaitFor(ctxT(t), func() bool { return s.Identifies() >= 2 && s.Connected() }); err != nil {
		t.Fatal(err)
	}
}

func TestHeartbeatAcksOffAndHang(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.SetHeartbeatAcks(false)
	dg := session(t, s)
	open(t, dg)
	dg.RLock()
	first := dg.LastHeartbeatAck
	dg.RUnlock()
	if err := s.WaitFor(ctxT(t), func() bool { return s.Heartbeats() >= 3 }); err != nil {
		t.Fatal(err)
	}
	dg.RLock()
	last := dg.LastHeartbeatAck
	dg.RUnlock()
	if !last.Equal(first) {
		t.Fatal("heartbeat was ACKed while ACKs were off")
	}

	s2 := newServer(t)
	s2.HangGateway(true)
	dg2 := session(t, s2)
	done := make(chan error, 1)
	go func() { done <- dg2.Open() }()
	select {
	case err := <-done:
		t.Fatalf("Open returned %v while the gateway hangs", err)
	case <-time.After(50 * time.Millisecond):
	}
	s2.DropGateway()
	if err := <-done; err == nil {
		t.Fatal("Open succeeded on a dropped hanging gateway")
	}
}

func TestBadTokenClosesGateway(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dg := s.NewSession()
	dg.Token = "Bot wrong"
	dg.Identify.Token = ""
	err := dg.Open()
	_ = dg.Close()
	if err != nil {
		return // discordgo may surface the close while reading READY
	}
	if err := s.WaitFor(ctxT(t), func() bool { return s.GatewayConnections() == 0 }); err != nil {
		t.Fatal(err)
	}
	if s.Identifies() != 0 {
		t.Fatal("bad token identified")
	}
}

func TestGuildMembersRolesUser(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dg := session(t, s)
	me, err := dg.User("@me")
	if err != nil || me.ID != s.BotUserID || !me.Bot {
		t.Fatalf("@me = %+v %v", me, err)
	}
	g, err := dg.Guild(s.GuildID)
	if err != nil || g.OwnerID != s.AdminUserID || len(g.Roles) != 4 {
		t.Fatalf("guild = %+v %v", g, err)
	}
	id := s.AddMember("carol", s.ManagerRoleID)
	m, err := dg.GuildMember(s.GuildID, id)
	if err != nil || m.User.Username != "carol" || m.Roles[0] != s.ManagerRoleID {
		t.Fatalf("member = %+v %v", m, err)
	}
	ms, err := dg.GuildMembers(s.GuildID, "", 1000)
	if err != nil || len(ms) != 4 {
		t.Fatalf("members = %d %v", len(ms), err)
	}
	roles, err := dg.GuildRoles(s.GuildID)
	if err != nil || len(roles) != 4 {
		t.Fatalf("roles = %d %v", len(roles), err)
	}
	s.SetBotPermissions(PermViewChannel)
	_, err = dg.GuildChannelCreate(s.GuildID, "x", discordgo.ChannelTypeGuildText)
	if re := restErr(t, err); re.Message.Code != 50013 {
		t.Fatalf("missing perms: %s", re.ResponseBody)
	}
}

func TestIDsIncrease(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.Type(s.AdminChannelID, s.PlainUserID, "a").ID
	b := s.Type(s.AdminChannelID, s.PlainUserID, "b").ID
	if cmpID(a, b) >= 0 || len(a) < 17 {
		t.Fatalf("ids %s %s", a, b)
	}
	ts, err := discordgo.SnowflakeTimestamp(a)
	if err != nil || ts.Year() != 2025 {
		t.Fatalf("snowflake time %v %v", ts, err)
	}
}

func TestRouteFaultsAndRecords(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dg := session(t, s)
	wh, err := dg.WebhookCreate(s.AdminChannelID, "bridge", "")
	if err != nil {
		t.Fatal(err)
	}
	s.RateLimitRoute("POST", "/webhooks/{id}/{token}", 1, 10*time.Millisecond)
	s.FailRoute("", "/channels/*/messages", 1, http.StatusServiceUnavailable)
	if _, err := dg.ChannelMessageSend(s.AdminChannelID, "x"); err == nil {
		t.Fatal("FailRoute did not fail")
	}
	if _, err := dg.ChannelMessageSend(s.AdminChannelID, "x"); err != nil {
		t.Fatal(err)
	}
	_, err = dg.WebhookExecute(wh.ID, wh.Token, true, &discordgo.WebhookParams{Content: "x"}, discordgo.WithRetryOnRatelimit(false))
	var rl *discordgo.RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("want RateLimitError, got %v", err)
	}
	reqs := s.Requests()
	last := reqs[len(reqs)-1]
	if last.Method != "POST" || last.Status != 429 || last.Version != 9 || !strings.HasPrefix(last.Path, "/webhooks/") {
		t.Fatalf("last record = %+v", last)
	}
}

func TestAdminChangesDispatch(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dg := session(t, s)
	dg.StateEnabled = false
	adds := collect[*discordgo.GuildMemberAdd](dg)
	upd := collect[*discordgo.GuildMemberUpdate](dg)
	chUpd := collect[*discordgo.ChannelUpdate](dg)
	open(t, dg)
	id := s.AddMember("erin")
	s.SetMemberRoles(id, s.AdminRoleID)
	s.UpdateChannel(s.AdminChannelID, func(c *Channel) { c.Name = "renamed" })
	if a := adds.wait(t, 1)[0]; a.User.ID != id {
		t.Fatalf("member add %+v", a.Member)
	}
	if u := upd.wait(t, 1)[0]; u.Roles[0] != s.AdminRoleID {
		t.Fatalf("member update %+v", u.Member)
	}
	if c := chUpd.wait(t, 1)[0]; c.Name != "renamed" {
		t.Fatalf("channel update %+v", c.Channel)
	}
	if err := dg.GuildMemberRoleAdd(s.GuildID, s.PlainUserID, s.ManagerRoleID); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.Member(s.PlainUserID); len(m.Roles) != 1 {
		t.Fatalf("roles after add: %v", m.Roles)
	}
}

func TestRouteLimitPacesDiscordgo(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dg := session(t, s)
	wh, err := dg.WebhookCreate(s.AdminChannelID, "bridge", "")
	if err != nil {
		t.Fatal(err)
	}
	s.SetRouteLimit("POST", "/webhooks/*/*", 2, 300*time.Millisecond)
	start := time.Now()
	for i := 0; i < 3; i++ {
		if _, err := dg.WebhookExecute(wh.ID, wh.Token, true, &discordgo.WebhookParams{Content: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if s.Count429() != 0 || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("429s %d after %v: discordgo did not pace on the headers", s.Count429(), time.Since(start))
	}
	// A client that ignores the headers gets 429.
	s.SetRouteLimit("POST", "/channels/{id}/messages", 2, time.Minute)
	codes := []int{}
	for i := 0; i < 3; i++ {
		resp := rawDo(t, s, "POST", "/api/v9/channels/"+s.AdminChannelID+"/messages", `{"content":"y"}`, "Bot "+s.Token)
		if i < 2 && (resp.Header.Get("X-RateLimit-Limit") != "2" || resp.Header.Get("X-RateLimit-Remaining") != strconv.Itoa(1-i)) {
			t.Errorf("headers of request %d: %v", i, resp.Header)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	if codes[0] != 200 || codes[2] != 429 {
		t.Fatalf("codes %v", codes)
	}
	_, err = dg.WebhookExecute(wh.ID, wh.Token, true, &discordgo.WebhookParams{Content: "x", AvatarURL: "not a url"})
	if re := restErr(t, err); re.Message.Code != 50035 {
		t.Fatalf("bad avatar_url: %s", re.ResponseBody)
	}
}

func TestMemberPingPermissions(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.SetRolePermissions(s.EveryoneRoleID, PermViewChannel|PermSendMessages)
	content := "@everyone <@&" + s.ManagerRoleID + "> <@" + s.AdminUserID + ">"
	m := s.Type(s.AdminChannelID, s.PlainUserID, content)
	if m.Pinged.Everyone || len(m.Pinged.Roles) != 0 || len(m.Pinged.Users) != 1 {
		t.Fatalf("plain member pinged %+v", m.Pinged)
	}
	s.SetRoleMentionable(s.ManagerRoleID, true)
	if m := s.Type(s.AdminChannelID, s.PlainUserID, content); len(m.Pinged.Roles) != 1 || m.Pinged.Everyone {
		t.Fatalf("mentionable role: %+v", m.Pinged)
	}
	if m := s.Type(s.AdminChannelID, s.AdminUserID, content); !m.Pinged.Everyone {
		t.Fatalf("admin: %+v", m.Pinged)
	}
}

func TestInvokeSubcommand(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dg := session(t, s)
	_, err := dg.ApplicationCommandBulkOverwrite(s.ApplicationID, s.GuildID, []*discordgo.ApplicationCommand{{
		Name: "qq", Description: "QQ bridge",
		Options: []*discordgo.ApplicationCommandOption{{
			Type: discordgo.ApplicationCommandOptionSubCommand, Name: "mute", Description: "mute a session",
			Options: []*discordgo.ApplicationCommandOption{
				{Type: discordgo.ApplicationCommandOptionChannel, Name: "channel", Description: "c"},
				{Type: discordgo.ApplicationCommandOptionInteger, Name: "hours", Description: "h"},
			},
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan discordgo.ApplicationCommandInteractionData, 1)
	dg.AddHandler(func(dg *discordgo.Session, ic *discordgo.InteractionCreate) {
		got <- ic.ApplicationCommandData()
		_ = dg.InteractionRespond(ic.Interaction, &discordgo.InteractionResponse{Type: 4, Data: &discordgo.InteractionResponseData{Content: "ok"}})
	})
	open(t, dg)
	it := s.InvokeCommand(s.AdminUserID, "qq", map[string]any{"mute": map[string]any{"channel": s.AdminChannelID, "hours": 2}})
	if _, err := it.Response(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	d := <-got
	sub := d.Options[0]
	if sub.Type != discordgo.ApplicationCommandOptionSubCommand || sub.Name != "mute" || len(sub.Options) != 2 {
		t.Fatalf("sub = %+v", sub)
	}
	if sub.Options[0].Type != discordgo.ApplicationCommandOptionChannel || d.Resolved == nil || d.Resolved.Channels[s.AdminChannelID] == nil {
		t.Fatalf("channel option %+v resolved %+v", sub.Options[0], d.Resolved)
	}
	if sub.Options[1].IntValue() != 2 {
		t.Fatalf("hours = %v", sub.Options[1].Value)
	}
	if ms := s.Messages(s.AdminChannelID); len(ms) != 1 || ms[0].Interaction == nil || ms[0].Interaction.Name != "qq" {
		t.Fatalf("response message = %+v", ms)
	}
}

func TestDelayRouteAndDeadlines(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dg := session(t, s)
	s.DelayRoute("POST", "/channels/*/messages", 1, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := dg.ChannelMessageSend(s.AdminChannelID, "slow", discordgo.WithContext(ctx))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline exceeded, got %v", err)
	}
	if err := s.WaitFor(ctxT(t), func() bool { return len(s.Requests()) == 1 }); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Messages(s.AdminChannelID)); n != 0 || s.Requests()[0].Status != 0 {
		t.Fatalf("abandoned request stored %d messages, status %d", n, s.Requests()[0].Status)
	}
	if _, err := dg.ChannelMessageSend(s.AdminChannelID, "fast"); err != nil {
		t.Fatal(err)
	}
	if ct := s.Requests()[1].ContentType; ct != "application/json" {
		t.Fatalf("content type %q", ct)
	}
}

func TestMalformedMultipart(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	forum := s.AddChannel(Channel{Type: ChannelTypeForum, Name: "f"})
	cases := []struct{ ct, body string }{
		{"multipart/form-data", "x"},
		{"multipart/form-data; boundary=zz", "garbage"},
		{"multipart/form-data; boundary=zz", "--zz\r\nContent-Disposition: form-data; name=\"payload_json\"\r\n\r\n{bad\r\n--zz--\r\n"},
		{"multipart/form-data; boundary=zz", "--zz\r\nContent-Disposition: form-data; name=\"files[0]\"; filename=\"a.txt\"\r\n\r\nhi\r\n--zz--\r\n"},
		{"multipart/form-data; boundary=zz", "--zz\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\nplain form\r\n--zz--\r\n"},
	}
	paths := []string{"/channels/" + s.AdminChannelID + "/messages", "/channels/" + forum + "/threads", "/interactions/1/x/callback"}
	for _, p := range paths {
		for _, c := range cases {
			req, _ := http.NewRequest("POST", s.APIURL()+p, strings.NewReader(c.body))
			req.Header.Set("Authorization", "Bot "+s.Token)
			req.Header.Set("Content-Type", c.ct)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 || (resp.StatusCode >= 400 && !json.Valid(raw)) {
				t.Fatalf("%s %q: %d %s", p, c.body, resp.StatusCode, raw)
			}
		}
	}
	// A file-only message and a plain form field both post.
	ms := s.Messages(s.AdminChannelID)
	if len(ms) != 2 || ms[0].Attachments[0].Filename != "a.txt" || ms[1].Content != "plain form" {
		t.Fatalf("messages = %+v", ms)
	}
}

func TestCloseTwice(t *testing.T) {
	t.Parallel()
	s := New()
	s.Close()
	s.Close()
}
