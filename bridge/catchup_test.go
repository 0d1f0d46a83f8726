package bridge

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

// After a gateway reconnection only the channels with a message newer
// than their catch-up watermark are read.
func TestReconnectReadsOnlyChannelsThatMayHaveMissedSomething(t *testing.T) {
	h := newHarness(t, nil)
	for _, s := range []string{"a", "b", "c"} {
		h.qq.addSession(s, Peer{UIN: "1" + s, Nick: strings.ToUpper(s)})
		h.qq.peerSays(s, s+"0")
	}
	h.settle()
	h.e.Resumed(h.ctx) // the first connection: every channel is read once
	h.settle()
	a, b, c := h.dc.sessionChannel("a"), h.dc.sessionChannel("b"), h.dc.sessionChannel("c")
	before := map[string]int{a: h.dc.readsOf(a), b: h.dc.readsOf(b), c: h.dc.readsOf(c)}

	// The gateway is down: a member writes in b; nobody sees it live.
	missed := h.dc.memberWrites(b, "written during the outage")
	h.e.Resumed(h.ctx)
	h.settle()
	for ch, want := range map[string]int{a: 0, b: 1, c: 0} {
		if got := h.dc.readsOf(ch) - before[ch]; got != want {
			t.Errorf("channel %s read %d times by the catch-up, want %d", ch, got, want)
		}
	}
	if sent := h.qq.sent(); len(sent) != 1 || sent[0].Text != "written during the outage" {
		t.Errorf("sent %+v", sent)
	}
	if m := h.dc.markOf(b, missed.MessageID); m != "delivered" {
		t.Errorf("mark = %q", m)
	}

	// Without the channel list, every channel is read: nothing is missed.
	h.dc.failLastIDs = []error{context.DeadlineExceeded}
	h.e.Resumed(h.ctx)
	h.settle()
	for _, ch := range []string{a, b, c} {
		if got := h.dc.readsOf(ch) - before[ch]; got < 1 {
			t.Errorf("channel %s not read when the channel list failed", ch)
		}
	}
}

// gatedReads holds the reads of one channel until released.
type gatedReads struct {
	*fakeDiscord
	ch      string
	entered chan struct{}
	release chan struct{}
}

func (g *gatedReads) RepliesAfter(ctx context.Context, channelID, afterID string) ([]Reply, error) {
	if channelID == g.ch {
		g.entered <- struct{}{}
		<-g.release
	}
	return g.fakeDiscord.RepliesAfter(ctx, channelID, afterID)
}

// A catch-up holds the replies of the channel it reads, and only those:
// the other channels' replies go to QQ meanwhile, and the held channel's
// replies go, in the order members wrote them, once it is read.
func TestCatchUpHoldsOnlyTheChannelItReads(t *testing.T) {
	h := newHarness(t, nil)
	g := &gatedReads{fakeDiscord: h.dc, entered: make(chan struct{}, 1), release: make(chan struct{})}
	h.e = NewEngine(h.cfg, h.st, h.qq, g, slog.New(h.logs))
	h.qq.addSession("a", Peer{UIN: "1", Nick: "A"})
	h.qq.addSession("b", Peer{UIN: "2", Nick: "B"})
	h.qq.peerSays("a", "a0")
	h.qq.peerSays("b", "b0")
	h.settle()
	// The first connection's catch-up reads every channel; after it only
	// a channel with something new is read, so that the catch-up below
	// reads b alone.
	h.e.Resumed(h.ctx)
	h.settle()
	h.e.bg.Wait()
	a, b := h.dc.sessionChannel("a"), h.dc.sessionChannel("b")
	g.ch = b

	missed := h.dc.memberWrites(b, "b: written during the outage")
	h.e.Resumed(h.ctx)
	h.e.startCatchUp(h.ctx, h.ctx)
	<-g.entered // the catch-up is reading b
	ra := h.dc.memberWrites(a, "a: live")
	rb := h.dc.memberWrites(b, "b: live")
	for _, r := range []Reply{ra, rb} {
		if err := h.e.HandleReply(h.ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	h.pass()
	var got []string
	for _, s := range h.qq.sent() {
		got = append(got, s.Text)
	}
	if strings.Join(got, "|") != "a: live" {
		t.Errorf("sent while b is being caught up: %q; want a's replies only", got)
	}
	close(g.release)
	h.e.bg.Wait()
	h.pass()
	got = nil
	for _, s := range h.qq.sent() {
		got = append(got, s.Text)
	}
	if strings.Join(got, "|") != "a: live|b: written during the outage|b: live" {
		t.Errorf("sent %q", got)
	}
	if m := h.dc.markOf(b, missed.MessageID); m != "delivered" {
		t.Errorf("mark of the missed reply = %q", m)
	}
}
