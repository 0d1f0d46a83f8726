package bridge

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// riskErr is QQ's 2001 refusal as the qq package reports it: a rate limit
// that names a verification page.
type riskErr struct{ url string }

func (e *riskErr) Error() string           { return "code 2001: risk control" }
func (e *riskErr) Is(target error) bool    { return target == ErrRateLimited }
func (e *riskErr) VerificationURL() string { return e.url }

func (l *eventLog) ofKind(k ...EventKind) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, e := range l.ev {
		if slices.Contains(k, e.Kind) {
			out = append(out, e)
		}
	}
	return out
}

// Risk-control refusals that persist past a minute are reported once, with
// the verification page, and their end once; a short burst is not.
func TestRiskControlNoticePostedOnceClearedOnce(t *testing.T) {
	const url = "https://y.qq.com/m/client/safety/feedback.html?code=2001"
	for _, tc := range []struct {
		name string
		// fails: the polls refused, each followed by the clock step.
		fails      int
		step       time.Duration
		wantNotice bool
	}{
		{"burst of seconds", 5, 2 * time.Second, false},
		{"just under a minute", 4, 19 * time.Second, false},
		{"past a minute", 6, 20 * time.Second, true},
		{"long outage", 40, 30 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
			for i := range tc.fails {
				// Wrapped as the QQ port wraps it.
				h.qq.fail("list", fmt.Errorf("%w: %w", ErrRateLimited, &riskErr{url: url}))
				if err := h.e.pollOnce(h.ctx); err == nil {
					t.Fatalf("poll %d succeeded despite the refusal", i)
				}
				if i < tc.fails-1 {
					h.clock.Advance(tc.step)
				}
			}
			notices := h.events.ofKind(EventRiskControl)
			if tc.wantNotice != (len(notices) == 1) || len(notices) > 1 {
				t.Fatalf("%d notices, want notice: %v", len(notices), tc.wantNotice)
			}
			if tc.wantNotice && notices[0].Detail != url {
				t.Errorf("notice detail %q, want the verification page %q", notices[0].Detail, url)
			}
			// QQ accepts again: cleared once, and only if it was noticed.
			for range 3 {
				h.clock.Advance(10 * time.Second)
				if err := h.e.pollOnce(h.ctx); err != nil {
					t.Fatal(err)
				}
			}
			cleared := h.events.ofKind(EventRiskControlCleared)
			if want := map[bool]int{true: 1, false: 0}[tc.wantNotice]; len(cleared) != want {
				t.Errorf("%d cleared events, want %d", len(cleared), want)
			}
			if got := h.events.ofKind(EventRiskControl); len(got) != len(notices) {
				t.Errorf("a notice came after QQ accepted again")
			}
		})
	}
}

// A new streak after a cleared one is reported again.
func TestRiskControlNewStreakNoticedAgain(t *testing.T) {
	h := newHarness(t, nil)
	refuse := func() {
		for range 4 {
			h.qq.fail("list", &riskErr{})
			_ = h.e.pollOnce(h.ctx)
			h.clock.Advance(30 * time.Second)
		}
		if err := h.e.pollOnce(h.ctx); err != nil {
			t.Fatal(err)
		}
	}
	refuse()
	refuse()
	if got := h.events.ofKind(EventRiskControl, EventRiskControlCleared); len(got) != 4 ||
		got[0].Kind != EventRiskControl || got[1].Kind != EventRiskControlCleared ||
		got[2].Kind != EventRiskControl || got[3].Kind != EventRiskControlCleared {
		t.Errorf("events %v, want notice, cleared, notice, cleared", got)
	}
	if got := h.events.ofKind(EventRiskControl); got[0].Detail != "" {
		t.Errorf("detail %q with no verification page given", got[0].Detail)
	}
}
