package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
)

// callOrder records the order of Discord calls; onPost runs after the
// n-th successful Post.
type callOrder struct {
	*fakeDiscord
	mu     sync.Mutex
	calls  []string
	posts  int
	onPost func(n int)
}

func (c *callOrder) note(call string) {
	c.mu.Lock()
	c.calls = append(c.calls, call)
	c.mu.Unlock()
}

func (c *callOrder) Post(ctx context.Context, ref ChannelRef, r Rendered) ([]string, error) {
	ids, err := c.fakeDiscord.Post(ctx, ref, r)
	var m Message
	_ = json.Unmarshal(r, &m)
	if err == nil {
		c.mu.Lock()
		c.posts++
		n := c.posts
		c.calls = append(c.calls, "post "+m.Text)
		c.mu.Unlock()
		if c.onPost != nil {
			c.onPost(n)
		}
	}
	return ids, err
}

func (c *callOrder) MarkDelivered(ctx context.Context, channelID, messageID string) error {
	c.note("mark")
	return c.fakeDiscord.MarkDelivered(ctx, channelID, messageID)
}

func (c *callOrder) RepliesAfter(ctx context.Context, channelID, afterID string) ([]Reply, error) {
	c.note("catch-up")
	return c.fakeDiscord.RepliesAfter(ctx, channelID, afterID)
}

// While the outbox stays busy (a long queue of QQ messages), a delivered
// reply is marked right away and a catch-up asked for meanwhile runs
// before the queue is through: neither waits for the outbox to run dry.
func TestBusyOutboxDoesNotStarveMarksAndCatchUps(t *testing.T) {
	h := newHarness(t, nil)
	rec := &callOrder{fakeDiscord: h.dc}
	h.e = NewEngine(h.cfg, h.st, h.qq, rec, slog.New(h.logs))
	h.qq.addSession("busy", Peer{UIN: "1", Nick: "Busy"})
	h.qq.addSession("quiet", Peer{UIN: "2", Nick: "Quiet"})
	h.qq.peerSays("busy", "first")
	h.qq.peerSays("quiet", "hello")
	h.settle()

	for i := 1; i <= 30; i++ {
		h.qq.peerSays("busy", fmt.Sprintf("m%d", i))
	}
	if err := h.e.pollOnce(h.ctx); err != nil { // queued, not delivered
		t.Fatal(err)
	}
	r := h.dc.memberWrites(h.dc.sessionChannel("quiet"), "hi")
	if err := h.e.HandleReply(h.ctx, r); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	rec.calls = nil
	rec.mu.Unlock()
	rec.onPost = func(n int) {
		if n == 5 {
			h.e.Resumed(h.ctx) // the gateway reconnected
		}
	}
	// As deliverLoop does.
	for range 100 {
		h.e.catchUpIfDue(h.ctx, h.ctx)
		h.e.deliverPass(h.ctx, h.ctx)
	}

	rec.mu.Lock()
	calls := slices.Clone(rec.calls)
	rec.mu.Unlock()
	last := slices.Index(calls, "post m30")
	if last < 0 {
		t.Fatalf("the queue was not delivered: %q", calls)
	}
	if i := slices.Index(calls, "mark"); i < 0 || i > last {
		t.Errorf("the reply was marked at call %d, after the queue (call %d): %q", i, last, calls)
	}
	if i := slices.Index(calls, "catch-up"); i < 0 || i > last {
		t.Errorf("the catch-up ran at call %d, after the queue (call %d): %q", i, last, calls)
	}
	if got := texts(h.dc.posted(h.dc.sessionChannel("busy"))); got != "first,"+seqTexts("m", 1, 30) {
		t.Errorf("posted %s", got)
	}
	if sent := h.qq.sent(); len(sent) != 1 || sent[0].Text != "hi" {
		t.Errorf("sent %+v", sent)
	}
}
