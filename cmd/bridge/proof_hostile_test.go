package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// hostileFromQQ is a hostile QQ message, each in a session of its own so
// that the channel shows exactly what it became.
type hostileFromQQ struct {
	name string
	nick string // the peer's nick; "" for a plain one
	in   qqtest.Inbound
	// shown, when set, must appear (normalised, see visible) in what the
	// channel shows; for a text message the channel must show exactly the
	// text, normalised.
	shown []string
	sid   string
	ch    string
}

// hostileFromDiscord is a hostile reply a member types.
type hostileFromDiscord struct {
	name    string
	content string
	opts    []discordtest.MsgOption
	// want is what QQ must receive (the parts joined) when the bridge
	// sends it; the bridge may instead refuse it visibly (❌ and a reply
	// saying why).
	want string
	msg  discordtest.Message
}

// TestProofHostile: 50 hostile payloads, 34 from QQ (mass, role and user
// pings in every disguise, 10,000 characters, control characters, invalid
// UTF-8 and lone surrogates, zero-width characters, direction overrides,
// markdown bombs, emoji floods, Discord markup, hostile card and image
// fields, hostile nicks) and 16 from Discord. Nothing the bridge writes
// pings anyone; every QQ payload is shown (all of its visible characters,
// in a session channel of its own); every reply reaches QQ once as written
// or is refused visibly; the bridge neither crashes nor stops relaying.
func TestProofHostile(t *testing.T) {
	t.Parallel()
	p := newProof(t, 4)
	dc := p.dc
	role, admin, plain, guild := dc.AdminRoleID, dc.AdminUserID, dc.PlainUserID, dc.GuildID
	text := func(name, s string) hostileFromQQ {
		return hostileFromQQ{name: name, in: qqtest.Text(s), shown: []string{s}}
	}
	raw := func(name string, typ int, meta string, shown ...string) hostileFromQQ {
		return hostileFromQQ{name: name, in: qqtest.Inbound{MsgType: typ, RawMeta: []byte(meta)}, shown: shown}
	}
	fromQQ := []hostileFromQQ{
		text("everyone", "@everyone"),
		text("here", "@here"),
		text("mixed case", "@EveryOne and @HERE, mixed case"),
		text("user ping", "<@"+admin+"> look"),
		text("nick ping", "<@!"+plain+"> look"),
		text("role ping", "<@&"+role+"> role"),
		text("everyone role by id", "<@&"+guild+">"),
		text("disguised everyone", "@@everyone @\u200beveryone ＠everyone everyone@here"),
		text("markup around pings", "`@everyone` ```\n@here\n``` ||@everyone|| > @here *@everyone*"),
		text("10,000 characters", strings.Repeat("x", 10000)),
		text("10,000 characters of everyone", strings.Repeat("@everyone ", 1000)),
		text("control characters", "ctl \x00\x01\x02\x07\x08\x0b\x0c\x1b[31mred\x1b[0m\x7f end"),
		{name: "only white space", in: qqtest.Text(" \t\r\n \u3000 ")},
		raw("invalid UTF-8", 1, "{\"content\":\"bad \xff\xfe bytes \xc3\x28 end\"}", "bad \ufffd bytes \ufffd( end"),
		raw("lone surrogates", 1, `{"content":"half \ud800 a pair \udc00 end"}`, "half \ufffd a pair \ufffd end"),
		{name: "zero-width only", in: qqtest.Text("\u200b\u200c\u200d\u2060\ufeff")},
		text("zero-width inside pings", "e\u200bveryone @\u200deveryone <\u200b@"+admin+"> @\u2060here"),
		text("direction override", "\u202e@everyone\u202c txet desrever"),
		text("markdown bomb", strings.Repeat("**__~~||", 500)),
		text("quote and heading bomb", strings.Repeat("> # ", 300)+"@here"),
		text("masked links", "[free nitro](https://evil.example/@everyone) <https://evil.example> @everyone"),
		text("emoji flood", strings.Repeat("😀", 1500)),
		text("zalgo", "Z"+strings.Repeat("\u0336\u0337", 1000)+"algo"),
		text("discord markup", "<t:0:R> <#"+dc.AdminChannelID+"> </bridge:1> <:pepe:1234> <a:wave:5678> <@"+admin+">"),
		{name: "card with pings and bad URLs", in: qqtest.Card("@everyone <@&"+role+">", "<@"+admin+"> @here", "javascript:alert(1)", "file:///etc/passwd"),
			shown: []string{"@everyone", "@here", "file:///etc/passwd"}},
		{name: "card of 10,000 characters", in: qqtest.Card(strings.Repeat("T", 10000), strings.Repeat("@here ", 2000), "https://y.gtimg.cn/c.jpg", "https://y.qq.com/x"),
			shown: []string{"TTTT", "@here"}},
		raw("unknown type with pings", 4242, `{"content":"@everyone unknown","biz_id":"<@&`+role+`>","biz_type":3}`, "@everyone unknown", "4242"),
		raw("unknown type, 5,000 characters", 4243, `{"content":"`+strings.Repeat("@here ", 834)+`","biz_id":"`+strings.Repeat("b", 3000)+`"}`, "@here", "4243"),
		{name: "image with pings in the URL", in: qqtest.Image("https://img.example/@everyone.png?<@"+admin+">", 1, 1), shown: []string{"Image"}},
		{name: "image with a script URL", in: qqtest.Image("javascript:alert(1)", 10, 10), shown: []string{"javascript:alert(1)"}},
		{name: "nick everyone", nick: "@everyone", in: qqtest.Text("my name pings?"), shown: []string{"my name pings?"}},
		{name: "nick discord clyde", nick: "Discord Clyde support", in: qqtest.Text("hello"), shown: []string{"hello"}},
		{name: "nick of 200 characters", nick: strings.Repeat("ñ", 200), in: qqtest.Text("long nick"), shown: []string{"long nick"}},
		{name: "nick of control characters", nick: "\n\t\x00\x1b", in: qqtest.Text("no name"), shown: []string{"no name"}},
	}
	long := strings.Repeat("y", 2000)
	fromDiscord := []hostileFromDiscord{
		{name: "everyone", content: "@everyone hello QQ", want: "@everyone hello QQ"},
		{name: "here", content: "@here", want: "@here"},
		{name: "user mention", content: "<@" + plain + "> look", want: "@plain look"},
		{name: "role mention", content: "<@&" + role + "> role", want: "<@&" + role + "> role"},
		{name: "custom emoji", content: "<:pepe:123456789012345678> custom emoji", want: ":pepe: custom emoji"},
		{name: "2,000 characters", content: long, want: long},
		{name: "control characters", content: "a\x00b\x07c\x1bd", want: "a\x00b\x07c\x1bd"},
		{name: "zero-width only", content: "\u200b\u200b", want: "\u200b\u200b"},
		{name: "markdown bomb", content: strings.Repeat("**__~~||", 250), want: strings.Repeat("**__~~||", 250)},
		{name: "direction override", content: "\u202eevil\u202c", want: "\u202eevil\u202c"},
		{name: "surrounding spaces", content: "   spaced   ", want: "spaced"},
		{name: "invalid UTF-8", content: "bad \xff bytes", want: "bad \ufffd bytes"},
		{name: "emoji flood", content: strings.Repeat("😀", 1000), want: strings.Repeat("😀", 1000)},
		{name: "hostile file name", content: "", opts: []discordtest.MsgOption{discordtest.WithAttachment("@everyone <@&1>.png", "image/png", []byte("png"))}},
		{name: "zalgo", content: "Z" + strings.Repeat("\u0336", 500), want: "Z" + strings.Repeat("\u0336", 500)},
		{name: "code block", content: "```\n@everyone\n```", want: "```\n@everyone\n```"},
	}
	if n := len(fromQQ) + len(fromDiscord); n != 50 {
		t.Fatalf("%d payloads, want 50", n)
	}

	for i := range fromQQ {
		h := &fromQQ[i]
		nick := h.nick
		if nick == "" {
			nick = fmt.Sprintf("Hostile %02d", i)
		}
		h.sid = p.qq.AddSession(p.qq.AddUser(qqtest.User{Nick: nick}))
	}
	replies := p.qq.AddSession(p.qq.AddUser(qqtest.User{Nick: "Replies"}))
	if _, err := p.qq.Deliver(replies, qqtest.Text("reply to me")); err != nil {
		t.Fatal(err)
	}
	p.launch()
	p.healthy(60 * time.Second)
	for i := range fromQQ {
		if _, err := p.qq.Deliver(fromQQ[i].sid, fromQQ[i].in); err != nil {
			t.Fatal(err)
		}
	}
	replyCh := p.channelOf(replies, 60*time.Second)
	for i := range fromDiscord {
		h := &fromDiscord[i]
		h.msg = dc.Type(replyCh, admin, h.content, h.opts...)
		if h.name == "hostile file name" {
			// QQ gets the file as a line of name, size and link; the
			// name's mentions are plain text there.
			a := h.msg.Attachments[0]
			h.want = fmt.Sprintf("📎 %s (%d B): %s", a.Filename, a.Size, a.URL)
		}
	}

	// Every QQ payload shown, every reply settled.
	p.waitFor("every payload", 90*time.Second, func() bool {
		for i := range fromQQ {
			if fromQQ[i].ch == "" {
				chs := p.channelsOf(fromQQ[i].sid)
				if len(chs) == 0 {
					return false
				}
				fromQQ[i].ch = chs[0].ID
			}
			if len(p.posted(fromQQ[i].ch)) == 0 {
				return false
			}
		}
		for _, h := range fromDiscord {
			if !p.hasReaction(replyCh, h.msg.ID, "✅") && !p.hasReaction(replyCh, h.msg.ID, "❌") {
				return false
			}
		}
		return true
	}, nil)
	time.Sleep(1500 * time.Millisecond) // for late parts and duplicates

	for _, h := range fromQQ {
		t.Run("from QQ/"+h.name, func(t *testing.T) { checkHostileFromQQ(t, p, h) })
	}
	sent := p.sentTo(replies)
	refused := 0
	for _, h := range fromDiscord {
		t.Run("from Discord/"+h.name, func(t *testing.T) {
			if checkHostileFromDiscord(t, p, replyCh, h, sent) {
				refused++
			}
		})
	}
	if n := len(p.qq.Sent()); n != len(sent) {
		t.Errorf("QQ received %d messages outside the replies' session", n-len(sent))
	}
	t.Logf("%d replies reached QQ, %d were refused visibly", len(fromDiscord)-refused, refused)
	p.checkNoBotPings()

	// Still alive and relaying.
	if !p.alive() {
		t.Fatalf("the bridge died: %v", p.proc.ProcessState)
	}
	if _, err := p.qq.Deliver(replies, qqtest.Text("still there?")); err != nil {
		t.Fatal(err)
	}
	p.waitFor("a plain message after the hostile ones", 30*time.Second, func() bool {
		ps := p.posted(replyCh)
		return len(ps) > 0 && ps[len(ps)-1].Content == "still there?"
	}, nil)
	if code, body := p.get("/healthz"); code != 200 {
		t.Errorf("/healthz %d: %s", code, body)
	}
}

