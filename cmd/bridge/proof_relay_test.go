package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// relayPeer is one QQ user of the relay scenario and what was exchanged.
type relayPeer struct {
	user    qqtest.User
	sid     string
	channel string
	long    string // the 3,000-character QQ message
	reply   string // the 2,000-character Discord reply
	typed   []discordtest.Message
}

// TestProofRelay: two-way relay across three sessions, once with each
// GetMessage page order and with small pages, so that the bridge must page
// and must not assume an order. From QQ: a text, a 3,000-character text, an
// image, a song card, a message of an undocumented type and a last text;
// from Discord: a text, a 2,000-character text, an attachment and a last
// text. It asserts what a Discord member sees in each session channel (who
// posted, the split, the embeds), what QQ received (each reply once, split
// within QQ's limit, in order, to the right user), the ✅ on every reply,
// that the bridge's own replies are not echoed back, and that nothing
// pinged anyone.
func TestProofRelay(t *testing.T) {
	t.Parallel()
	for _, order := range []struct {
		name        string
		newestFirst bool
	}{{"newest-first", true}, {"oldest-first", false}} {
		t.Run(order.name, func(t *testing.T) {
			t.Parallel()
			p := newProof(t, 1, qqtest.WithPageOrder(order.newestFirst), qqtest.WithMaxPageSizes(2, 3))
			proofRelay(t, p)
		})
	}
}

func proofRelay(t *testing.T, p *proof) {
	var peers []*relayPeer
	for i, nick := range []string{"Alice", "Bob", "Carol"} {
		u := p.qq.AddUser(qqtest.User{Nick: nick, Avatar: fmt.Sprintf("https://img.example/%s.jpg", strings.ToLower(nick))})
		peers = append(peers, &relayPeer{user: u, sid: p.qq.AddSession(u), long: longText(nick, 3000), reply: wordText(fmt.Sprintf("reply%d", i), 2000)})
	}
	deliver := func(pr *relayPeer, in qqtest.Inbound) {
		t.Helper()
		if _, err := p.qq.Deliver(pr.sid, in); err != nil {
			t.Fatal(err)
		}
	}
	// Before the start: read by the first poll of each new session.
	for _, pr := range peers {
		deliver(pr, qqtest.Text("hello from "+pr.user.Nick))
		deliver(pr, qqtest.Text(pr.long))
		deliver(pr, qqtest.Image("https://img.example/"+pr.user.Nick+"/photo.png", 640, 480))
	}
	p.launch()
	for _, pr := range peers {
		pr.channel = p.channelOf(pr.sid, 60*time.Second)
	}
	// Live, both ways, interleaved.
	for i, pr := range peers {
		deliver(pr, qqtest.Card("Song of "+pr.user.Nick, "Artist "+pr.user.Nick+" · Album", "https://y.gtimg.cn/cover/"+pr.user.Nick+".jpg",
			"https://y.qq.com/n/ryqq/songDetail/"+pr.user.Nick))
		pr.typed = append(pr.typed, p.dc.Type(pr.channel, p.dc.AdminUserID, "hi "+pr.user.Nick+", from Discord"))
		raw, _ := json.Marshal(map[string]any{"content": "a " + pr.user.Nick + " mystery", "biz_id": fmt.Sprintf("biz-%d", i), "biz_type": 7})
		deliver(pr, qqtest.Inbound{MsgType: 99, RawMeta: raw})
		pr.typed = append(pr.typed, p.dc.Type(pr.channel, p.dc.AdminUserID, pr.reply))
		pr.typed = append(pr.typed, p.dc.Type(pr.channel, p.dc.AdminUserID, "look at this",
			discordtest.WithAttachment("photo.png", "image/png", []byte("\x89PNG\r\n\x1a\nnot really a picture"))))
		deliver(pr, qqtest.Text("last word from "+pr.user.Nick))
		pr.typed = append(pr.typed, p.dc.Type(pr.channel, p.dc.AdminUserID, "bye "+pr.user.Nick))
	}

	// 3,000 characters make two posts; 2,000 make two or three QQ messages.
	const wantPosts, wantSends = 7, 5
	report := func() string {
		var b strings.Builder
		for _, pr := range peers {
			fmt.Fprintf(&b, "%s: %d posts %q; %d sends\n", pr.user.Nick, len(p.posted(pr.channel)), clipAll(contents(p.posted(pr.channel))), len(p.sentTo(pr.sid)))
		}
		return b.String()
	}
	p.waitFor("every message both ways", 60*time.Second, func() bool {
		for _, pr := range peers {
			if len(p.posted(pr.channel)) < wantPosts || len(p.sentTo(pr.sid)) < wantSends {
				return false
			}
			for _, m := range pr.typed {
				if !p.hasReaction(pr.channel, m.ID, "✅") {
					return false
				}
			}
		}
		return true
	}, report)
	// Time for an echo or a duplicate to show up.
	time.Sleep(1500 * time.Millisecond)

	for _, pr := range peers {
		t.Run(pr.user.Nick, func(t *testing.T) {
			if n := len(p.channelsOf(pr.sid)); n != 1 {
				t.Errorf("%d channels for the session, want 1", n)
			}
			checkRelayedFromQQ(t, pr, p.posted(pr.channel), wantPosts)
			checkRelayedToQQ(t, pr, p.sentTo(pr.sid))
		})
	}
	p.checkNoBotPings()
	t.Logf("QQ requests by method: %v", p.qq.Counts())
	if devs := p.qq.Deviations(); len(devs) > 0 {
		t.Errorf("requests QQ Music would not take as sent: %q", devs)
	}
}

