package bridge

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
)

// ackReads counts the marks the engine reads from the store.
type ackReads struct {
	Store
	mu   sync.Mutex
	rows int
}

func (s *ackReads) PendingAcks(ctx context.Context) ([]store.Ack, error) {
	acks, err := s.Store.PendingAcks(ctx)
	s.count(len(acks))
	return acks, err
}

func (s *ackReads) PendingAcksOf(ctx context.Context, sessionID string) ([]store.Ack, error) {
	acks, err := s.Store.PendingAcksOf(ctx, sessionID)
	s.count(len(acks))
	return acks, err
}

func (s *ackReads) count(n int) {
	s.mu.Lock()
	s.rows += n
	s.mu.Unlock()
}

func (s *ackReads) read() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows
}

// Marks (✅/❌) pile up while Discord is slow to take reactions. Every
// portal round makes its session's marks; when each round read every
// session's marks, the reads grew with sessions × marks on the store's one
// connection: in the full-size applied-then-failed proof (50 sessions,
// 2,000 messages) they held the database for seconds at a time, polls ran
// once a minute and half the messages were still undelivered after 10
// minutes. A portal reads its own session's marks only.
func TestMarksOfOtherSessionsDoNotSlowAPortal(t *testing.T) {
	const sessions, replies = 12, 4
	// A worker per session: one delivery pass starts every portal.
	h := newHarness(t, func(c *EngineConfig) { c.Workers = sessions })
	for i := range sessions {
		id := fmt.Sprintf("s%d", i)
		h.qq.addSession(id, Peer{UIN: fmt.Sprintf("%d", 200+i), Nick: "peer " + id})
		h.qq.peerSays(id, "hello from "+id)
	}
	h.settle()
	// Discord refuses every reaction for now: the marks wait.
	h.dc.mu.Lock()
	h.dc.failMark = 1 << 30
	h.dc.mu.Unlock()
	type written struct{ ch, msg string }
	var all []written
	for i := range sessions {
		ch := h.dc.sessionChannel(fmt.Sprintf("s%d", i))
		for j := range replies {
			r := h.dc.memberWrites(ch, fmt.Sprintf("reply %d", j))
			if err := h.e.HandleReply(h.ctx, r); err != nil {
				t.Fatal(err)
			}
			all = append(all, written{ch, r.MessageID})
		}
	}
	h.settle()
	waiting, err := h.st.PendingAcks(h.ctx)
	if err != nil || len(waiting) != len(all) {
		t.Fatalf("%d marks waiting (%v), want %d", len(waiting), err, len(all))
	}

	// Discord takes reactions again; a restarted bridge makes the marks.
	h.dc.mu.Lock()
	h.dc.failMark = 0
	h.dc.mu.Unlock()
	reads := &ackReads{Store: h.st}
	h.e = NewEngine(h.cfg, reads, h.qq, h.dc, nil)
	h.pass()

	for _, w := range all {
		if m := h.dc.markOf(w.ch, w.msg); m != "delivered" {
			t.Errorf("mark of %s in %s = %q, want delivered", w.msg, w.ch, m)
		}
	}
	// One pass: one read of every mark finds the sessions with marks to
	// make; each portal then reads its own.
	if got, most := reads.read(), 2*len(all); got > most {
		t.Errorf("making %d marks read %d from the store, want at most %d: portals read other sessions' marks", len(all), got, most)
	}
}
