package bridge

import (
	"testing"
	"time"
)

// A message whose session the list never shows as changed (sort_time not
// moved, no other signal) is read by the safety sweep within
// SweepInterval, at a cost of SweepSessions requests.
func TestSweepFindsAChangeNoSignalShowed(t *testing.T) {
	h := newHarness(t, func(c *EngineConfig) { c.SweepInterval = 5 * time.Minute; c.SweepSessions = 2 })
	for _, id := range []string{"s1", "s2", "s3"} {
		h.qq.addSession(id, Peer{UIN: "2" + id, Nick: id})
		h.qq.peerSays(id, id+"-a")
	}
	h.settle()
	h.clock.Advance(time.Minute) // the sweep just ran: the next is 5 minutes away

	// s3 (the most recently active) gets a message without its sort_time
	// moving.
	h.qq.mu.Lock()
	before := h.qq.sessions["s3"].s.SortTime
	h.qq.mu.Unlock()
	h.qq.peerSays("s3", "s3-b")
	h.qq.mu.Lock()
	h.qq.sessions["s3"].s.SortTime = before
	h.qq.mu.Unlock()

	if err := h.step(); err != nil {
		t.Fatal(err)
	}
	ch := h.dc.sessionChannel("s3")
	if got := texts(h.dc.posted(ch)); got != "s3-a" {
		t.Fatalf("before the sweep: %s", got)
	}
	h.qq.mu.Lock()
	reqs := h.qq.requests
	h.qq.mu.Unlock()
	h.clock.Advance(5 * time.Minute)
	if err := h.step(); err != nil {
		t.Fatal(err)
	}
	if got := texts(h.dc.posted(ch)); got != "s3-a,s3-b" {
		t.Fatalf("after the sweep: %s, want s3-a,s3-b", got)
	}
	h.qq.mu.Lock()
	cost := h.qq.requests - reqs
	h.qq.mu.Unlock()
	// One list poll and one page for each of the 2 swept sessions.
	if cost != 3 {
		t.Errorf("the poll with a sweep cost %d requests, want 3", cost)
	}
}
