package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
)

// limitRecorder records the limits the engine reads messages with.
type limitRecorder struct {
	*fakeQQ
	mu     sync.Mutex
	limits []int
}

func (r *limitRecorder) Messages(ctx context.Context, sessionID string, after ReadPos, limit int) ([]Message, error) {
	r.mu.Lock()
	r.limits = append(r.limits, limit)
	r.mu.Unlock()
	return r.fakeQQ.Messages(ctx, sessionID, after, limit)
}

// A new session that received more live messages than a first read takes
// (while Discord or the bridge was down) loses none of them.
func TestFirstReadReachesBackForLiveMessages(t *testing.T) {
	for _, order := range []string{"newest-first", "oldest-first", "sorted"} {
		t.Run(order, func(t *testing.T) {
			h := newHarness(t, func(c *EngineConfig) { c.Backfill = 2 })
			h.qq.pageOrder = order
			rec := &limitRecorder{fakeQQ: h.qq}
			h.e = NewEngine(h.cfg, h.st, rec, h.dc, slog.New(h.logs))
			h.qq.addSession("burst", Peer{UIN: "1", Nick: "Burst"})
			for i := 1; i <= 3; i++ {
				h.qq.peerSays("burst", fmt.Sprintf("old%d", i)) // written in 2023: history
			}
			for i := 1; i <= 130; i++ {
				h.qq.add("burst", Message{Text: fmt.Sprintf("live%d", i), Time: h.clock.Now()})
			}
			h.settle()
			if got, want := texts(h.dc.posted(h.dc.sessionChannel("burst"))), seqTexts("live", 1, 130); got != want {
				t.Errorf("posted %s\nwant   %s", got, want)
			}

			// A session whose first read already reaches history is read
			// once, with the usual limit.
			rec.mu.Lock()
			rec.limits = nil
			rec.mu.Unlock()
			h.qq.addSession("long", Peer{UIN: "2", Nick: "Long"})
			for i := 1; i <= 200; i++ {
				h.qq.peerSays("long", fmt.Sprintf("old%d", i))
			}
			h.qq.add("long", Message{Text: "live", Time: h.clock.Now()})
			h.settle()
			if got := texts(h.dc.posted(h.dc.sessionChannel("long"))); got != "old200,live" {
				t.Errorf("posted %s, want the backfill and the live message", got)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.limits) != 1 || rec.limits[0] != liveFetch {
				t.Errorf("read with limits %v, want one read of %d", rec.limits, liveFetch)
			}
		})
	}
}
