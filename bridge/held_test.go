package bridge

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A delivery held by its destination (a Discord channel every member can
// read) waits, shown in /outbox, however many attempts that takes, and
// goes out by itself, in order and once, when the destination is fit.
func TestHeldDeliveryWaitsBeyondMaxAttempts(t *testing.T) {
	h := newHarness(t, func(c *EngineConfig) { c.MaxAttempts = 3 })
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "zero")
	h.settle()
	ch := h.dc.sessionChannel("s1")

	held := Held(fmt.Errorf("discord: holding the messages for #bea: every member can read it; grant the bot's role Manage Roles"))
	const holds = 8 // well past MaxAttempts
	for range holds {
		h.dc.postFail = append(h.dc.postFail, held)
	}
	h.qq.peerSays("s1", "one")
	h.qq.peerSays("s1", "two")
	for range holds {
		h.step()
		h.clock.Advance(10 * time.Minute)
	}
	if got := texts(h.dc.posted(ch)); got != "zero" {
		t.Fatalf("posted %q while held", got)
	}
	es := h.outboxOf("s1")
	if len(es) == 0 || es[0].Status == StatusParked || !strings.Contains(es[0].Reason, "Manage Roles") || es[0].Attempts < 3 {
		t.Fatalf("/outbox while held = %+v; want the first message waiting (not parked) with the reason", es)
	}
	h.settle()
	if got := texts(h.dc.posted(ch)); got != "zero,one,two" {
		t.Errorf("posted %q once the channel is private", got)
	}
	if es := h.outboxOf("s1"); len(es) != 0 {
		t.Errorf("/outbox after = %+v", es)
	}
	if !errors.Is(held, ErrHeld) || OutcomeOf(held) != CallTransient {
		t.Error("a hold must be transient")
	}
}
