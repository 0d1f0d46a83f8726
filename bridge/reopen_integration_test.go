package bridge_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// archivedSession is a session with texts delivered, then archived; it
// returns the session id, its nick and the transcript's message id.
func (w *world) archivedSession(nick string, texts ...string) (sid, transcript string) {
	w.t.Helper()
	sid = w.qq.AddSession(w.qq.AddUser(qqtest.User{Nick: nick}))
	for _, text := range texts {
		w.deliver(sid, text)
	}
	var ch discordtest.Channel
	w.eventually("the session's messages posted", func() bool {
		var ok bool
		ch, ok = w.channelOf(sid)
		return ok && len(w.posted(ch.ID)) == len(texts)
	})
	w.settledToDiscord(w.obs.toDiscord.Load())
	got, err := w.engine.Archive(context.Background(), sid, "archived by the test")
	if err != nil {
		w.t.Fatal(err)
	}
	if _, live := w.channelOf(sid); live {
		w.t.Fatal("the archived session still has its channel")
	}
	return sid, got.TranscriptMsgID
}

// settledToDiscord waits until nothing is left to deliver to Discord and
// at least want deliveries are counted; it returns their count.
func (w *world) settledToDiscord(want int64) int64 {
	w.t.Helper()
	w.eventually("the outbox to Discord empty", func() bool {
		st, err := w.engine.Status(context.Background())
		return err == nil && st.OutboxToDiscord == 0 && w.obs.toDiscord.Load() >= want
	})
	return w.obs.toDiscord.Load()
}

// reopenedView is what a reader of a re-opened channel sees: the bridge's
// notices and the relayed messages, in the channel's order.
func reopenedView(ms []discordtest.Message) (notices, relayed []string, order string) {
	var kinds []string
	for _, m := range ms {
		if m.WebhookID == "" {
			notices = append(notices, m.Content)
			kinds = append(kinds, "notice")
		} else {
			relayed = append(relayed, m.Content)
			kinds = append(kinds, m.Content)
		}
	}
	return notices, relayed, strings.Join(kinds, ",")
}

// A session's next message after it was archived re-opens it with a fresh
// channel that starts with its earlier messages (one notice of the bridge,
// with a link to the transcript), then the new message relayed as usual:
// nothing shown twice as new, nothing lost, the earlier messages not
// delivered (nor counted) again.
func TestIntegrationReopenedChannelShowsEarlierMessages(t *testing.T) {
	w := newArchiveWorld(t, 50)
	earlier := []string{"one", "two", "three", "four", "five"}
	sid, transcript := w.archivedSession("Reopener", earlier...)
	if transcript == "" {
		t.Fatal("no transcript posted")
	}
	delivered := w.settledToDiscord(int64(len(earlier)))

	w.deliver(sid, "back again")
	var ch discordtest.Channel
	w.eventually("the archived session re-opened with its new message", func() bool {
		var ok bool
		ch, ok = w.channelOf(sid)
		return ok && len(w.posted(ch.ID)) > 0
	})
	notices, relayed, order := reopenedView(w.dc.Messages(ch.ID))
	if order != "notice,back again" {
		t.Fatalf("the re-opened channel shows %s; want the earlier messages' notice, then the new message", order)
	}
	if strings.Join(relayed, ",") != "back again" {
		t.Errorf("relayed into the new channel: %q", relayed)
	}
	notice := notices[0]
	for _, text := range earlier {
		if !strings.Contains(notice, "— "+text+"\n") {
			t.Errorf("the notice lacks the earlier message %q:\n%s", text, notice)
		}
	}
	if strings.Contains(notice, "back again") {
		t.Errorf("the notice shows the new message as an earlier one:\n%s", notice)
	}
	if !strings.Contains(notice, "**Reopener**") || !strings.Contains(notice, "Its last 5 messages before") {
		t.Errorf("the notice does not say who wrote the earlier messages:\n%s", notice)
	}
	th, _ := w.dc.ChannelByName("QQ chat archive")
	if link := fmt.Sprintf("https://discord.com/channels/%s/%s/%s", w.dc.GuildID, th.ID, transcript); !strings.Contains(notice, link) {
		t.Errorf("the notice has no link to the transcript %s:\n%s", link, notice)
	}
	if delivered != int64(len(earlier)) {
		t.Errorf("%d deliveries to Discord before the archive; want %d", delivered, len(earlier))
	}
	if got := w.settledToDiscord(delivered+1) - delivered; got != 1 {
		t.Errorf("%d deliveries to Discord after the re-open; want 1 (the new message; the earlier ones were delivered before)", got)
	}
}

// /open of an archived session gives it a fresh channel with its earlier
// messages in one notice, and delivers nothing again.
func TestIntegrationOpenArchivedSessionShowsEarlierMessages(t *testing.T) {
	w := newArchiveWorld(t, 50)
	sid, _ := w.archivedSession("Opened", "hello", "how are you")
	delivered := w.settledToDiscord(2)

	got, err := w.engine.OpenSession(context.Background(), "Opened")
	if err != nil {
		t.Fatal(err)
	}
	ch, ok := w.channelOf(sid)
	if !ok || got.ChannelID != ch.ID {
		t.Fatalf("/open made channel %q; the session's channel is %+v (found %v)", got.ChannelID, ch, ok)
	}
	notices, relayed, _ := reopenedView(w.dc.Messages(ch.ID))
	if len(relayed) != 0 || len(notices) != 1 {
		t.Fatalf("the opened channel shows notices %q and relayed %q; want one notice", notices, relayed)
	}
	if !strings.Contains(notices[0], "— hello\n") || !strings.Contains(notices[0], "— how are you\n") {
		t.Errorf("the notice lacks the earlier messages:\n%s", notices[0])
	}
	// A message after /open is relayed once, after the notice.
	w.deliver(sid, "after open")
	w.eventually("the new message relayed", func() bool { return len(w.posted(ch.ID)) == 1 })
	if _, _, order := reopenedView(w.dc.Messages(ch.ID)); order != "notice,after open" {
		t.Errorf("the channel shows %s", order)
	}
	if got := w.settledToDiscord(delivered+1) - delivered; got != 1 {
		t.Errorf("%d deliveries to Discord after /open; want 1", got)
	}
}
