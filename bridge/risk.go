package bridge

import (
	"errors"
	"time"
)

// RiskNoticeAfter is how long QQ's risk-control refusals (code 2001) must
// persist before the operator is told (EventRiskControl): short bursts
// that clear within seconds are common and need no one.
const RiskNoticeAfter = time.Minute

// riskStreak tracks an unbroken run of risk-control refusals.
type riskStreak struct {
	since    time.Time // first refusal of the streak; zero: none
	url      string    // the latest verification page QQ named
	notified bool      // EventRiskControl was emitted for this streak
}

// VerificationURL returns the verification page QQ's risk control named
// with a refusal: that of the first error in err's chain with a
// VerificationURL() string method (qq's rate-limit error has one), or "".
func VerificationURL(err error) string {
	var v interface{ VerificationURL() string }
	if errors.As(err, &v) {
		return v.VerificationURL()
	}
	return ""
}

// riskRefused notes a call QQ refused; a rate-limit refusal extends the
// streak, and once the streak is RiskNoticeAfter old the operator is told,
// once per streak. The callers back off (with jitter) on their own.
func (e *Engine) riskRefused(err error) {
	if !errors.Is(err, ErrRateLimited) {
		return
	}
	now := e.now()
	e.mu.Lock()
	r := &e.risk
	if r.since.IsZero() {
		r.since = now
	}
	if u := VerificationURL(err); u != "" {
		r.url = u
	}
	fire := !r.notified && now.Sub(r.since) >= RiskNoticeAfter
	if fire {
		r.notified = true
	}
	url, since := r.url, r.since
	e.mu.Unlock()
	if fire {
		e.log.Warn("bridge: QQ Music's risk control has refused calls for over a minute; backing off", "since", since, "verification_url", url)
		e.emit(Event{Kind: EventRiskControl, Detail: url})
	}
}

// riskAccepted notes a call QQ accepted: the streak ends, and when the
// operator was told of it, they are told it cleared.
func (e *Engine) riskAccepted() {
	now := e.now()
	e.mu.Lock()
	r := e.risk
	e.risk = riskStreak{}
	e.mu.Unlock()
	if r.notified {
		lasted := now.Sub(r.since).Round(time.Second)
		e.log.Info("bridge: QQ Music's risk control cleared", "lasted", lasted)
		e.emit(Event{Kind: EventRiskControlCleared, Detail: lasted.String()})
	}
}
