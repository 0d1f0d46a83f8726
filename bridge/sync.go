package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
)

// pollOnce reads the changed sessions (one QQ request when idle), records
// them as dirty with the new watermark, then reads the messages of every
// dirty session whose back-off allows.
func (e *Engine) pollOnce(ctx context.Context) error {
	if paused, login := e.state(); paused || login {
		return nil
	}
	wm, err := e.st.Watermark(ctx)
	if err != nil {
		e.fault("store", err)
		return err
	}
	start := e.now()
	changed, err := e.qq.ChangedSessions(ctx, wm)
	e.obs.PollDone(e.now().Sub(start), err)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		if errors.Is(err, ErrLoginRequired) {
			e.loginRequired(err)
			return err
		}
		e.riskRefused(err)
		e.fault("qq poll", err)
		return err
	}
	e.riskAccepted()
	e.recovered("qq poll")
	e.mu.Lock()
	e.pollFails = 0
	e.lastPoll = e.now()
	e.mu.Unlock()

	changes, err := e.changedOf(ctx, changed, wm == 0)
	if err != nil {
		e.fault("store", err)
		return err
	}
	newWM := wm
	for _, s := range changed {
		newWM = max(newWM, s.SortTime)
	}
	if len(changes) > 0 || newWM > wm {
		if len(changes) > 0 {
			e.activity()
		}
		if err := e.st.MarkChanged(ctx, changes, newWM); err != nil {
			e.fault("store", err)
			return err
		}
	}
	if err := e.sweepIfDue(ctx); err != nil {
		e.fault("store", err)
		return err
	}
	return e.syncDirty(ctx)
}

// syncDirty reads the messages of the dirty sessions that are due.
func (e *Engine) syncDirty(ctx context.Context) error {
	dirty, err := e.st.DirtySessions(ctx)
	if err != nil {
		e.fault("store", err)
		return err
	}
	now := e.now()
	for _, s := range dirty {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		e.mu.Lock()
		r := e.sessRetry[s.ID]
		e.mu.Unlock()
		if now.Before(r.until) {
			continue
		}
		// A session busy sending a reply stays dirty and is read at the
		// next poll: the others are not held up.
		mu := e.sessionLock(s.ID)
		if !mu.TryLock() {
			continue
		}
		err := e.syncSessionLocked(ctx, s.ID)
		mu.Unlock()
		switch {
		case errors.Is(err, ErrLoginRequired):
			e.loginRequired(err)
			return err
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			e.fault("session "+s.ID, err)
			e.mu.Lock()
			r.fails++
			r.until = e.now().Add(e.backoff(r.fails))
			e.sessRetry[s.ID] = r
			e.mu.Unlock()
		default:
			e.recovered("session " + s.ID)
			e.mu.Lock()
			delete(e.sessRetry, s.ID)
			e.mu.Unlock()
		}
	}
	return nil
}

// syncSession makes sure a session has its channel, then reads its new
// messages (the backfill, for a new one) and records them with the cursor
// and their outbox entries in one transaction.
func (e *Engine) syncSession(ctx context.Context, id string) error {
	mu := e.sessionLock(id)
	mu.Lock()
	defer mu.Unlock()
	return e.syncSessionLocked(ctx, id)
}