// checkHostileFromQQ asserts what one hostile QQ message became.
func checkHostileFromQQ(t *testing.T, p *proof, h hostileFromQQ) {
	if n := len(p.channelsOf(h.sid)); n != 1 {
		t.Errorf("%d channels for the session, want 1", n)
	}
	posts := p.posted(h.ch)
	if len(posts) == 0 {
		t.Fatal("nothing shown")
	}
	var all strings.Builder
	for _, m := range posts {
		if !utf8.ValidString(m.Content) {
			t.Errorf("content is not valid UTF-8: %q", clipForLog(m.Content))
		}
		if strings.TrimSpace(m.Content) == "" && len(m.Embeds) == 0 {
			t.Errorf("an empty message: %+v", m)
		}
		name := m.Author.Username
		if name == "" || utf8.RuneCountInString(name) > 80 || strings.IndexFunc(name, unicode.IsControl) >= 0 {
			t.Errorf("posted under the name %q", name)
		}
		all.WriteString(m.Content)
		all.WriteString(showEmbeds(m.Embeds))
	}
	if h.in.MsgType == qqtest.MsgTypeText && len(h.shown) == 1 && h.nick == "" {
		// A text: the channel shows exactly its characters, in order.
		got := visible(strings.Join(contents(posts), ""))
		if want := visible(h.shown[0]); got != want {
			t.Errorf("shown as %d posts reading %q, want %q", len(posts), clipForLog(got), clipForLog(want))
		}
		return
	}
	for _, s := range h.shown {
		if !strings.Contains(visible(all.String()), visible(s)) {
			t.Errorf("%q is not shown; the channel shows %q", clipForLog(s), clipForLog(all.String()))
		}
	}
	if len(h.shown) == 0 && len(posts) != 1 {
		t.Errorf("shown as %d posts, want 1", len(posts))
	}
	t.Logf("shown as %d posts: %q", len(posts), clipForLog(all.String()))
}

