package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"
)

// gatedDiscord holds every post into one channel until released: held
// gets the text of a post being held, posted the text of each post done.
type gatedDiscord struct {
	*fakeDiscord
	mu      sync.Mutex
	slowCh  string
	release chan struct{}
	held    chan string
	posted  chan string
}

func (d *gatedDiscord) Post(ctx context.Context, ref ChannelRef, r Rendered) ([]string, error) {
	var m Message
	if err := json.Unmarshal(r, &m); err != nil {
		return nil, Permanent(err)
	}
	d.mu.Lock()
	slow := ref.ChannelID == d.slowCh
	d.mu.Unlock()
	if slow {
		d.held <- m.Text
		select {
		case <-d.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	ids, err := d.fakeDiscord.Post(ctx, ref, r)
	d.posted <- m.Text
	return ids, err
}

// A session whose Discord takes long per post delays no other session:
// the fast session's messages are all posted while the slow session's
// first post is still held.
func TestSlowSessionDoesNotDelayOthers(t *testing.T) {
	h := newHarness(t, nil)
	gd := &gatedDiscord{fakeDiscord: h.dc, release: make(chan struct{}), held: make(chan string, 10), posted: make(chan string, 100)}
	h.e = NewEngine(h.cfg, h.st, h.qq, gd, slog.New(h.logs))
	h.qq.addSession("slow", Peer{UIN: "1", Nick: "Slow"})
	h.qq.addSession("fast", Peer{UIN: "2", Nick: "Fast"})
	h.qq.peerSays("slow", "s0")
	h.qq.peerSays("fast", "f0")
	// Channels and the first messages, while nothing is held.
	if err := h.e.pollOnce(h.ctx); err != nil {
		t.Fatal(err)
	}
	h.pass()
	for range 2 {
		<-gd.posted
	}
	gd.mu.Lock()
	gd.slowCh = h.dc.sessionChannel("slow")
	gd.mu.Unlock()

	h.qq.peerSays("slow", "s1")
	h.qq.peerSays("slow", "s2")
	for _, m := range []string{"f1", "f2", "f3"} {
		h.qq.peerSays("fast", m)
	}
	if err := h.e.pollOnce(h.ctx); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan struct{})
	go func() { defer close(done); h.e.deliverLoop(ctx, ctx) }()
	stop := sync.OnceFunc(func() { cancel(); <-done; h.e.portals.wg.Wait() })
	t.Cleanup(stop)

	// wait is the next value of c; a time-out is a failure, not a
	// synchronisation.
	wait := func(c chan string, what string) string {
		t.Helper()
		select {
		case v := <-c:
			return v
		case <-time.After(10 * time.Second):
			t.Fatalf("timed out waiting for %s", what)
		}
		return ""
	}
	if m := wait(gd.held, "the slow session's post"); m != "s1" {
		t.Fatalf("held %q, want s1", m)
	}
	for _, want := range []string{"f1", "f2", "f3"} {
		if m := wait(gd.posted, "the fast session's posts while the slow one is held"); m != want {
			t.Fatalf("posted %q, want %s", m, want)
		}
	}
	if got := texts(h.dc.posted(gd.slowCh)); got != "s0" {
		t.Errorf("slow session shows %s, want s0 (s1 held)", got)
	}
	// Released: the slow session goes on, in order.
	gd.release <- struct{}{}
	if m := wait(gd.posted, "s1"); m != "s1" {
		t.Errorf("posted %q, want s1", m)
	}
	if m := wait(gd.held, "s2"); m != "s2" {
		t.Errorf("held %q, want s2", m)
	}
	gd.release <- struct{}{}
	if m := wait(gd.posted, "s2"); m != "s2" {
		t.Errorf("posted %q, want s2", m)
	}
	stop()
	if got := texts(h.dc.posted(gd.slowCh)); got != "s0,s1,s2" {
		t.Errorf("slow session shows %s", got)
	}
	if got := texts(h.dc.posted(h.dc.sessionChannel("fast"))); got != "f0,f1,f2,f3" {
		t.Errorf("fast session shows %s", got)
	}
}

// blockingQQ holds every send until released.
type blockingQQ struct {
	*fakeQQ
	sending chan string
	release chan struct{}
}

func (q *blockingQQ) SendText(ctx context.Context, s OutgoingText) (string, error) {
	q.sending <- s.Text
	<-q.release
	return q.fakeQQ.SendText(ctx, s)
}

// A reply being sent holds only its own session: polling goes on and the
// other sessions are read meanwhile.
func TestSendingAReplyDoesNotStopPolling(t *testing.T) {
	h := newHarness(t, nil)
	bq := &blockingQQ{fakeQQ: h.qq, sending: make(chan string, 1), release: make(chan struct{})}
	h.e = NewEngine(h.cfg, h.st, bq, h.dc, slog.New(h.logs))
	h.qq.addSession("a", Peer{UIN: "1", Nick: "A"})
	h.qq.addSession("b", Peer{UIN: "2", Nick: "B"})
	h.qq.peerSays("a", "a0")
	h.qq.peerSays("b", "b0")
	h.settle()
	r := h.dc.memberWrites(h.dc.sessionChannel("a"), "hello")
	if err := h.e.HandleReply(h.ctx, r); err != nil {
		t.Fatal(err)
	}
	h.e.deliverPass(h.ctx, h.ctx) // the send starts in a's portal
	if got := <-bq.sending; got != "hello" {
		t.Fatalf("sending %q", got)
	}
	// While it hangs, a poll reads session b's new message.
	h.qq.peerSays("b", "b1")
	h.qq.peerSays("a", "a1")
	if err := h.e.pollOnce(h.ctx); err != nil {
		t.Fatal(err)
	}
	if es, _ := h.e.Outbox(h.ctx, "", 0); len(es) != 1 || es[0].Status != StatusAttempting {
		t.Errorf("/outbox while sending = %+v", es)
	}
	if td, _, _ := h.st.OutboxDepth(h.ctx); td != 1 {
		t.Errorf("%d QQ messages queued while a reply was being sent, want b1 (a is read at the next poll)", td)
	}
	close(bq.release)
	h.e.portals.wg.Wait()
	h.settle()
	if got := texts(h.dc.posted(h.dc.sessionChannel("b"))); got != "b0,b1" {
		t.Errorf("b shows %s", got)
	}
	if got := texts(h.dc.posted(h.dc.sessionChannel("a"))); got != "a0,a1" {
		t.Errorf("a shows %s", got)
	}
	if m := h.dc.markOf(h.dc.sessionChannel("a"), r.MessageID); m != "delivered" {
		t.Errorf("mark = %q", m)
	}
}

// With every worker busy, a session with a steady stream gives its worker
// back after a while: another session's message goes before the stream
// is through.
func TestBusySessionTakesTurnsWithOthers(t *testing.T) {
	h := newHarness(t, func(c *EngineConfig) { c.Workers = 1 })
	h.qq.addSession("a", Peer{UIN: "1", Nick: "A"})
	h.qq.addSession("b", Peer{UIN: "2", Nick: "B"})
	h.qq.peerSays("a", "a0")
	h.qq.peerSays("b", "b0")
	h.settle()
	for i := 1; i <= 3*portalRounds; i++ {
		h.qq.peerSays("a", fmt.Sprintf("a%d", i))
	}
	h.qq.peerSays("b", "b1")
	if err := h.e.pollOnce(h.ctx); err != nil {
		t.Fatal(err)
	}
	h.pass()
	// The position of b1 among every post since a0 and b0.
	h.dc.mu.Lock()
	var all []fakeDiscordMsg
	for _, ch := range h.dc.channels {
		for _, m := range ch.log {
			if m.post != nil && m.post.Text != "a0" && m.post.Text != "b0" {
				all = append(all, m)
			}
		}
	}
	h.dc.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return snowAfter(all[j].id, all[i].id) })
	pos := -1
	for i, m := range all {
		if m.post.Text == "b1" {
			pos = i
		}
	}
	if len(all) != 3*portalRounds+1 || pos < 0 || pos > portalRounds {
		t.Errorf("b1 posted at %d of %d posts, want within the first %d", pos, len(all), portalRounds+1)
	}
	if got := texts(h.dc.posted(h.dc.sessionChannel("a"))); got != "a0,"+seqTexts("a", 1, 3*portalRounds) {
		t.Errorf("a shows %s", got)
	}
}