// syncSessionLocked is syncSession with the session's lock held.
func (e *Engine) syncSessionLocked(ctx context.Context, id string) error {
	s, ok, err := e.st.Session(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownSession, id)
	}
	if _, err := e.ensureChannelRoom(ctx, s, false); err != nil {
		return err
	}
	after, limit := ReadPos{Seq: s.LastSeq, MsgID: s.LastMsgID}, e.cfg.CatchUpMax
	if !s.Backfilled {
		after, limit = ReadPos{}, max(e.cfg.Backfill, liveFetch)
	}
	msgs, err := e.qq.Messages(ctx, id, after, limit)
	if err != nil {
		return fmt.Errorf("read messages of session %s: %w", id, err)
	}
	// A first read takes the newest messages only. When even the oldest of
	// a full read is live, live messages may lie beyond it (a new session
	// that got many while Discord or the bridge was down): read further
	// back, up to CatchUpMax, rather than skip them.
	for !s.Backfilled && len(msgs) >= limit && limit < e.cfg.CatchUpMax && !oldest(msgs).Time.Before(e.liveSince) {
		limit = min(limit*4, e.cfg.CatchUpMax)
		if msgs, err = e.qq.Messages(ctx, id, ReadPos{}, limit); err != nil {
			return fmt.Errorf("read messages of session %s: %w", id, err)
		}
	}
	if s.Backfilled && len(msgs) >= limit {
		e.log.Warn("bridge: more messages arrived while away than the catch-up reads; the oldest are skipped (Resync fills gaps)",
			"session", id, "read", len(msgs))
	}
	var history func(i, n int, m Message) bool
	if !s.Backfilled {
		// The first read: the newest Backfill messages and the live ones
		// are relayed; older history is only recorded as known.
		history = func(i, n int, m Message) bool {
			return i < n-e.cfg.Backfill && m.Time.Before(e.liveSince)
		}
	}
	restarted := false
	if s.Backfilled {
		if restarted, err = e.noticeRestart(ctx, s, msgs); err != nil {
			return err
		}
	}
	_, err = e.record(ctx, id, msgs, true, history, restarted)
	return err
}

// oldest returns the first of msgs in session order; msgs is not empty.
func oldest(msgs []Message) Message {
	o := msgs[0]
	for _, m := range msgs[1:] {
		if m.Less(o) {
			o = m
		}
	}
	return o
}

// ensureChannel creates the session's channel when it has none (or when
// force), and renames it when the peer changed.
func (e *Engine) ensureChannel(ctx context.Context, s store.Session, force bool) (ChannelRef, error) {
	ref := fromStoreChannel(s.Channel)
	if ref.ChannelID != "" && !force && s.ChannelNick == s.Peer.Nick && s.ChannelAvatar == s.Peer.AvatarURL {
		return ref, nil
	}
	var have *ChannelRef
	if ref.ChannelID != "" {
		have = &ref
	}
	sess := Session{ID: s.ID, Peer: fromStorePeer(s.Peer), SortTime: s.SortTime}
	got, err := e.dc.EnsureChannel(ctx, sess, have)
	if err != nil {
		return ref, fmt.Errorf("ensure Discord channel of session %s: %w", s.ID, err)
	}
	if got.ChannelID == "" {
		return ref, fmt.Errorf("ensure Discord channel of session %s: the adapter returned no channel id", s.ID)
	}
	if have == nil {
		// A session archived before: its fresh channel starts with the
		// earlier messages, before anything is delivered into it.
		if err := e.reopenContext(ctx, s, got); err != nil {
			return ref, err
		}
	}
	if err := e.st.SetChannel(ctx, s.ID, toStoreChannel(got), s.Peer.Nick, s.Peer.AvatarURL); err != nil {
		return ref, err
	}
	if got.ChannelID != ref.ChannelID {
		e.log.Info("bridge: session bridged", "session", s.ID, "peer", s.Peer.Nick, "channel", got.ChannelID)
		e.emit(Event{Kind: EventSessionBridged, SessionID: s.ID, Detail: s.Peer.Nick})
		// Members may have written in the channel before it was recorded
		// as the session's (an adopted channel made before a crash): those
		// messages were ignored live, and only a catch-up finds them.
		e.requestChannelCatchUp(got.ChannelID)
	}
	return got, nil
}

