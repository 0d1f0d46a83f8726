package discordtest

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

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