// checkRelayedFromQQ asserts what a Discord member sees of a peer's QQ
// messages.
func checkRelayedFromQQ(t *testing.T, pr *relayPeer, posts []discordtest.Message, want int) {
	t.Helper()
	if len(posts) != want {
		t.Fatalf("the channel shows %d relayed messages, want %d (an echo or a duplicate?): %q", len(posts), want, clipAll(contents(posts)))
	}
	for _, m := range posts {
		if !strings.Contains(m.Author.Username, pr.user.Nick) || m.AvatarURL != pr.user.Avatar {
			t.Errorf("message %s posted as %q with avatar %q, want %s's", m.ID, m.Author.Username, m.AvatarURL, pr.user.Nick)
		}
	}
	if got := posts[0].Content; got != "hello from "+pr.user.Nick {
		t.Errorf("first message %q", got)
	}
	// The long message: two posts, each within Discord's limit, cut at a
	// line break, together all of it.
	p1, p2 := posts[1].Content, posts[2].Content
	if utf16Len(p1) > 2000 || utf16Len(p2) > 2000 {
		t.Errorf("long message parts of %d and %d UTF-16 units", utf16Len(p1), utf16Len(p2))
	}
	if !strings.HasPrefix(pr.long, p1) || !strings.HasPrefix(pr.long[len(p1):], "\n") || p1+"\n"+p2 != pr.long {
		t.Errorf("the 3,000-character message is not two parts cut at a line break:\npart 1 %q\npart 2 %q", clipForLog(p1), clipForLog(p2))
	}
	img := posts[3]
	if len(img.Embeds) != 1 || img.Embeds[0].Image == nil || img.Embeds[0].Image.URL != "https://img.example/"+pr.user.Nick+"/photo.png" ||
		!strings.Contains(img.Embeds[0].Description, "640×480") {
		t.Errorf("image shown as %q with embeds %s", img.Content, showEmbeds(img.Embeds))
	}
	card := posts[4]
	if len(card.Embeds) != 1 {
		t.Fatalf("song card shown as %q with embeds %s", card.Content, showEmbeds(card.Embeds))
	}
	if e := card.Embeds[0]; e.Title != "Song of "+pr.user.Nick || !strings.Contains(e.Description, "Artist "+pr.user.Nick) ||
		e.URL != "https://y.qq.com/n/ryqq/songDetail/"+pr.user.Nick || e.Thumbnail == nil || e.Thumbnail.URL != "https://y.gtimg.cn/cover/"+pr.user.Nick+".jpg" {
		t.Errorf("song card shown as %s", showEmbeds(card.Embeds))
	}
	unk := posts[5]
	shown := unk.Content + showEmbeds(unk.Embeds)
	if len(unk.Embeds) != 1 || !strings.Contains(unk.Embeds[0].Title, "99") || !strings.Contains(shown, "a "+pr.user.Nick+" mystery") ||
		!strings.Contains(shown, "biz-") {
		t.Errorf("message of unknown type 99 shown as %q", shown)
	}
	if got := posts[6].Content; got != "last word from "+pr.user.Nick {
		t.Errorf("last message %q", got)
	}
}

// checkRelayedToQQ asserts what QQ received from the members' replies:
// each reply once, in the order typed, as consecutive parts of at most
// 1,000 characters carrying the client_key of its Discord message.
func checkRelayedToQQ(t *testing.T, pr *relayPeer, sent []qqtest.Sent) {
	t.Helper()
	var texts []string
	for _, s := range sent {
		texts = append(texts, s.Meta.Content)
		if s.UserID != fmt.Sprint(pr.user.UIN) {
			t.Errorf("reply sent to user %q, want %d", s.UserID, pr.user.UIN)
		}
		if n := utf8.RuneCountInString(s.Meta.Content); n > 1000 {
			t.Errorf("QQ received a message of %d characters", n)
		}
	}
	att := pr.typed[2].Attachments
	if len(att) != 1 {
		t.Fatalf("the attachment was stored as %+v", att)
	}
	want := []string{"hi " + pr.user.Nick + ", from Discord", pr.reply, "look at this\n" + fmt.Sprintf("📎 %s (%d B): %s", att[0].Filename, att[0].Size, att[0].URL), "bye " + pr.user.Nick}
	var got []string
	i := 0
	for k, m := range pr.typed {
		text := ""
		for part := 0; i < len(sent) && sent[i].ClientKey == fmt.Sprintf("qmdb-%s-%d", m.ID, part); part++ {
			text += sent[i].Meta.Content
			i++
		}
		if text == "" {
			t.Errorf("reply %d (%q) is not next at QQ (client_key qmdb-%s-0); QQ received %q", k, clipForLog(want[k]), m.ID, clipAll(texts))
			return
		}
		got = append(got, text)
	}
	if i != len(sent) {
		t.Errorf("QQ received %d messages more than the replies: %q", len(sent)-i, clipAll(texts[i:]))
	}
	if err := diffLists(want, got); err != nil {
		t.Errorf("replies at QQ: %v", err)
	}
	if parts := len(sent) - 3; parts < 2 || parts > 3 {
		t.Errorf("the 2,000-character reply reached QQ in %d parts", parts)
	}
}

// longText is n bytes of numbered ASCII lines.
func longText(who string, n int) string {
	var b strings.Builder
	for i := 1; b.Len() < n; i++ {
		fmt.Fprintf(&b, "line %03d of %s's long message: the quick brown fox jumps over the lazy dog.\n", i, who)
	}
	return strings.TrimRight(b.String()[:n], "\n ")
}

// wordText is n bytes of space-separated ASCII words.
func wordText(word string, n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%s-%d ", word, i)
	}
	return strings.TrimSpace(b.String()[:n])
}

func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

func showEmbeds(es []discordtest.Embed) string {
	b, _ := json.Marshal(es)
	return string(b)
}

func clipAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = clipForLog(s)
	}
	return out
}
