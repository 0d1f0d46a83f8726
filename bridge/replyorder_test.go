package bridge

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
)

// gatedPost holds the post of one QQ message (by text) until released.
type gatedPost struct {
	*gatedReads
	text    string
	entered chan struct{}
	release chan struct{}
}

func (g *gatedPost) Post(ctx context.Context, ref ChannelRef, r Rendered) ([]string, error) {
	var m Message
	if json.Unmarshal(r, &m) == nil && m.Text == g.text {
		g.entered <- struct{}{}
		<-g.release
	}
	return g.gatedReads.Post(ctx, ref, r)
}

// A catch-up that ends while the session's portal is posting a QQ message
// must not let a live reply overtake the older reply it found: the portal
// read its heads (the live reply first in line to QQ, held) before the
// post, and the catch-up queued an older reply and released the channel
// during it. Replies reach QQ in the order members wrote them.
func TestCatchUpEndingDuringAPostKeepsReplyOrder(t *testing.T) {
	h := newHarness(t, nil)
	reads := &gatedReads{fakeDiscord: h.dc, entered: make(chan struct{}, 1), release: make(chan struct{})}
	g := &gatedPost{gatedReads: reads, text: "a1", entered: make(chan struct{}, 1), release: make(chan struct{})}
	h.e = NewEngine(h.cfg, h.st, h.qq, g, slog.New(h.logs))
	h.qq.addSession("a", Peer{UIN: "1", Nick: "A"})
	h.qq.peerSays("a", "a0")
	h.settle()
	h.e.Resumed(h.ctx) // the first connection's catch-up
	h.settle()
	h.e.bg.Wait()
	a := h.dc.sessionChannel("a")
	reads.ch = a

	// Written while the bridge could not see it (a restart, an outage).
	missed := h.dc.memberWrites(a, "written before the restart")
	h.e.Resumed(h.ctx)
	h.e.startCatchUp(h.ctx, h.ctx)
	<-reads.entered // the catch-up is reading a: its replies wait

	live := h.dc.memberWrites(a, "written after the restart")
	if err := h.e.HandleReply(h.ctx, live); err != nil {
		t.Fatal(err)
	}
	h.qq.peerSays("a", "a1")
	if err := h.e.pollOnce(h.ctx); err != nil {
		t.Fatal(err)
	}
	passed := make(chan struct{})
	go func() { defer close(passed); h.pass() }()
	<-g.entered // the portal of a is posting a1, its heads read before

	close(reads.release) // the catch-up queues the older reply and ends
	h.e.bg.Wait()
	close(g.release)
	<-passed
	h.pass()

	var got []string
	for _, s := range h.qq.sent() {
		got = append(got, s.Text)
	}
	if strings.Join(got, "|") != "written before the restart|written after the restart" {
		t.Errorf("QQ got %q; want the replies in the order they were written", got)
	}
	for _, r := range []Reply{missed, live} {
		if m := h.dc.markOf(a, r.MessageID); m != "delivered" {
			t.Errorf("mark of %q = %q", r.Content, m)
		}
	}
}

// A reply whose send may have reached QQ (its answer lost, and QQ shows
// sends late) holds the later replies of its session until it is found,
// and only those: the other sessions' replies go meanwhile.
func TestAmbiguousSendHoldsLaterRepliesOfItsSessionOnly(t *testing.T) {
	h := newHarness(t, func(c *EngineConfig) { c.SendSettle = 30 * time.Second })
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.addSession("s2", Peer{UIN: "333", Nick: "Cai"})
	h.qq.peerSays("s1", "one")
	h.qq.peerSays("s2", "two")
	h.settle()
	ch1, ch2 := h.dc.sessionChannel("s1"), h.dc.sessionChannel("s2")
	h.qq.asyncSends = true
	h.qq.sendLoseAnswer = 1 // applied, answer lost, shows only later
	first := h.dc.memberWrites(ch1, "first")
	if err := h.e.HandleReply(h.ctx, first); err != nil {
		t.Fatal(err)
	}
	h.step()
	second := h.dc.memberWrites(ch1, "second")
	other := h.dc.memberWrites(ch2, "other session")
	for _, r := range []Reply{second, other} {
		if err := h.e.HandleReply(h.ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		h.clock.Advance(5 * time.Second) // within the settle time
		h.step()
	}
	if n := h.qq.sendCount("second"); n != 0 {
		t.Fatalf("the later reply was sent %d times while the first one's send was unsettled", n)
	}
	if n := h.qq.sendCount("other session"); n != 1 {
		t.Errorf("the other session's reply was sent %d times, want 1", n)
	}
	h.qq.reveal()
	h.settle()
	var got []string
	for _, s := range h.qq.sent() {
		if s.SessionID == "s1" {
			got = append(got, s.Text)
		}
	}
	if strings.Join(got, "|") != "first|second" {
		t.Errorf("QQ got %q in s1; want first|second, once each", got)
	}
	for _, r := range []Reply{first, second} {
		if m := h.dc.markOf(ch1, r.MessageID); m != "delivered" {
			t.Errorf("mark of %q = %q", r.Content, m)
		}
	}
}

// gatedSessions holds the next read of the bridged sessions, once armed,
// until released.
type gatedSessions struct {
	Store
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (g *gatedSessions) BridgedSessions(ctx context.Context) ([]store.Session, error) {
	if g.armed.CompareAndSwap(true, false) {
		g.entered <- struct{}{}
		<-g.release
	}
	return g.Store.BridgedSessions(ctx)
}

// A live message the adapter could not take in asks for a catch-up of its
// channel (Missed): from then on the channel's newer replies wait, also
// while the catch-up is still finding which channels it reads, and reach
// QQ after the missed one.
func TestMissedMessageHoldsItsChannelUntilRead(t *testing.T) {
	h := newHarness(t, nil)
	gs := &gatedSessions{Store: h.st, entered: make(chan struct{}), release: make(chan struct{})}
	h.e = NewEngine(h.cfg, gs, h.qq, h.dc, slog.New(h.logs))
	h.qq.addSession("a", Peer{UIN: "1", Nick: "A"})
	h.qq.peerSays("a", "a0")
	h.settle()
	h.e.Resumed(h.ctx)
	h.settle()
	h.e.bg.Wait()
	a := h.dc.sessionChannel("a")

	missed := h.dc.memberWrites(a, "not taken in live")
	h.e.Missed(h.ctx, a)
	gs.armed.Store(true)
	h.e.startCatchUp(h.ctx, h.ctx)
	<-gs.entered // the catch-up of a is finding its channels
	live := h.dc.memberWrites(a, "written after")
	if err := h.e.HandleReply(h.ctx, live); err != nil {
		t.Fatal(err)
	}
	h.pass()
	if sent := h.qq.sent(); len(sent) != 0 {
		t.Fatalf("sent %+v before the channel was read", sent)
	}
	close(gs.release)
	h.e.bg.Wait()
	h.pass()
	var got []string
	for _, s := range h.qq.sent() {
		got = append(got, s.Text)
	}
	if strings.Join(got, "|") != "not taken in live|written after" {
		t.Errorf("QQ got %q; want the missed reply first", got)
	}
	if m := h.dc.markOf(a, missed.MessageID); m != "delivered" {
		t.Errorf("mark of the missed reply = %q", m)
	}
}
