package discordtest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

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
