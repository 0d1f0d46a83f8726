package discord

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

func TestChannelName(t *testing.T) {
	long := strings.Repeat("ab", 80)
	tests := []struct {
		nick, fallback, want string
	}{
		{"Alice", "qq-1", "alice"},
		{"Alice Smith", "qq-1", "alice-smith"},
		{"  Alice   Smith!!  ", "qq-1", "alice-smith"},
		{"周杰伦", "qq-1", "周杰伦"},
		{"周杰伦 Jay", "qq-1", "周杰伦-jay"},
		{"小明🎵的音乐", "qq-1", "小明-的音乐"},
		{"#$%^&*", "qq 42", "qq-42"},
		{"", "", "qq-session"},
		{"under_score", "x", "under_score"},
		{"Ünïcödé", "x", "ünïcödé"},
		{long, "x", long[:100]},
		{"a" + strings.Repeat(" ", 50) + "b", "x", "a-b"},
		{strings.Repeat("x", 99) + " y", "x", strings.Repeat("x", 99)},
	}
	for _, tt := range tests {
		got := ChannelName(tt.nick, tt.fallback)
		if got != tt.want {
			t.Errorf("ChannelName(%q) = %q, want %q", tt.nick, got, tt.want)
		}
		if utf8.RuneCountInString(got) > maxChannelName {
			t.Errorf("ChannelName(%q) too long: %d", tt.nick, utf8.RuneCountInString(got))
		}
	}
}

func TestUniqueName(t *testing.T) {
	taken := map[string]bool{"alice": true, "alice-2": true}
	has := func(s string) bool { return taken[s] }
	if got := UniqueName("bob", has); got != "bob" {
		t.Errorf("free name: got %q", got)
	}
	if got := UniqueName("alice", has); got != "alice-3" {
		t.Errorf("taken name: got %q, want alice-3", got)
	}
	long := strings.Repeat("周", 100)
	taken[long] = true
	got := UniqueName(long, has)
	if utf8.RuneCountInString(got) != 100 || !strings.HasSuffix(got, "-2") {
		t.Errorf("long taken name: got %q (%d runes)", got, utf8.RuneCountInString(got))
	}
}

func TestTopicAndThreadName(t *testing.T) {
	s := bridge.Session{ID: "12345_67890", Peer: bridge.Peer{UIN: "12345", Nick: "周杰伦\nJay"}}
	tag := SessionTag("Bot secret-token", s.ID)
	if len(tag) != 8 || tag != SessionTag("secret-token", s.ID) || tag == SessionTag("other-token", s.ID) || tag == SessionTag("secret-token", "12345_67891") {
		t.Errorf("SessionTag = %q: want 8 hex digits, the same with or without \"Bot \", different for another token or session", tag)
	}
	topic := Topic(s, tag)
	if topic != "QQ Music chat with 周杰伦 Jay · #"+tag {
		t.Errorf("Topic = %q", topic)
	}
	for _, secret := range []string{"12345", "67890"} {
		if strings.Contains(topic, secret) || strings.Contains(ThreadName(s.Peer, tag), secret) {
			t.Errorf("topic %q or thread name shows %s", topic, secret)
		}
	}
	if got := topicTag(topic); got != tag {
		t.Errorf("topicTag = %q", got)
	}
	s.Peer.Nick = strings.Repeat("n", 2000)
	topic = Topic(s, tag)
	if utf8.RuneCountInString(topic) > maxTopic || topicTag(topic) != tag {
		t.Errorf("long nick topic: %d runes, tag %q", utf8.RuneCountInString(topic), topicTag(topic))
	}
	for _, tt := range []struct{ topic, id, nick, uin string }{
		{"QQ Music chat with Bob · QQ uin 7 · session s-7", "s-7", "Bob", "7"},
		{"QQ Music chat with (no nick) · QQ uin 8 · session s-8", "s-8", "", "8"},
		{"QQ Music chat with A · B · QQ uin - · session s-9", "s-9", "A · B", ""},
	} {
		nick, uin := legacyPeer(tt.topic)
		if topicSessionID(tt.topic) != tt.id || nick != tt.nick || uin != tt.uin || topicTag(tt.topic) != "" {
			t.Errorf("earlier version's topic %q: id %q nick %q uin %q", tt.topic, topicSessionID(tt.topic), nick, uin)
		}
	}
	if got := ThreadName(bridge.Peer{UIN: "7", Nick: " Bob  Marley "}, "0a1b2c3d"); got != "Bob Marley (#0a1b2c3d)" {
		t.Errorf("ThreadName = %q", got)
	}
	if got := ThreadName(bridge.Peer{UIN: "7", Nick: strings.Repeat("长", 300)}, "0a1b2c3d"); utf8.RuneCountInString(got) != 100 || !strings.HasSuffix(got, " (#0a1b2c3d)") {
		t.Errorf("long ThreadName = %q", got)
	}
}

