package bridge

import "errors"

// What became of a call that acts on another system (post, send, create a
// channel, category, webhook or thread, edit, react). A nil error means it
// was done. Otherwise the error wraps at most one of the classes below, and
// the engine branches on them with errors.Is:
//
//   - ErrPermanent: it will never work as is (Discord 400, 403, a 404 of a
//     message, QQ's 20261, content refused). The engine parks the delivery,
//     shows why, and moves on; it is tried again only when an admin asks.
//   - ErrAmbiguous: the request was sent and may have been applied (a 5xx,
//     a time-out or a dropped connection after the request went out). The
//     engine reconciles with the remote side before any second attempt.
//   - neither: transient. Nothing happened; the call may be tried again
//     later as it is.
//
// Adapters never retry a non-idempotent call that may have been applied:
// they hand the ambiguity to the engine.
var (
	ErrPermanent = errors.New("refused for good")
	ErrAmbiguous = errors.New("outcome unknown: the request may have been applied")
)

// Permanent marks err as a permanent failure (see ErrPermanent). Its text
// is the reason shown to people, so it should say what was refused and why.
func Permanent(err error) error {
	if err == nil || errors.Is(err, ErrPermanent) {
		return err
	}
	return &classified{class: ErrPermanent, err: err}
}

// Ambiguous marks err as an ambiguous outcome (see ErrAmbiguous).
func Ambiguous(err error) error {
	if err == nil || errors.Is(err, ErrAmbiguous) {
		return err
	}
	return &classified{class: ErrAmbiguous, err: err}
}

// classified adds a class to an error without changing its text.
type classified struct {
	class error
	err   error
}

func (c *classified) Error() string   { return c.err.Error() }
func (c *classified) Unwrap() []error { return []error{c.err, c.class} }

// CallOutcome is the class of a call's result, for logs and metrics.
type CallOutcome int

const (
	CallDone CallOutcome = iota
	CallTransient
	CallPermanent
	CallAmbiguous
)

func (o CallOutcome) String() string {
	return [...]string{"done", "transient", "permanent", "ambiguous"}[o]
}

// OutcomeOf classifies the error of a call that acts. A permanent error
// that is also ambiguous counts as ambiguous: it may have happened.
func OutcomeOf(err error) CallOutcome {
	switch {
	case err == nil:
		return CallDone
	case errors.Is(err, ErrAmbiguous):
		return CallAmbiguous
	case errors.Is(err, ErrPermanent):
		return CallPermanent
	default:
		return CallTransient
	}
}
