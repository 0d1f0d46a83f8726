package bridge

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// settleNotes runs delivery passes, moving the clock past back-offs, until
// no mark or placeholder step is pending.
func (h *harness) settleNotes() {
	h.t.Helper()
	for range 50 {
		h.pass()
		acks, err := h.st.PendingAcks(h.ctx)
		if err != nil {
			h.t.Fatal(err)
		}
		if len(acks) == 0 {
			return
		}
		h.clock.Advance(10 * time.Minute)
	}
	h.t.Fatal("marks and placeholders did not settle")
}

// said reports whether a log line had msg.
func (l *logCounter) said(msg string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if strings.Contains(m, msg) {
			return true
		}
	}
	return false
}

// parkPoison has Discord refuse one QQ message of session s1 for good
// (until the refusal is lifted): it is parked, and its placeholder posted.
// It returns the session channel and the parked entry.
func parkPoison(h *harness) (string, OutboxEntry) {
	h.t.Helper()
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "one")
	h.settle()
	ch := h.dc.sessionChannel("s1")
	h.dc.setRefuse("poison", Permanent(errors.New("discord: 400 Bad Request: 50035 Invalid Form Body (embeds.0.url: Not a well formed URL)")))
	h.qq.peerSays("s1", "poison")
	h.settle()
	h.settleNotes()
	notes := h.dc.notesIn(ch)
	if len(notes) != 1 || !strings.Contains(notes[0], "could not be shown") || !strings.Contains(notes[0], "Not a well formed URL") {
		h.t.Fatalf("placeholders after the refusal: %q", notes)
	}
	es := h.outboxOf("s1")
	if len(es) != 1 || es[0].Status != StatusParked {
		h.t.Fatalf("/outbox = %+v", es)
	}
	return ch, es[0]
}

// A parked QQ message that an admin's /retry delivers loses its
// placeholder: the reader no longer sees "could not be shown" beside the
// message that now is shown. Removing it is retried when Discord fails for
// a while, given up (with a log line) when Discord refuses it for good,
// and done when someone deleted the placeholder already.
func TestPlaceholderRemovedWhenRetryDelivers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failNote []error
		// deletedBySomeone: a moderator deleted the placeholder first.
		deletedBySomeone bool
		wantNotes        int
		wantCalls        int
		// wantGiveUp: the log says the placeholder was given up on.
		wantGiveUp bool
	}{
		{name: "removed", wantCalls: 1},
		{name: "Discord failing for a while", failNote: []error{errors.New("discord: 503"), errors.New("discord: 503")}, wantCalls: 3},
		{name: "already deleted by someone", deletedBySomeone: true, wantCalls: 1},
		{name: "refused for good", failNote: []error{Permanent(errors.New("discord: 403 Missing Permissions"))}, wantNotes: 1, wantCalls: 1, wantGiveUp: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			ch, parked := parkPoison(h)
			if tc.deletedBySomeone {
				h.dc.mu.Lock()
				h.dc.channels[ch].notes = nil
				h.dc.mu.Unlock()
			}
			h.dc.mu.Lock()
			h.dc.failNote = tc.failNote
			h.dc.mu.Unlock()

			h.dc.setRefuse("poison", nil) // the cause is gone
			if n, err := h.e.Retry(h.ctx, parked.ID); err != nil || n != 1 {
				t.Fatalf("Retry = %d, %v", n, err)
			}
			h.settle()
			h.settleNotes()
			if got := texts(h.dc.posted(ch)); got != "one,poison" {
				t.Errorf("posted %s after /retry, want one,poison", got)
			}
			if n := h.dc.postCount("poison"); n != 2 {
				t.Errorf("poison message posted %d times, want 2 (refused, then delivered)", n)
			}
			if notes := h.dc.notesIn(ch); len(notes) != tc.wantNotes {
				t.Errorf("placeholders left: %q, want %d", notes, tc.wantNotes)
			}
			// Time passes: nothing more is tried.
			h.clock.Advance(6 * time.Hour)
			h.settle()
			h.settleNotes()
			h.dc.mu.Lock()
			calls := h.dc.noteCalls
			h.dc.mu.Unlock()
			if calls != tc.wantCalls {
				t.Errorf("%d placeholder deletions tried, want %d", calls, tc.wantCalls)
			}
			if got := h.logs.said("could not bring a placeholder up to date"); got != tc.wantGiveUp {
				t.Errorf("placeholder given up on in the log: %v, want %v", got, tc.wantGiveUp)
			}
			if es := h.outboxOf(""); len(es) != 0 {
				t.Errorf("/outbox after the retry = %+v", es)
			}
		})
	}
}

