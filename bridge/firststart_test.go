package bridge

import (
	"fmt"
	"testing"
	"time"
)

// At the first start only sessions active within the horizon get a
// channel; an older one gets its channel, with the backfill, when it next
// changes.
func TestFirstStartHorizon(t *testing.T) {
	for _, tc := range []struct {
		name     string
		horizon  time.Duration
		channels []string // sessions with a channel after the first start
	}{
		{"30 days", 30 * 24 * time.Hour, []string{"recent"}},
		{"no horizon", 0, []string{"old", "recent", "unknown"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *EngineConfig) { c.FirstStartHorizon = tc.horizon; c.Backfill = 3 })
			now := h.clock.Now()
			for id, active := range map[string]time.Time{"old": now.Add(-90 * 24 * time.Hour), "recent": now.Add(-24 * time.Hour), "unknown": {}} {
				h.qq.addSession(id, Peer{UIN: "2" + id, Nick: id})
				for i := 1; i <= 5; i++ {
					h.qq.peerSays(id, fmt.Sprintf("%s%d", id, i))
				}
				h.qq.mu.Lock()
				h.qq.sessions[id].s.LastActive = active
				h.qq.mu.Unlock()
			}
			h.settle()
			var got []string
			for _, id := range []string{"old", "recent", "unknown"} {
				if h.dc.sessionChannel(id) != "" {
					got = append(got, id)
				}
			}
			// A session whose activity the list does not tell gets a
			// channel: better one too many than one missed.
			want := tc.channels
			if tc.horizon > 0 {
				want = []string{"recent", "unknown"}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("channels for %v, want %v", got, want)
			}
			if tc.horizon == 0 {
				return
			}
			// Idle polls leave the old session alone.
			h.clock.Advance(time.Minute)
			h.settle()
			if h.dc.sessionChannel("old") != "" {
				t.Fatal("the old session got a channel without changing")
			}
			// It changes: channel, backfill as for any new session, and the
			// new message.
			h.qq.peerSays("old", "old6")
			h.qq.mu.Lock()
			h.qq.sessions["old"].s.LastActive = h.clock.Now()
			h.qq.mu.Unlock()
			h.settle()
			ch := h.dc.sessionChannel("old")
			if ch == "" {
				t.Fatal("the old session got no channel when it changed")
			}
			if got := texts(h.dc.posted(ch)); got != "old4,old5,old6" {
				t.Errorf("old session's channel shows %s, want the backfill of 3 ending with the new message", got)
			}
		})
	}
}
