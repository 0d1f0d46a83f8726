package bridge_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// TestIntegrationAppliedThenFailedShowsOnce: with a fifth of Discord's
// creating calls (webhook posts, channel, category and webhook creates)
// applied and then failed (a 5xx or a dropped connection), every QQ message
// shows exactly once, in order, and no channel or webhook is made twice.
func TestIntegrationAppliedThenFailedShowsOnce(t *testing.T) {
	w := newWorld(t)
	hows := []discordtest.Lost{discordtest.Lost500, discordtest.Lost502, discordtest.Lost503, discordtest.LostDrop}
	w.dc.SetApplyThenFail("POST", "/webhooks/*/*", 0.2, 1, hows...)
	w.dc.SetApplyThenFail("POST", "/guilds/*/channels", 0.2, 2, hows...)
	w.dc.SetApplyThenFail("POST", "/channels/*/webhooks", 0.2, 3, hows...)
	const sessions, perSession = 3, 15
	sids := make([]string, sessions)
	want := make([]string, sessions)
	for i := range sessions {
		sids[i] = w.qq.AddSession(w.qq.AddUser(qqtest.User{Nick: fmt.Sprintf("peer%d", i)}))
	}
	for k := range perSession {
		for i, sid := range sids {
			text := fmt.Sprintf("s%d-m%02d", i, k)
			if _, err := w.qq.Deliver(sid, qqtest.Text(text)); err != nil {
				t.Fatal(err)
			}
			if want[i] != "" {
				want[i] += "|"
			}
			want[i] += text
		}
	}
	w.eventually("every message relayed and the outbox empty", func() bool {
		st, err := w.engine.Status(context.Background())
		if err != nil || st.OutboxToDiscord != 0 || st.SessionsBridged != sessions {
			return false
		}
		for _, sid := range sids {
			ch, ok := w.channelOf(sid)
			if !ok || len(w.posted(ch.ID)) < perSession {
				return false
			}
		}
		return true
	})
	lost := 0
	for _, r := range w.dc.Requests() {
		if r.Method == "POST" && (r.Status == 0 || r.Status >= 500) {
			lost++
		}
	}
	if lost == 0 {
		t.Fatal("no answer was lost: the test proves nothing")
	}
	var text int
	for _, ch := range w.dc.Channels() {
		if ch.Type == discordtest.ChannelTypeText && ch.ID != w.dc.AdminChannelID {
			text++
		}
	}
	if text != sessions {
		t.Errorf("%d session channels, want %d (one per session)", text, sessions)
	}
	for i, sid := range sids {
		ch, _ := w.channelOf(sid)
		if got := contents(w.posted(ch.ID)); got != want[i] {
			t.Errorf("session %d shows\n%s\nwant\n%s", i, got, want[i])
		}
		if n := len(w.dc.Webhooks(ch.ID)); n != 1 {
			t.Errorf("session %d: %d webhooks, want 1", i, n)
		}
	}
	if t.Failed() {
		t.Logf("%d answers were lost; requests with a lost answer: %s", lost, lostRequests(w.dc))
	}
}

func lostRequests(dc *discordtest.Server) string {
	var out []string
	for _, r := range dc.Requests() {
		if r.Method == "POST" && (r.Status == 0 || r.Status >= 500) {
			out = append(out, fmt.Sprintf("%s %d", r.Path, r.Status))
		}
	}
	return strings.Join(out, ", ")
}
