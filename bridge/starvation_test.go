package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// callOrder records the order of Discord calls; onPost runs after the
// n-th successful Post.
type callOrder struct {
	*fakeDiscord
	mu     sync.Mutex
	calls  []string
	posts  int
	onPost func(n int)
	// onMark and onCatchUp run at each MarkDelivered and RepliesAfter;
	// posted gets a value after each Post.
	onMark, onCatchUp func()
	posted            chan struct{}
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
	if c.posted != nil {
		select {
		case c.posted <- struct{}{}:
		default:
		}
	}
	return ids, err
}

func (c *callOrder) MarkDelivered(ctx context.Context, channelID, messageID string) error {
	c.note("mark")
	err := c.fakeDiscord.MarkDelivered(ctx, channelID, messageID)
	if c.onMark != nil {
		c.onMark()
	}
	return err
}

func (c *callOrder) RepliesAfter(ctx context.Context, channelID, afterID string) ([]Reply, error) {
	c.note("catch-up")
	if c.onCatchUp != nil {
		c.onCatchUp()
	}
	return c.fakeDiscord.RepliesAfter(ctx, channelID, afterID)
}

// While one session's queue stays busy (a long queue of QQ messages), a
// reply in another session is delivered and marked, and a catch-up asked
// for meanwhile runs: neither waits for the busy queue. The busy portal
// is held at its 5th post until both happened (it would wait forever if
// they waited for it).
func TestBusyOutboxDoesNotStarveMarksAndCatchUps(t *testing.T) {
	h := newHarness(t, nil)
	rec := &callOrder{fakeDiscord: h.dc, posted: make(chan struct{}, 1)}
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
	marked, caughtUp := make(chan struct{}), make(chan struct{})
	rec.onMark = sync.OnceFunc(func() { close(marked) })
	rec.onCatchUp = sync.OnceFunc(func() { close(caughtUp) })
	released := make(chan bool, 1)
	rec.onPost = func(n int) {
		if n != 5 {
			return
		}
		h.e.Resumed(h.ctx) // the gateway reconnected
		ok := true
		for _, c := range []chan struct{}{marked, caughtUp} {
			select {
			case <-c:
			case <-time.After(10 * time.Second): // a failure, not a synchronisation
				ok = false
			}
		}
		released <- ok
	}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan struct{})
	go func() { defer close(done); h.e.deliverLoop(ctx, ctx) }()
	if !<-released {
		t.Error("the mark of the quiet session's reply, or the catch-up, waited for the busy queue")
	}
	for {
		if got := texts(h.dc.posted(h.dc.sessionChannel("busy"))); got == "first,"+seqTexts("m", 1, 30) {
			break
		}
		<-rec.posted
	}
	cancel()
	<-done
	h.e.portals.wg.Wait()
	if sent := h.qq.sent(); len(sent) != 1 || sent[0].Text != "hi" {
		t.Errorf("sent %+v", sent)
	}
}
