package bridge

import (
	"context"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
)

// changedOf keeps, of the sessions the list returned, those that changed
// compared with what the store holds: unknown ones; a sort_time newer than
// the stored one; a newest message (new_msg) whose id is not recorded; or,
// when the list names no newest message, an unread count that moved. No
// single signal is trusted: sort_times tie within their unit, and some
// servers leave them as they were on a new message.
//
// At the first start (firstStart: nothing polled yet), a session last
// active before FirstStartHorizon is recorded dormant: known, without a
// channel, until it next changes.
func (e *Engine) changedOf(ctx context.Context, listed []Session, firstStart bool) ([]store.SessionChange, error) {
	changes := make([]store.SessionChange, 0, len(listed))
	horizon := time.Time{}
	if firstStart && e.cfg.FirstStartHorizon > 0 {
		horizon = e.now().Add(-e.cfg.FirstStartHorizon)
	}
	for _, s := range listed {
		if s.ID == "" {
			continue
		}
		if !horizon.IsZero() && !s.LastActive.IsZero() && s.LastActive.Before(horizon) {
			if _, known, err := e.st.Session(ctx, s.ID); err != nil {
				return nil, err
			} else if !known {
				changes = append(changes, store.SessionChange{ID: s.ID, Peer: toStorePeer(s.Peer), SortTime: s.SortTime, Dormant: true, LastMsgID: s.NewMsgID})
				continue
			}
		}
		changed, err := e.sessionChanged(ctx, s)
		if err != nil {
			return nil, err
		}
		if changed {
			changes = append(changes, store.SessionChange{ID: s.ID, Peer: toStorePeer(s.Peer), SortTime: s.SortTime})
		}
	}
	return changes, nil
}

func (e *Engine) sessionChanged(ctx context.Context, s Session) (bool, error) {
	e.mu.Lock()
	lastCnt, seenCnt := e.unreadSeen[s.ID]
	e.unreadSeen[s.ID] = s.NewMsgCnt
	e.mu.Unlock()
	stored, ok, err := e.st.Session(ctx, s.ID)
	switch {
	case err != nil:
		return false, err
	case !ok, stored.Dirty, s.SortTime > stored.SortTime:
		return true, nil
	case s.NewMsgID != "":
		if s.NewMsgID == stored.LastMsgID {
			return false, nil
		}
		_, known, err := e.st.KnownMessage(ctx, s.ID, s.NewMsgID)
		return !known, err
	default:
		return s.NewMsgCnt > 0 && (!seenCnt || s.NewMsgCnt != lastCnt), nil
	}
}