// The removal is a durable step: a restart between the delivery and the
// removal (here: Discord failed the first deletion) still removes the
// placeholder.
func TestPlaceholderRemovalSurvivesRestart(t *testing.T) {
	h := newHarness(t, nil)
	ch, parked := parkPoison(h)
	h.dc.mu.Lock()
	h.dc.failNote = []error{errors.New("discord: 503")}
	h.dc.mu.Unlock()
	h.dc.setRefuse("poison", nil)
	if _, err := h.e.Retry(h.ctx, parked.ID); err != nil {
		t.Fatal(err)
	}
	h.settle()
	if got := texts(h.dc.posted(ch)); got != "one,poison" {
		t.Fatalf("posted %s after /retry", got)
	}
	if notes := h.dc.notesIn(ch); len(notes) != 1 {
		t.Fatalf("placeholders before the restart: %q, want the one not removed yet", notes)
	}

	h.restart()
	h.settle()
	h.settleNotes()
	if notes := h.dc.notesIn(ch); len(notes) != 0 {
		t.Errorf("placeholders after the restart: %q", notes)
	}
	if n := h.dc.postCount("poison"); n != 2 {
		t.Errorf("poison message posted %d times, want 2", n)
	}
}

// A placeholder whose post lost its answer (its id unknown) is still
// removed once an admin's /retry delivers the message: posting it again
// with its nonce returns the first notice, which is deleted.
func TestPlaceholderPostedWithLostAnswerIsFoundAndRemoved(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "one")
	h.settle()
	ch := h.dc.sessionChannel("s1")
	h.dc.setRefuse("poison", Permanent(errors.New("discord: 400 Bad Request")))
	h.dc.mu.Lock()
	h.dc.noticeCrash = 1
	h.dc.mu.Unlock()
	h.qq.peerSays("s1", "poison")
	h.settle() // parked; the placeholder posted, its answer lost
	if notes := h.dc.notesIn(ch); len(notes) != 1 {
		t.Fatalf("placeholders: %q", notes)
	}
	es := h.outboxOf("s1")
	if len(es) != 1 {
		t.Fatalf("/outbox = %+v", es)
	}
	// The admin retries before the bridge tried the post again.
	h.dc.setRefuse("poison", nil)
	if _, err := h.e.Retry(h.ctx, es[0].ID); err != nil {
		t.Fatal(err)
	}
	h.settle()
	h.settleNotes()
	if got := texts(h.dc.posted(ch)); got != "one,poison" {
		t.Errorf("posted %s", got)
	}
	if notes := h.dc.notesIn(ch); len(notes) != 0 {
		t.Errorf("placeholders left: %q", notes)
	}
}

// /skip of a parked QQ message keeps its placeholder (the message is not
// shown) and rewords it: no more /retry, it will not be shown.
func TestSkippedPlaceholderStaysReworded(t *testing.T) {
	h := newHarness(t, nil)
	ch, parked := parkPoison(h)
	if _, err := h.e.Skip(h.ctx, parked.ID); err != nil {
		t.Fatal(err)
	}
	h.settle()
	h.settleNotes()
	notes := h.dc.notesIn(ch)
	if len(notes) != 1 || !strings.Contains(notes[0], "from Bea") || !strings.Contains(notes[0], "skipped") ||
		!strings.Contains(notes[0], "will not be shown") || strings.Contains(notes[0], "/retry") {
		t.Fatalf("placeholder after /skip: %q", notes)
	}
	if n := h.dc.postCount("poison"); n != 1 {
		t.Errorf("skipped message posted %d times, want 1 (the refused attempt)", n)
	}
}

// A message retried while its cause is still there is parked again: its
// placeholder says the new reason, and no second placeholder appears.
func TestParkedAgainRewordsItsPlaceholder(t *testing.T) {
	h := newHarness(t, nil)
	ch, parked := parkPoison(h)
	h.dc.setRefuse("poison", Permanent(errors.New("discord: 400 Bad Request: 50035 Invalid Form Body (content: too long)")))
	if _, err := h.e.Retry(h.ctx, parked.ID); err != nil {
		t.Fatal(err)
	}
	h.settle()
	h.settleNotes()
	notes := h.dc.notesIn(ch)
	if len(notes) != 1 || !strings.Contains(notes[0], "content: too long") || !strings.Contains(notes[0], "/retry") {
		t.Fatalf("placeholders after a second refusal: %q", notes)
	}
}
