package loadtest

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// The engine's ports are wrapped to time what crosses them, so that a
// latency can be split into where it was spent: waiting for a poll, or
// after it; in the gateway, the queue, the outbox or the send. The
// wrappers only forward and take time stamps.

// call is one timed call through the QQ port.
type call struct {
	session    string // Messages, SendText
	text       string // SendText
	start, end time.Time
}

// timedQQ is the engine's QQ port, timed.
type timedQQ struct {
	bridge.QQ
	mu                  sync.Mutex
	polls, reads, sends []call
}

func (q *timedQQ) record(to *[]call, c call) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(*to) < 1_000_000 {
		*to = append(*to, c)
	}
}

func (q *timedQQ) ChangedSessions(ctx context.Context, since int64) ([]bridge.Session, error) {
	c := call{start: time.Now()}
	s, err := q.QQ.ChangedSessions(ctx, since)
	c.end = time.Now()
	q.record(&q.polls, c)
	return s, err
}

func (q *timedQQ) Messages(ctx context.Context, sessionID string, after bridge.ReadPos, max int) ([]bridge.Message, error) {
	c := call{session: sessionID, start: time.Now()}
	m, err := q.QQ.Messages(ctx, sessionID, after, max)
	c.end = time.Now()
	q.record(&q.reads, c)
	return m, err
}

func (q *timedQQ) SendText(ctx context.Context, s bridge.OutgoingText) (string, error) {
	c := call{session: s.SessionID, text: s.Text, start: time.Now()}
	id, err := q.QQ.SendText(ctx, s)
	c.end = time.Now()
	q.record(&q.sends, c)
	return id, err
}

func (q *timedQQ) snapshot() (polls, reads, sends []call) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]call(nil), q.polls...), append([]call(nil), q.reads...), append([]call(nil), q.sends...)
}

// handled is one reply handed to the engine.
type handled struct {
	called, returned time.Time
}

// timedHandler is the engine as the Discord adapter's handler, timed.
type timedHandler struct {
	bridge.DiscordHandler
	mu      sync.Mutex
	replies map[string]handled // by content
}

func (h *timedHandler) HandleReply(ctx context.Context, r bridge.Reply) error {
	c := time.Now()
	err := h.DiscordHandler.HandleReply(ctx, r)
	h.mu.Lock()
	if h.replies == nil {
		h.replies = map[string]handled{}
	}
	if _, seen := h.replies[r.Content]; !seen {
		h.replies[r.Content] = handled{called: c, returned: time.Now()}
	}
	h.mu.Unlock()
	return err
}

func (h *timedHandler) get(content string) (handled, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	x, ok := h.replies[content]
	return x, ok
}

// split is where the QQ to Discord latency of a message went: waiting for
// the poll that found it, then everything after that poll began (reading
// the sessions, recording, posting).
func split(polls, reads []call, session string, arrived, posted time.Time) (wait, after time.Duration, ok bool) {
	// The first read of the session that began after the message arrived
	// fetched it; the last poll begun before that read reported it.
	var read *call
	for i := range reads {
		if reads[i].session == session && !reads[i].start.Before(arrived) {
			read = &reads[i]
			break
		}
	}
	if read == nil {
		return 0, 0, false
	}
	i := sort.Search(len(polls), func(i int) bool { return polls[i].start.After(read.start) })
	if i == 0 {
		return 0, 0, false
	}
	poll := polls[i-1]
	return poll.start.Sub(arrived), posted.Sub(poll.start), true
}
