package bridge

import (
	"context"
	"sort"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
)

// Status is a snapshot of the engine for health checks and the admin
// channel.
type Status struct {
	// SessionsBridged is the number of sessions with a Discord channel.
	SessionsBridged int
	// OutboxToDiscord and OutboxToQQ are the pending deliveries.
	OutboxToDiscord int
	OutboxToQQ      int
	// OldestPendingToDiscord and OldestPendingToQQ are the ages of the
	// oldest delivery not yet settled in each direction (0: none).
	OldestPendingToDiscord time.Duration
	OldestPendingToQQ      time.Duration
	// Parked counts the deliveries refused for good that wait for an
	// admin's /retry or /skip.
	Parked int
	// LastPoll is the last successful session-list poll (zero if none).
	LastPoll time.Time
	// LastError and LastErrorAt describe the latest failure; Errors counts
	// them since start.
	LastError   string
	LastErrorAt time.Time
	Errors      int64
	Paused      bool
	LoginNeeded bool
}

// Status returns a snapshot of the engine.
func (e *Engine) Status(ctx context.Context) (Status, error) {
	e.mu.Lock()
	s := Status{
		LastPoll:    e.lastPoll,
		LastError:   e.lastErr,
		LastErrorAt: e.lastErrAt,
		Errors:      e.errCount,
		Paused:      e.paused,
		LoginNeeded: e.loginNeeded,
	}
	e.mu.Unlock()
	var err error
	if s.SessionsBridged, err = e.st.CountBridged(ctx); err != nil {
		return s, err
	}
	if s.OutboxToDiscord, s.OutboxToQQ, err = e.st.OutboxDepth(ctx); err != nil {
		return s, err
	}
	ages, err := e.OldestPending(ctx)
	if err != nil {
		return s, err
	}
	s.OldestPendingToDiscord, s.OldestPendingToQQ = ages[ToDiscord], ages[ToQQ]
	s.Parked, err = e.st.CountParked(ctx)
	return s, err
}

// BridgedSession is a session that has a Discord channel, for the admin
// channel's listings.
type BridgedSession struct {
	ID   string
	Peer Peer
	// SortTime is the session's last activity (QQ's sort_time, unix
	// seconds or milliseconds as QQ gives it).
	SortTime int64
	// ChannelID is the session's channel or forum post.
	ChannelID string
}

func bridgedSession(s store.Session) BridgedSession {
	return BridgedSession{ID: s.ID, Peer: fromStorePeer(s.Peer), SortTime: s.SortTime, ChannelID: s.Channel.ChannelID}
}

// Sessions returns the bridged sessions, most recently active first.
func (e *Engine) Sessions(ctx context.Context) ([]BridgedSession, error) {
	ss, err := e.st.BridgedSessions(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]BridgedSession, 0, len(ss))
	for _, s := range ss {
		out = append(out, bridgedSession(s))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].SortTime != out[j].SortTime {
			return out[i].SortTime > out[j].SortTime
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// SessionByChannel returns the session bridged into a Discord channel (or
// forum post).
func (e *Engine) SessionByChannel(ctx context.Context, channelID string) (BridgedSession, bool, error) {
	s, ok, err := e.st.SessionByChannel(ctx, channelID)
	if err != nil || !ok {
		return BridgedSession{}, ok, err
	}
	return bridgedSession(s), true, nil
}
