package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
)

// Delivery statuses, as OutboxEntry.Status gives them.
const (
	// StatusPending: waiting for its turn, or for another try after a
	// failure that changed nothing.
	StatusPending = store.StatusPending
	// StatusAttempting: a call is under way (or was when the bridge
	// stopped): it is reconciled before any second attempt.
	StatusAttempting = store.StatusAttempting
	// StatusAmbiguous: the last call may have happened; it is reconciled
	// with the other side before any second attempt.
	StatusAmbiguous = store.StatusAmbiguous
	// StatusParked: failed for good; it waits for an admin's /retry or
	// /skip and delays nothing.
	StatusParked = store.StatusParked
)

// OutboxEntry is a delivery that needs a look: parked, or tried at least
// once and still not delivered.
type OutboxEntry struct {
	ID        int64
	SessionID string
	// Peer is the session's QQ user and ChannelID its Discord channel (or
	// forum post), when known.
	Peer      Peer
	ChannelID string
	Direction Direction
	Status    string
	Attempts  int
	// Reason is why the last attempt failed.
	Reason string
	// Summary says what the message is, in a few words.
	Summary       string
	CreatedAt     time.Time
	NextAttemptAt time.Time
}

// Outbox returns the deliveries that need a look, of one session (or of
// all when sessionID is ""), oldest first, at most limit (<= 0: all).
func (e *Engine) Outbox(ctx context.Context, sessionID string, limit int) ([]OutboxEntry, error) {
	es, err := e.st.Stuck(ctx, sessionID, limit)
	if err != nil {
		return nil, err
	}
	sessions := map[string]store.Session{}
	out := make([]OutboxEntry, 0, len(es))
	for _, h := range es {
		s, ok := sessions[h.SessionID]
		if !ok {
			if s, _, err = e.st.Session(ctx, h.SessionID); err != nil {
				return nil, err
			}
			sessions[h.SessionID] = s
		}
		out = append(out, OutboxEntry{
			ID: h.ID, SessionID: h.SessionID, Peer: fromStorePeer(s.Peer), ChannelID: s.Channel.ChannelID, Direction: dirOf(h.Direction), Status: h.Status,
			Attempts: h.Attempts, Reason: h.LastError, Summary: summary(h), CreatedAt: h.CreatedAt, NextAttemptAt: h.NextAttemptAt,
		})
	}
	return out, nil
}

// ErrNoEntry (wrapped) means no delivery has the id given.
var ErrNoEntry = store.ErrNoEntry

// ErrEntryState (wrapped) means the delivery is not in a state the
// command applies to (only a parked one can be retried; one being
// attempted cannot be skipped).
var ErrEntryState = store.ErrEntryState

// Retry puts a parked delivery back in its session's queue: it is tried
// (after a check that it did not arrive after all) once more. A reply's
// other parked parts go with it. It returns how many entries it revived.
func (e *Engine) Retry(ctx context.Context, id int64) (int, error) {
	n, err := e.st.Retry(ctx, id)
	if err == nil {
		e.log.Info("bridge: parked delivery retried by an admin", "entry", id, "entries", n)
		kick(e.kickDeliver)
	}
	return n, err
}

// RetrySession puts every parked delivery of a session back in its queue.
func (e *Engine) RetrySession(ctx context.Context, sessionID string) (int, error) {
	n, err := e.st.RetrySession(ctx, sessionID)
	if err == nil && n > 0 {
		e.log.Info("bridge: parked deliveries retried by an admin", "session", sessionID, "entries", n)
		kick(e.kickDeliver)
	}
	return n, err
}

// skipReason is the reason a skipped delivery shows.
const skipReason = "skipped by an admin"

// Skip settles a parked or pending delivery as skipped: it is never
// delivered and its session goes on. A reply's later parts go with it, and
// the member's message gets ❌.
func (e *Engine) Skip(ctx context.Context, id int64) (int, error) {
	n, err := e.st.Skip(ctx, id, skipReason)
	if err == nil {
		e.log.Info("bridge: delivery skipped by an admin", "entry", id, "entries", n)
		kick(e.kickDeliver)
	}
	return n, err
}

// SkipSession skips every parked or pending delivery of a session; busy
// counts those being attempted right now, which are left alone.
func (e *Engine) SkipSession(ctx context.Context, sessionID string) (skipped, busy int, err error) {
	skipped, busy, err = e.st.SkipSession(ctx, sessionID, skipReason)
	if err == nil && skipped > 0 {
		e.log.Info("bridge: deliveries skipped by an admin", "session", sessionID, "entries", skipped, "busy", busy)
		kick(e.kickDeliver)
	}
	return skipped, busy, err
}

// OldestPending is the age of the oldest delivery not yet settled, per
// direction (absent when none is pending).
func (e *Engine) OldestPending(ctx context.Context) (map[Direction]time.Duration, error) {
	m, err := e.st.OldestPending(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[Direction]time.Duration, len(m))
	now := e.now()
	for d, t := range m {
		out[dirOf(d)] = max(now.Sub(t), 0)
	}
	return out, nil
}

// placeholderText says what could not be shown, why, and what an admin
// can do; once an admin skipped the message, that it will not be shown.
func placeholderText(h store.Entry, reason string) string {
	what := "A QQ message"
	var m Message
	if json.Unmarshal(h.Payload, &m) == nil {
		if m.Sender.Nick != "" {
			what = "A QQ message from " + m.Sender.Nick
		}
		if !m.Time.IsZero() {
			what += " (" + m.Time.UTC().Format("2006-01-02 15:04 UTC") + ")"
		}
	}
	if h.Status == store.StatusSkipped {
		return clipRunes("⚠️ "+what+" could not be shown here, and an admin skipped it: it will not be shown.", 1900)
	}
	if reason == "" {
		reason = "unknown error"
	}
	return clipRunes(fmt.Sprintf("⚠️ %s could not be shown here: %s\nAn admin can see it with /outbox, try it again with /retry entry:%d, or drop it with /skip entry:%d.",
		what, reason, h.ID, h.ID), 1900)
}

// summary says in a few words what an entry carries.
func summary(h store.Entry) string {
	if h.Direction == store.ToQQ {
		var p replyPayload
		if json.Unmarshal(h.Payload, &p) != nil {
			return "reply (cannot be decoded)"
		}
		part := ""
		if h.Parts > 1 {
			part = fmt.Sprintf(" (part %d of %d)", h.Part+1, h.Parts)
		}
		return "reply" + part + ": " + clipRunes(oneLine(p.Text), 60)
	}
	var m Message
	if json.Unmarshal(h.Payload, &m) != nil {
		return "QQ message (cannot be decoded)"
	}
	text := m.Text
	if text == "" {
		text = "[" + m.Kind.String() + "]"
	}
	from := m.Sender.Nick
	if from == "" {
		from = "QQ"
	}
	return from + ": " + clipRunes(oneLine(text), 60)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func clipRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