func TestCategoryName(t *testing.T) {
	for n, want := range map[int]string{1: "QQ Music", 2: "QQ Music 2", 10: "QQ Music 10"} {
		got := CategoryName("QQ Music", n)
		if got != want {
			t.Errorf("CategoryName(%d) = %q", n, got)
		}
		if back := categoryIndex("QQ Music", got); back != n {
			t.Errorf("categoryIndex(%q) = %d, want %d", got, back, n)
		}
	}
	for _, other := range []string{"QQ Musicx", "QQ Music x", "QQ Music 1", "Other", "QQ Music 0", ""} {
		if n := categoryIndex("QQ Music", other); n != 0 {
			t.Errorf("categoryIndex(%q) = %d, want 0", other, n)
		}
	}
}

func TestSplitContent(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want []string
	}{
		{"short", "hello", 10, []string{"hello"}},
		{"empty", "", 10, nil},
		{"blank", "  \n ", 10, nil},
		{"exact", "0123456789", 10, []string{"0123456789"}},
		{"line boundary", "aaaa\nbbbb\ncccc", 10, []string{"aaaa\nbbbb", "cccc"}},
		{"word boundary", "aaa bbb ccc ddd", 8, []string{"aaa bbb", "ccc ddd"}},
		{"hard split", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"cjk hard split", "一二三四五六七", 3, []string{"一二三", "四五六", "七"}},
		{"astral counts two", "😀😀😀", 4, []string{"😀😀", "😀"}},
		{"prefers newline over space", "aa bb\ncc dd ee", 10, []string{"aa bb", "cc dd ee"}},
		{"leading newline", "\naaaaaaaa", 4, []string{"aaaa", "aaaa"}},
		{"invalid utf8", "ab\xffcd", 10, []string{"ab\uFFFDcd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SplitContent(tt.in, tt.max)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Errorf("SplitContent(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
		})
	}
	big := strings.Repeat("word ", 1000) // 5000 chars
	parts := SplitContent(big, MaxContent)
	if len(parts) != 3 {
		t.Fatalf("5000 chars in %d parts, want 3", len(parts))
	}
	for _, p := range parts {
		if textLen(p) > MaxContent || strings.HasPrefix(p, " ") || strings.HasSuffix(p, "wor") {
			t.Errorf("bad part (len %d): starts %q ends %q", textLen(p), p[:5], p[len(p)-5:])
		}
	}
}

