package bridge

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// outboxOf is the engine's /outbox listing as "status:summary" items.
func (h *harness) outboxOf(sessionID string) []OutboxEntry {
	h.t.Helper()
	es, err := h.e.Outbox(h.ctx, sessionID, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	return es
}

func TestPoisonMessageParksWithPlaceholderAndRetryDeliversOnce(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "one")
	h.settle()
	ch := h.dc.sessionChannel("s1")

	refusal := Permanent(errors.New("discord: 400 Bad Request: 50035 Invalid Form Body (embeds.0.url: Not a well formed URL)"))
	h.dc.setRefuse("poison", refusal)
	h.qq.peerSays("s1", "two")
	h.qq.peerSays("s1", "poison")
	h.qq.peerSays("s1", "four")
	// One poll and one delivery pass, with no time passing: the poison
	// message costs one attempt and the rest of the session goes on.
	if err := h.step(); err != nil {
		t.Fatal(err)
	}
	if got := texts(h.dc.posted(ch)); got != "one,two,four" {
		t.Fatalf("posted %s, want one,two,four", got)
	}
	if n := h.dc.postCount("poison"); n != 1 {
		t.Errorf("poison message posted %d times, want 1 attempt", n)
	}
	notes := h.dc.notesIn(ch)
	if len(notes) != 1 || !strings.Contains(notes[0], "from Bea") || !strings.Contains(notes[0], "could not be shown") ||
		!strings.Contains(notes[0], "Not a well formed URL") || !strings.Contains(notes[0], "/retry") {
		t.Fatalf("placeholders in the channel: %q", notes)
	}
	es := h.outboxOf("")
	if len(es) != 1 || es[0].Status != StatusParked || es[0].SessionID != "s1" || es[0].Direction != ToDiscord ||
		es[0].Summary != "Bea: poison" || !strings.Contains(es[0].Reason, "400 Bad Request") {
		t.Fatalf("/outbox = %+v", es)
	}
	if h.obs.count(ToDiscord, OutcomeParked) != 1 {
		t.Errorf("parked count = %d", h.obs.count(ToDiscord, OutcomeParked))
	}
	// Time passes: nothing retries it on its own, no second placeholder.
	h.clock.Advance(6 * time.Hour)
	h.settle()
	if n := h.dc.postCount("poison"); n != 1 {
		t.Errorf("parked message tried again on its own: %d attempts", n)
	}
	if notes := h.dc.notesIn(ch); len(notes) != 1 {
		t.Errorf("placeholders: %q", notes)
	}

	// The cause is gone; an admin retries it: it is delivered once.
	h.dc.setRefuse("poison", nil)
	if n, err := h.e.Retry(h.ctx, es[0].ID); err != nil || n != 1 {
		t.Fatalf("Retry = %d, %v", n, err)
	}
	h.settle()
	if got := texts(h.dc.posted(ch)); got != "one,two,four,poison" {
		t.Fatalf("posted %s after /retry", got)
	}
	if es := h.outboxOf(""); len(es) != 0 {
		t.Errorf("/outbox after the retry = %+v", es)
	}
	// Retrying again is refused: it is delivered.
	if _, err := h.e.Retry(h.ctx, es[0].ID); !errors.Is(err, ErrEntryState) {
		t.Errorf("second Retry = %v, want ErrEntryState", err)
	}
	h.settle()
	if n := h.dc.postCount("poison"); n != 2 {
		t.Errorf("poison message posted %d times in all, want 2 (refused, then delivered)", n)
	}
}

func TestAmbiguousPostIsReconciledNotPostedAgain(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "one")
	h.settle()
	ch := h.dc.sessionChannel("s1")
	h.dc.postCrash = 1 // stored, then the answer is lost
	h.qq.peerSays("s1", "two")
	h.step()
	es := h.outboxOf("s1")
	if len(es) != 1 || es[0].Status != StatusAmbiguous || es[0].Attempts != 1 {
		t.Fatalf("/outbox after a lost answer = %+v", es)
	}
	h.settle()
	if got := texts(h.dc.posted(ch)); got != "one,two" {
		t.Errorf("posted %s, want one,two", got)
	}
	if n := h.dc.postCount("two"); n != 1 {
		t.Errorf("posted %d times, want 1", n)
	}
	if h.obs.count(ToDiscord, OutcomeReconciled) != 1 {
		t.Errorf("reconciled = %d, want 1", h.obs.count(ToDiscord, OutcomeReconciled))
	}
}

