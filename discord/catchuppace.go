package discord

import (
	"context"
	"fmt"

	"golang.org/x/time/rate"
)

// A catch-up's history reads (RepliesAfter) are a background task: left
// at full speed, a few channels read at once meet Discord's global limit
// (50 requests a second), and every request then waits, live deliveries
// included, for the rest of the window and its turn behind the reads.
// They are paced below it instead, leaving about half the budget to live
// traffic: in any second at most catchUpReadBurst + catchUpReadRate reads.
const (
	catchUpReadRate  rate.Limit = 25
	catchUpReadBurst            = 5
)

// waitCatchUpRead waits for the catch-up's turn to read a page of history.
func (a *Adapter) waitCatchUpRead(ctx context.Context) error {
	r := a.readPacer.Reserve()
	if d := r.Delay(); d > 0 {
		if err := sleep(ctx, d); err != nil {
			r.Cancel()
			return fmt.Errorf("discord: stopped waiting for the catch-up's turn to read channel history (nothing was read; the catch-up tries again): %w", err)
		}
	}
	return nil
}