func TestNeutraliseMentions(t *testing.T) {
	tests := []struct{ in, want string }{
		{"hi @everyone", "hi @\u200beveryone"},
		{"@here now", "@\u200bhere now"},
		{"@EVERYONE", "@\u200bEVERYONE"},
		{"user <@123> role <@&456> nick <@!789>", "user <\u200b@123> role <\u200b@&456> nick <\u200b@!789>"},
		{"mail a@b.c", "mail a@b.c"},
		{"no at", "no at"},
		{"@@everyone", "@@\u200beveryone"},
	}
	for _, tt := range tests {
		if got := NeutraliseMentions(tt.in); got != tt.want {
			t.Errorf("NeutraliseMentions(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWebhookUsername(t *testing.T) {
	tests := []struct {
		nick, uin string
		owner     bool
		want      string
	}{
		{"Alice", "1", false, "Alice"},
		{"Alice", "1", true, "Alice (you, from QQ)"},
		{"", "42", false, "QQ user 42"},
		{"   ", "", false, "QQ user"},
		{"Discord Fan", "1", false, "D\u200ciscord Fan"},
		{"clydeCLYDE", "1", false, "c\u200clydeC\u200cLYDE"},
		{"a\nb", "1", false, "a b"},
		{"everyone", "1", false, "everyone (QQ)"},
	}
	for _, tt := range tests {
		if got := WebhookUsername(tt.nick, tt.uin, tt.owner); got != tt.want {
			t.Errorf("WebhookUsername(%q, %v) = %q, want %q", tt.nick, tt.owner, got, tt.want)
		}
	}
	long := WebhookUsername(strings.Repeat("名", 200), "1", true)
	if utf8.RuneCountInString(long) > maxWebhookName || !strings.HasSuffix(long, "(you, from QQ)") {
		t.Errorf("long name %q", long)
	}
}

func TestRender(t *testing.T) {
	long := strings.Repeat("line of text\n", 400) // 5200 chars
	tests := []struct {
		name   string
		m      bridge.Message
		check  func(t *testing.T, out []outMessage)
		nparts int
	}{
		{"text", bridge.Message{Kind: bridge.KindText, Text: "hi @everyone"}, func(t *testing.T, out []outMessage) {
			if out[0].Content != "hi @\u200beveryone" || len(out[0].Embeds) != 0 {
				t.Errorf("got %+v", out[0])
			}
		}, 1},
		{"long text", bridge.Message{Kind: bridge.KindText, Text: long}, nil, 3},
		{"empty", bridge.Message{Kind: bridge.KindText}, func(t *testing.T, out []outMessage) {
			if out[0].Content == "" {
				t.Error("empty message rendered as nothing")
			}
		}, 1},
		{"image", bridge.Message{Kind: bridge.KindImage, Media: &bridge.Media{URL: "https://img.example/a.jpg", Width: 10, Height: 20}}, func(t *testing.T, out []outMessage) {
			e := out[0].Embeds[0]
			if e.Image == nil || e.Image.URL != "https://img.example/a.jpg" || !strings.Contains(e.Description, "10×20") {
				t.Errorf("image embed %+v", e)
			}
		}, 1},
		{"image with bad url", bridge.Message{Kind: bridge.KindImage, Media: &bridge.Media{URL: "javascript:x"}}, func(t *testing.T, out []outMessage) {
			e := out[0].Embeds[0]
			if e.Image != nil || e.URL != "" || !strings.Contains(e.Description, "javascript:x") {
				t.Errorf("bad url embed %+v", e)
			}
		}, 1},
		{"video with caption", bridge.Message{Kind: bridge.KindVideo, Text: "look", Media: &bridge.Media{URL: "https://v.example/v.mp4", Duration: 32e9}}, func(t *testing.T, out []outMessage) {
			if out[0].Content != "look" || out[0].Embeds[0].URL != "https://v.example/v.mp4" || !strings.Contains(out[0].Embeds[0].Description, "32s") {
				t.Errorf("video %+v %+v", out[0], out[0].Embeds[0])
			}
		}, 1},
		{"card", bridge.Message{Kind: bridge.KindCard, Card: &bridge.Card{Title: strings.Repeat("T", 300), Description: "by @here", CoverURL: "https://c.example/x.png", URL: "https://y.qq.com/s"}}, func(t *testing.T, out []outMessage) {
			e := out[0].Embeds[0]
			if textLen(e.Title) != maxEmbedTitle || e.Description != "by @\u200bhere" || e.Thumbnail.URL != "https://c.example/x.png" || e.URL != "https://y.qq.com/s" {
				t.Errorf("card embed %+v", e)
			}
		}, 1},
		{"unknown", bridge.Message{Kind: bridge.KindUnknown, Type: 99, Fields: []bridge.Field{{Name: "a", Value: "1"}, {Name: "", Value: ""}}}, func(t *testing.T, out []outMessage) {
			e := out[0].Embeds[0]
			if !strings.Contains(e.Title, "99") || len(e.Fields) != 2 || e.Fields[0].Value != "1" || e.Fields[1].Name != "(field)" {
				t.Errorf("unknown embed %+v", e)
			}
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := render(tt.m)
			if len(out) != tt.nparts {
				t.Fatalf("%d parts, want %d", len(out), tt.nparts)
			}
			for _, o := range out {
				if textLen(o.Content) > MaxContent {
					t.Errorf("part of %d chars", textLen(o.Content))
				}
			}
			if tt.check != nil {
				tt.check(t, out)
			}
		})
	}
	// Many big fields stay within the 6000 total and 25 fields.
	var fields []bridge.Field
	for i := 0; i < 40; i++ {
		fields = append(fields, bridge.Field{Name: "n", Value: strings.Repeat("v", 2000)})
	}
	e := render(bridge.Message{Kind: bridge.KindUnknown, Fields: fields})[0].Embeds[0]
	total := textLen(e.Title) + textLen(e.Description)
	for _, f := range e.Fields {
		total += textLen(f.Name) + textLen(f.Value)
	}
	if total > maxEmbedTotal || len(e.Fields) > maxEmbedFields || len(e.Fields) == 0 {
		t.Errorf("embed total %d with %d fields", total, len(e.Fields))
	}
}

// checkSplit asserts SplitContent's promises on one input.
func checkSplit(t *testing.T, in string, max int) {
	t.Helper()
	parts := SplitContent(NeutraliseMentions(in), max)
	var joined strings.Builder
	for _, p := range parts {
		if textLen(p) > max {
			t.Fatalf("part longer than %d: %d", max, textLen(p))
		}
		if !utf8.ValidString(p) {
			t.Fatalf("invalid UTF-8 part %q", p)
		}
		if isBlank(p) {
			t.Fatalf("blank part %q", p)
		}
		low := strings.ToLower(p)
		if strings.Contains(low, "@everyone") || strings.Contains(low, "@here") || strings.Contains(p, "<@") {
			t.Fatalf("part can still ping: %q", p)
		}
		joined.WriteString(p)
	}
	noSpace := func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) || r == 0x200b {
				return -1
			}
			return r
		}, s)
	}
	if noSpace(joined.String()) != noSpace(strings.ToValidUTF8(in, "\uFFFD")) {
		t.Fatalf("parts lost or changed text:\n in  %q\n out %q", in, parts)
	}
}