func TestRefusedReplyParksAtOnceWithReasonAndNextGoes(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "one")
	h.settle()
	ch := h.dc.sessionChannel("s1")
	h.qq.fail("send", Permanent(errors.New("QQ Music refused the message: code 20261 (bad parameters)")))
	r := h.dc.memberWrites(ch, "doomed")
	h.e.HandleReply(h.ctx, r)
	r2 := h.dc.memberWrites(ch, "fine")
	h.e.HandleReply(h.ctx, r2)
	h.step()
	if m := h.dc.markOf(ch, r.MessageID); !strings.Contains(m, "failed: ") || !strings.Contains(m, "20261") {
		t.Errorf("mark of the refused reply = %q", m)
	}
	if m := h.dc.markOf(ch, r2.MessageID); m != "delivered" {
		t.Errorf("mark of the next reply = %q", m)
	}
	if n := h.qq.sendCount("doomed"); n != 1 {
		t.Errorf("refused reply tried %d times, want 1", n)
	}
	es := h.outboxOf("s1")
	if len(es) != 1 || es[0].Status != StatusParked || es[0].Direction != ToQQ || es[0].Summary != "reply: doomed" {
		t.Fatalf("/outbox = %+v", es)
	}
	// Skipped by an admin: settled, gone from /outbox, never sent.
	if n, err := h.e.Skip(h.ctx, es[0].ID); err != nil || n != 1 {
		t.Fatalf("Skip = %d, %v", n, err)
	}
	h.settle()
	if es := h.outboxOf("s1"); len(es) != 0 {
		t.Errorf("/outbox after skip = %+v", es)
	}
	if n := h.qq.sendCount("doomed"); n != 1 {
		t.Errorf("skipped reply sent again: %d", n)
	}
}

func TestAsyncSendLookedForAgainBeforeSendingAgain(t *testing.T) {
	h := newHarness(t, func(c *EngineConfig) { c.SendSettle = 30 * time.Second })
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "one")
	h.settle()
	ch := h.dc.sessionChannel("s1")
	h.qq.asyncSends = true
	h.qq.sendLoseAnswer = 1 // applied, answer lost, shows only later
	r := h.dc.memberWrites(ch, "hello")
	h.e.HandleReply(h.ctx, r)
	h.step()
	if es := h.outboxOf("s1"); len(es) != 1 || es[0].Status != StatusAmbiguous {
		t.Fatalf("/outbox after a lost answer = %+v", es)
	}
	// Retries fall due before QQ shows the message: not found yet, but
	// not sent again either.
	for i := 0; i < 5; i++ {
		h.clock.Advance(5 * time.Second)
		h.step()
	}
	if n := h.qq.sendCount("hello"); n != 1 {
		t.Fatalf("sent %d times before QQ showed the first send, want 1", n)
	}
	h.qq.reveal()
	h.settle()
	if n := h.qq.sendCount("hello"); n != 1 {
		t.Errorf("sent %d times, want 1", n)
	}
	if m := h.dc.markOf(ch, r.MessageID); m != "delivered" {
		t.Errorf("mark = %q", m)
	}
}

func TestAmbiguousSendThatDidNotHappenIsSentAfterTheSettleTime(t *testing.T) {
	h := newHarness(t, func(c *EngineConfig) { c.SendSettle = 30 * time.Second })
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "one")
	h.settle()
	ch := h.dc.sessionChannel("s1")
	h.qq.fail("send", Ambiguous(errors.New("fake qq: 502 Bad Gateway")))
	r := h.dc.memberWrites(ch, "hello")
	h.e.HandleReply(h.ctx, r)
	h.step()
	h.clock.Advance(10 * time.Second)
	h.step()
	if n := h.qq.sendCount("hello"); n != 1 {
		t.Fatalf("sent again %d within the settle time", n)
	}
	h.settle()
	if sent := h.qq.sent(); len(sent) != 1 || sent[0].Text != "hello" {
		t.Errorf("sent %+v", sent)
	}
	if m := h.dc.markOf(ch, r.MessageID); m != "delivered" {
		t.Errorf("mark = %q", m)
	}
}

func TestOldestPendingAgePerDirection(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "one")
	h.settle()
	if ages, err := h.e.OldestPending(h.ctx); err != nil || len(ages) != 0 {
		t.Fatalf("OldestPending when idle = %v, %v", ages, err)
	}
	h.dc.postFail = []error{errors.New("fake discord: 503"), errors.New("fake discord: 503")}
	h.qq.peerSays("s1", "two")
	h.step()
	h.clock.Advance(90 * time.Second)
	ages, err := h.e.OldestPending(h.ctx)
	if err != nil || ages[ToDiscord] != 90*time.Second || ages[ToQQ] != 0 {
		t.Fatalf("OldestPending = %v, %v; want to_discord 90s", ages, err)
	}
}
