package bridge_test

import (
	"strings"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

func reacted(m discordtest.Message, emoji string) bool {
	for _, r := range m.Reactions {
		if r.Emoji.Name == emoji {
			return true
		}
	}
	return false
}

// botReplies are the bot's own messages in a channel that answer messageID.
func (w *world) botReplies(chID, messageID string) []discordtest.Message {
	var out []discordtest.Message
	for _, m := range w.dc.Messages(chID) {
		if m.Author.ID == w.dc.BotUserID && m.MessageReference != nil && m.MessageReference.MessageID == messageID {
			out = append(out, m)
		}
	}
	return out
}

// TestIntegrationRepliesKeepTheirContext: a Discord reply reaches QQ with a
// short quote of what it answers; attachments go as links with name and
// size, and the channel is told once that QQ gets expiring links; a poll,
// which QQ cannot show, gets ❌ and the reason, and nothing reaches QQ.
func TestIntegrationRepliesKeepTheirContext(t *testing.T) {
	w := newWorld(t)
	alice := w.qq.AddUser(qqtest.User{Nick: "Alice"})
	sid := w.qq.AddSession(alice)
	long := "晴天 is the best song of all time, listen to it tonight please"
	if _, err := w.qq.Deliver(sid, qqtest.Text(long)); err != nil {
		t.Fatal(err)
	}
	var ch discordtest.Channel
	w.eventually("Alice's message in Discord", func() bool {
		var ok bool
		ch, ok = w.channelOf(sid)
		return ok && len(w.posted(ch.ID)) == 1
	})
	relayed := w.posted(ch.ID)[0]

	w.dc.Type(ch.ID, w.dc.AdminUserID, "agreed", discordtest.WithReply(relayed.ID))
	w.eventually("the reply at QQ", func() bool { return len(w.qq.Sent()) == 1 })
	want := "「Alice: " + string([]rune(long)[:40]) + "…」\nagreed"
	if got := w.qq.Sent()[0].Meta.Content; got != want {
		t.Errorf("QQ received %q, want %q", got, want)
	}

	png := make([]byte, 3<<10)
	for i := range 2 {
		m := w.dc.Type(ch.ID, w.dc.AdminUserID, "", discordtest.WithAttachment("cat.png", "image/png", png))
		w.eventually("the attachment at QQ", func() bool { return len(w.qq.Sent()) == 2+i })
		got := w.qq.Sent()[1+i].Meta.Content
		if !strings.HasPrefix(got, "📎 cat.png (3.0 KiB): http") || !strings.Contains(got, m.Attachments[0].URL) {
			t.Errorf("QQ received %q for an attachment at %s", got, m.Attachments[0].URL)
		}
		w.eventually("the ✅", func() bool { got, _ := w.dc.Message(ch.ID, m.ID); return reacted(got, "✅") })
	}
	var notes int
	for _, m := range w.dc.Messages(ch.ID) {
		if m.Author.ID == w.dc.BotUserID && strings.Contains(m.Content, "expire") {
			notes++
		}
	}
	if notes != 1 {
		t.Errorf("%d notices that QQ gets expiring links, want 1", notes)
	}

	poll := w.dc.Type(ch.ID, w.dc.AdminUserID, "", discordtest.WithPoll("Which song?", "晴天", "七里香"))
	w.eventually("the ❌ and the reason", func() bool {
		got, _ := w.dc.Message(ch.ID, poll.ID)
		return reacted(got, "❌") && len(w.botReplies(ch.ID, poll.ID)) == 1
	})
	if r := w.botReplies(ch.ID, poll.ID)[0].Content; !strings.Contains(r, "cannot show a poll") {
		t.Errorf("the reason given: %q", r)
	}
	if n := len(w.qq.Sent()); n != 3 {
		t.Errorf("QQ received %d messages, want 3 (the poll is not one)", n)
	}
}
