package bridge

import "errors"

// ErrHeld (wrapped) marks a transient failure that is not the delivery's
// fault but its destination's, which may not receive it yet: a Discord
// channel that every member of the server can read, say, where the bridge
// posts no private message until an admin makes it private. Such a
// delivery waits in the outbox, shown with the error, and is tried again
// with back-off for as long as it takes: the attempts it spends held never
// count toward MaxAttempts, so it goes out by itself once the destination
// is fit. Nothing happened on the remote side (it is transient, neither
// ErrPermanent nor ErrAmbiguous).
var ErrHeld = errors.New("held until the destination may receive it")

// Held marks err as a hold (see ErrHeld). Its text should say what holds
// the delivery and what to do about it.
func Held(err error) error {
	if err == nil || errors.Is(err, ErrHeld) {
		return err
	}
	return &classified{class: ErrHeld, err: err}
}