func FuzzSplitSanitize(f *testing.F) {
	for _, s := range []string{"hello world", "@everyone hi", "<@123> <@&4>", "一二三 四五六\n七八九", "😀😀😀 a", "\xff\xfe", strings.Repeat("a b\n", 10)} {
		f.Add(s, 7)
	}
	f.Fuzz(func(t *testing.T, in string, max int) {
		if max < 2 || max > 4000 {
			max = 2 + (max%50+50)%50
		}
		checkSplit(t, in, max)
	})
}

func TestSplitProperties(t *testing.T) {
	for _, in := range []string{"@everyone", "a@here b", strings.Repeat("😀 ", 3000), strings.Repeat("x", 4001), "\n\n\n", "@\neveryone"} {
		for _, max := range []int{2, 3, 7, MaxContent} {
			checkSplit(t, in, max)
		}
	}
}

func TestReplyText(t *testing.T) {
	tests := []struct {
		name string
		m    discordgo.Message
		want string
	}{
		{"plain", discordgo.Message{Content: "hello"}, "hello"},
		{"mention", discordgo.Message{Content: "hi <@1> and <@!2>", Mentions: []*discordgo.User{{ID: "1", Username: "bob"}, {ID: "2", Username: "x", GlobalName: "Carol"}}}, "hi @bob and @Carol"},
		{"emoji", discordgo.Message{Content: "nice <:pepe:123> <a:dance:456>"}, "nice :pepe: :dance:"},
		{"sticker only", discordgo.Message{StickerItems: []*discordgo.StickerItem{{Name: "wave"}}}, "[sticker: wave]"},
	}
	for _, tt := range tests {
		if got := ReplyText(&tt.m); got != tt.want {
			t.Errorf("%s: ReplyText = %q, want %q", tt.name, got, tt.want)
		}
	}
}