// visible is what a reader sees of s, for comparing a payload with its
// rendering: invalid UTF-8 as one U+FFFD per run, without white space and
// without the zero-width spaces the bridge inserts into mentions.
func visible(s string) string {
	s = strings.ToValidUTF8(s, "\ufffd")
	var b strings.Builder
	lastBad := false
	for _, r := range s {
		if unicode.IsSpace(r) || r == '\u200b' {
			continue
		}
		if r == '\ufffd' && lastBad {
			continue
		}
		lastBad = r == '\ufffd'
		b.WriteRune(r)
	}
	return b.String()
}

// checkHostileFromDiscord asserts that a reply reached QQ once, as
// written, marked ✅, or was refused visibly. It reports a refusal.
func checkHostileFromDiscord(t *testing.T, p *proof, ch string, h hostileFromDiscord, sent []qqtest.Sent) (refused bool) {
	var parts []string
	for _, s := range sent {
		if strings.HasPrefix(s.ClientKey, "qmdb-"+h.msg.ID+"-") {
			parts = append(parts, s.Meta.Content)
			if utf8.RuneCountInString(s.Meta.Content) > 1000 {
				t.Errorf("a part of %d characters", utf8.RuneCountInString(s.Meta.Content))
			}
		}
	}
	if p.hasReaction(ch, h.msg.ID, "❌") {
		explained := false
		for _, m := range p.dc.Messages(ch) {
			if m.Author.ID == p.dc.BotUserID && m.MessageReference != nil && m.MessageReference.MessageID == h.msg.ID {
				explained = true
				t.Logf("refused: %q", m.Content)
			}
		}
		if !explained {
			t.Error("marked ❌ without a reply saying why")
		}
		if len(parts) > 0 {
			t.Errorf("marked ❌ but QQ received %q", parts)
		}
		return true
	}
	if !p.hasReaction(ch, h.msg.ID, "✅") {
		t.Error("neither ✅ nor ❌")
	}
	if got := strings.Join(parts, ""); got != h.want {
		t.Errorf("QQ received %d parts reading %q, want %q", len(parts), clipForLog(got), clipForLog(h.want))
	}
	return false
}
