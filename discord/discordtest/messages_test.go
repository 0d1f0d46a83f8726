package discordtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

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
