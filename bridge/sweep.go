package bridge

import "context"

// sweepIfDue marks the SweepSessions bridged sessions with the newest
// sort_time dirty, once every SweepInterval, so that the next read re-reads
// their newest page: a change that no signal of the session list showed
// (a session past the list's first page whose sort_time did not move)
// arrives late rather than never. Each swept session costs one request
// when nothing is new.
func (e *Engine) sweepIfDue(ctx context.Context) error {
	now := e.now()
	e.mu.Lock()
	due := now.Sub(e.lastSweep) >= e.cfg.SweepInterval
	if due {
		e.lastSweep = now
	}
	e.mu.Unlock()
	if !due {
		return nil
	}
	ids, err := e.st.RecentSessions(ctx, e.cfg.SweepSessions)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := e.st.MarkDirty(ctx, id); err != nil {
			return err
		}
	}
	return nil
}