// record sorts and de-duplicates msgs and records them (see
// store.RecordObserved). history, when set, says which of the sorted
// messages (index i of n) are old history to record without relaying. It
// returns how many were queued for Discord.
func (e *Engine) record(ctx context.Context, sessionID string, msgs []Message, clearDirty bool, history func(i, n int, m Message) bool, reset bool) (int, error) {
	sorted := make([]Message, 0, len(msgs))
	seen := map[string]bool{}
	for _, m := range msgs {
		if m.ID == "" {
			// Never drop a message: name it by what identifies it.
			m.ID = fmt.Sprintf("noid-%d-%d", m.Sequence, m.Time.UnixNano())
		}
		if seen[m.ID] {
			continue
		}
		seen[m.ID] = true
		if m.SessionID == "" {
			m.SessionID = sessionID
		}
		sorted = append(sorted, m)
	}
	sorted = sessionOrder(sorted)
	obs := make([]store.Observed, 0, len(sorted))
	var cur store.Cursor
	for i, m := range sorted {
		if history != nil && history(i, len(sorted), m) {
			obs = append(obs, store.Observed{ID: m.ID, Sequence: m.Sequence, Skip: true})
		} else {
			payload, err := json.Marshal(m)
			if err != nil {
				return 0, fmt.Errorf("encode message %s: %w", m.ID, err)
			}
			obs = append(obs, store.Observed{ID: m.ID, Sequence: m.Sequence, FromOwner: m.FromOwner, ClientKey: m.ClientKey, Payload: payload})
		}
		// The cursor is the newest message in session order, with the
		// highest sequence seen.
		cur = store.Cursor{MsgID: m.ID, Seq: max(cur.Seq, m.Sequence)}
	}
	// A conversation started again: its position goes back with it.
	cur.Reset = reset && len(sorted) > 0
	res, err := e.st.RecordObserved(ctx, sessionID, obs, cur, clearDirty)
	if err != nil {
		return 0, err
	}
	for range res.Settled {
		e.obs.Relayed(ToQQ, OutcomeReconciled)
	}
	if len(res.Queued) > 0 {
		e.activity()
		kick(e.kickDeliver)
	}
	return len(res.Queued), nil
}

// Resync re-reads the history of a session (at most ResyncMax messages)
// and queues those missing in Discord since the first message relayed, in
// order, without duplicating any. It returns how many were queued.
func (e *Engine) Resync(ctx context.Context, sessionID string) (int, error) {
	s, ok, err := e.st.Session(ctx, sessionID)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("resync: %w: %s", ErrUnknownSession, sessionID)
	}
	if !s.Backfilled || s.Channel.ChannelID == "" {
		// Never read: an ordinary sync is the resync.
		return 0, e.syncSession(ctx, sessionID)
	}
	mu := e.sessionLock(sessionID)
	mu.Lock()
	defer mu.Unlock()
	after := int64(0)
	if min, ok, err := e.st.MinRelayedSeq(ctx, sessionID); err != nil {
		return 0, err
	} else if ok {
		after = min - 1
	}
	msgs, err := e.qq.Messages(ctx, sessionID, ReadPos{Seq: after}, e.cfg.ResyncMax)
	if err != nil {
		if errors.Is(err, ErrLoginRequired) {
			e.loginRequired(err)
		}
		return 0, fmt.Errorf("resync session %s: %w", sessionID, err)
	}
	return e.record(ctx, sessionID, msgs, false, nil, false)
}

func toStorePeer(p Peer) store.Peer {
	return store.Peer{UIN: p.UIN, EncryptUIN: p.EncryptUIN, Nick: p.Nick, AvatarURL: p.AvatarURL}
}

func fromStorePeer(p store.Peer) Peer {
	return Peer{UIN: p.UIN, EncryptUIN: p.EncryptUIN, Nick: p.Nick, AvatarURL: p.AvatarURL}
}

func toStoreChannel(c ChannelRef) store.Channel {
	return store.Channel{ChannelID: c.ChannelID, ParentID: c.ParentID, WebhookID: c.WebhookID, WebhookToken: c.WebhookToken, Name: c.Name}
}

func fromStoreChannel(c store.Channel) ChannelRef {
	return ChannelRef{ChannelID: c.ChannelID, ParentID: c.ParentID, WebhookID: c.WebhookID, WebhookToken: c.WebhookToken, Name: c.Name}
}
