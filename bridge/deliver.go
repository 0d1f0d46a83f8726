package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
)

// maxAckAttempts bounds the tries at marking a member's message delivered
// or failed: the mark is cosmetic, the delivery is already settled.
const maxAckAttempts = 8

// replyPayload is what a ToQQ outbox entry carries.
type replyPayload struct {
	PeerUIN string    `json:"peer_uin"`
	Text    string    `json:"text"`
	Time    time.Time `json:"time"`
}

// dueAt is when an entry may be tried: its own schedule, and for QQ the
// global back-off after a rate limit.
func (e *Engine) dueAt(h store.Entry) time.Time {
	due := h.NextAttemptAt
	if h.Direction == store.ToQQ {
		e.mu.Lock()
		if e.qqSendUntil.After(due) {
			due = e.qqSendUntil
		}
		e.mu.Unlock()
	}
	return due
}

// deliver settles one entry: it reconciles a possibly-done earlier attempt,
// records the attempt, delivers, and records the outcome. It returns nil
// when the entry was settled (delivered or given up).
func (e *Engine) deliver(ctx context.Context, h store.Entry) error {
	switch h.Direction {
	case store.ToDiscord:
		return e.deliverToDiscord(ctx, h)
	case store.ToQQ:
		return e.deliverToQQ(ctx, h)
	}
	return e.park(ctx, h, dirOf(h.Direction), fmt.Sprintf("unknown direction %q", h.Direction))
}

// dirOf maps a store direction to the engine's.
func dirOf(d store.Direction) Direction {
	if d == store.ToQQ {
		return ToQQ
	}
	return ToDiscord
}

func (e *Engine) deliverToDiscord(ctx context.Context, h store.Entry) error {
	gate := e.arch.of(h.SessionID)
	if !gate.TryRLock() {
		return e.retry(ctx, h, ToDiscord, errArchiving(h.SessionID))
	}
	defer gate.RUnlock()
	var m Message
	if err := json.Unmarshal(h.Payload, &m); err != nil {
		return e.park(ctx, h, ToDiscord, "stored message cannot be decoded: "+err.Error())
	}
	s, ok, err := e.st.Session(ctx, h.SessionID)
	if err != nil {
		e.fault("store", err)
		return err
	}
	if !ok {
		return e.park(ctx, h, ToDiscord, "session no longer known")
	}
	ref := fromStoreChannel(s.Channel)
	if ref.ChannelID == "" {
		if ref, err = e.ensureChannelRoom(ctx, s, true); err != nil {
			return e.retry(ctx, h, ToDiscord, err)
		}
	}
	source := "discord post " + h.SessionID
	// What the first attempt sent is recorded with it: later attempts and
	// reconciliations use those bytes, never a new rendering.
	sent, err := e.st.Sent(ctx, h.ID)
	if err != nil {
		e.fault("store", err)
		return err
	}
	if sent == nil {
		if sent, err = e.dc.Render(m); err != nil {
			return e.park(ctx, h, ToDiscord, "the message cannot be shown in Discord: "+err.Error())
		}
	}
	if h.Attempts > 0 {
		ids, found, err := e.dc.FindPosted(ctx, ref, s.LastPostedDiscordID, sent)
		if err != nil {
			return e.retryDiscord(ctx, h, s, err)
		}
		if found {
			if err := e.st.RecordDelivered(ctx, h.ID, ids); err != nil {
				e.fault("store", err)
				return err
			}
			e.recovered(source)
			e.obs.Relayed(ToDiscord, OutcomeReconciled)
			return nil
		}
	}
	ids, err := e.attemptPost(ctx, h, ref, sent)
	if errors.Is(err, errStore) {
		return err
	}
	if err != nil {
		return e.retryDiscord(ctx, h, s, err)
	}
	e.recovered(source)
	e.log.Debug("bridge: relayed to Discord", "session", h.SessionID, "qq_msg", h.Key, "channel", ref.ChannelID, "discord_msgs", ids)
	e.obs.Relayed(ToDiscord, OutcomeDelivered)
	e.obs.RelayLatency(ToDiscord, e.latency(m.Time, h.CreatedAt))
	return nil
}

// errStore marks a store failure inside an attempt (already counted): the
// entry stays as the store has it and is looked at again later.
var errStore = errors.New("store failure")

// attemptPost is one attempt at posting a QQ message: it records the
// attempt, posts, and records the delivery. An error wrapping errStore is
// the store's; any other is the post's, with its outcome class.
func (e *Engine) attemptPost(ctx context.Context, h store.Entry, ref ChannelRef, sent Rendered) ([]string, error) {
	if err := e.st.MarkAttemptSent(ctx, h.ID, sent); err != nil {
		if !errors.Is(err, store.ErrEntryState) { // else skipped meanwhile
			e.fault("store", err)
		}
		return nil, fmt.Errorf("%w: %w", errStore, err)
	}
	ids, err := e.dc.Post(ctx, ref, sent)
	if err != nil {
		return nil, err
	}
	if err := e.st.RecordDelivered(ctx, h.ID, ids); err != nil {
		e.fault("store", err)
		return nil, fmt.Errorf("%w: %w", errStore, err)
	}
	return ids, nil
}

// checkChannelEvery is how many failed posts in a row make the engine ask
// Discord whether the session's channel still exists (an adapter that does
// not report ErrChannelNotFound would otherwise fail until it gives up).
const checkChannelEvery = 3

// retryDiscord schedules a retry; a channel found missing (or suspected
// so, after repeated failures) is re-ensured first.
func (e *Engine) retryDiscord(ctx context.Context, h store.Entry, s store.Session, err error) error {
	if errors.Is(err, ErrChannelNotFound) || (h.Attempts+1)%checkChannelEvery == 0 {
		if _, eerr := e.ensureChannel(ctx, s, true); eerr != nil {
			err = errors.Join(err, eerr)
		}
	}
	return e.retry(ctx, h, ToDiscord, err)
}

func (e *Engine) deliverToQQ(ctx context.Context, h store.Entry) error {
	var p replyPayload
	if err := json.Unmarshal(h.Payload, &p); err != nil {
		return e.park(ctx, h, ToQQ, "stored reply cannot be decoded: "+err.Error())
	}
	s, ok, err := e.st.Session(ctx, h.SessionID)
	if err != nil {
		e.fault("store", err)
		return err
	}
	if ok && s.Peer.UIN != "" {
		p.PeerUIN = s.Peer.UIN
	}
	if p.PeerUIN == "" {
		return e.park(ctx, h, ToQQ, "the QQ user of this session is not known (no uin)")
	}
	source := "qq send " + h.SessionID
	if h.Attempts > 0 {
		// An earlier attempt may have sent it. First read the session's new
		// messages: its echo, however many messages followed it, settles
		// the entry. Then ask FindSent, which only scans recent messages.
		if err := e.syncSession(ctx, h.SessionID); err != nil {
			return e.retryQQ(ctx, h, err)
		}
		if cur, ok, err := e.st.Entry(ctx, h.ID); err != nil {
			e.fault("store", err)
			return err
		} else if ok && cur.State != store.StatePending {
			// Its echo settled it (and record counted it).
			e.recovered(source)
			return nil
		}
		id, found, err := e.qq.FindSent(ctx, h.SessionID, h.ClientKey)
		if err != nil {
			return e.retryQQ(ctx, h, err)
		}
		if found {
			if err := e.st.RecordDelivered(ctx, h.ID, nonEmpty(id)); err != nil {
				e.fault("store", err)
				return err
			}
			e.recovered(source)
			e.obs.Relayed(ToQQ, OutcomeReconciled)
			return nil
		}
		if wait := e.settling(h); !wait.IsZero() {
			// QQ sends asynchronously: a send that may have happened can
			// show only some time later. Look again then.
			if err := e.st.RecordAmbiguous(ctx, h.ID, wait, "not found yet; QQ may still be applying the send, looking again before sending again"); err != nil {
				e.fault("store", err)
				return err
			}
			return errSettling
		}
	}
	if err := e.st.MarkAttempt(ctx, h.ID); err != nil {
		if !errors.Is(err, store.ErrEntryState) { // else skipped meanwhile
			e.fault("store", err)
		}
		return err
	}
	// No read of this session runs between the send and its record: the
	// message id is known before its echo can be read, even if QQ were to
	// echo it without the client_key. Other sessions are read meanwhile.
	mu := e.sessionLock(h.SessionID)
	mu.Lock()
	id, err := e.qq.SendText(ctx, OutgoingText{SessionID: h.SessionID, PeerUIN: p.PeerUIN, Text: p.Text, ClientKey: h.ClientKey})
	if err != nil {
		mu.Unlock()
		return e.retryQQ(ctx, h, err)
	}
	err = e.st.RecordDelivered(ctx, h.ID, nonEmpty(id))
	mu.Unlock()
	if err != nil {
		e.fault("store", err)
		return err
	}
	e.recovered(source)
	e.mu.Lock()
	e.qqLimitStreak = 0
	e.mu.Unlock()
	e.riskAccepted()
	e.log.Debug("bridge: relayed to QQ", "session", h.SessionID, "discord_msg", h.DiscordMsgID, "part", h.Part, "qq_msg", id)
	e.obs.Relayed(ToQQ, OutcomeDelivered)
	e.obs.RelayLatency(ToQQ, e.latency(p.Time, h.CreatedAt))
	return nil
}

// errSettling: an entry waits to be looked for again (see settling).
var errSettling = errors.New("waiting for an asynchronous send to show")

// settling is when an entry whose last attempt may have happened may be
// concluded not sent, if that is still to come (zero otherwise).
func (e *Engine) settling(h store.Entry) time.Time {
	if h.Status != store.StatusAttempting && h.Status != store.StatusAmbiguous || h.AttemptedAt.IsZero() {
		return time.Time{}
	}
	if at := h.AttemptedAt.Add(e.cfg.SendSettle); e.now().Before(at) {
		return at
	}
	return time.Time{}
}

func (e *Engine) retryQQ(ctx context.Context, h store.Entry, err error) error {
	switch {
	case errors.Is(err, ErrLoginRequired):
		// Not the entry's fault: it waits, untouched, for the new login.
		e.loginRequired(err)
		return err
	case errors.Is(err, ErrRateLimited):
		e.riskRefused(err)
		e.mu.Lock()
		e.qqLimitStreak++
		e.qqSendUntil = e.now().Add(e.backoff(e.qqLimitStreak + 2))
		e.mu.Unlock()
	}
	return e.retry(ctx, h, ToQQ, err)
}

// latency is how long a message took to be relayed: from when it was
// written, for a live message; from when the bridge queued it, for history
// read by a backfill or a catch-up (whose age says nothing of the bridge).
func (e *Engine) latency(written, queued time.Time) time.Duration {
	from := queued
	if !written.IsZero() && written.After(queued.Add(-3*e.cfg.IdlePollInterval)) {
		from = written
	}
	return max(e.now().Sub(from), 0)
}

func nonEmpty(id string) []string {
	if id == "" {
		return nil
	}
	return []string{id}
}

// retry records a failed attempt by what became of it. Refused for good
// (ErrPermanent): the entry is parked at once and nil is returned, so the
// session's next entry goes. May have happened (ErrAmbiguous): it is
// recorded ambiguous and reconciled before any second attempt. Otherwise
// (transient) it is tried again with back-off. After MaxAttempts it is
// parked, never dropped; attempts held by their destination (ErrHeld) wait
// as long as it takes.
func (e *Engine) retry(ctx context.Context, h store.Entry, dir Direction, cause error) error {
	source := "discord post " + h.SessionID
	if dir == ToQQ {
		source = "qq send " + h.SessionID
	}
	if ctx.Err() != nil {
		return cause
	}
	outcome := OutcomeOf(cause)
	if outcome == CallPermanent && errors.Is(cause, ErrChannelNotFound) {
		// The channel is made again (see retryDiscord): not the message's
		// fault.
		outcome = CallTransient
	}
	if outcome == CallPermanent {
		return e.park(ctx, h, dir, cause.Error())
	}
	e.fault(source, cause)
	if h.Attempts+1 >= e.cfg.MaxAttempts && !errors.Is(cause, ErrHeld) {
		return e.giveUp(ctx, h, dir, fmt.Sprintf("gave up after %d attempts: %v", h.Attempts+1, cause))
	}
	next := e.now().Add(e.backoff(h.Attempts + 1))
	record, res := e.st.RecordRetry, OutcomeRetry
	if outcome == CallAmbiguous {
		record, res = e.st.RecordAmbiguous, OutcomeAmbiguous
	}
	if err := record(ctx, h.ID, next, cause.Error()); err != nil {
		e.fault("store", err)
	}
	e.obs.Relayed(dir, res)
	return cause
}

// park settles an entry as parked (refused for good) with why: it waits
// for an admin's /retry or /skip, and people see it (a placeholder in the
// session channel, or ❌ on the member's message). It returns nil: the
// session's next entry may go.
func (e *Engine) park(ctx context.Context, h store.Entry, dir Direction, why string) error {
	if err := e.st.RecordParked(ctx, h.ID, why); err != nil {
		e.fault("store", err)
		return err
	}
	e.log.Warn("bridge: delivery parked: refused for good; /retry or /skip it in the admin channel", "direction", dir, "session", h.SessionID, "key", h.Key, "entry", h.ID, "reason", why)
	e.obs.Relayed(dir, OutcomeParked)
	e.emit(Event{Kind: EventDeliveryFailed, SessionID: h.SessionID, Detail: why})
	return nil
}

// giveUp parks an entry that failed MaxAttempts times.
func (e *Engine) giveUp(ctx context.Context, h store.Entry, dir Direction, why string) error {
	if err := e.st.RecordParked(ctx, h.ID, why); err != nil {
		e.fault("store", err)
		return err
	}
	e.log.Error("bridge: delivery parked after too many attempts; /retry or /skip it in the admin channel", "direction", dir, "session", h.SessionID, "key", h.Key, "entry", h.ID, "reason", why)
	e.obs.Relayed(dir, OutcomeFailed)
	e.emit(Event{Kind: EventDeliveryFailed, SessionID: h.SessionID, Detail: why})
	return nil
}

// acks marks members' messages of a session delivered or failed in
// Discord, and makes the placeholders of its QQ messages say what is true
// (placeholders.go). A step that fails transiently is tried again later;
// one refused for good, or failing maxAckAttempts times, is given up with
// a log line: the delivery itself is settled.
func (e *Engine) acks(ctx context.Context, sessionID string) {
	// Only this session's marks are read: every portal round comes here,
	// and reading every session's marks each time held the database (one
	// connection) for seconds once a few hundred waited, stalling polls
	// and deliveries alike.
	acks, err := e.st.PendingAcksOf(ctx, sessionID)
	if err != nil {
		e.fault("store", err)
		return
	}
	for _, a := range acks {
		if ctx.Err() != nil {
			return
		}
		e.mu.Lock()
		wait := e.now().Before(e.ackRetry[a.EntryID])
		e.mu.Unlock()
		if wait {
			continue
		}
		var err error
		switch {
		case a.Direction == store.ToDiscord:
			err = e.placeholder(ctx, a) // records its own step
		case a.Delivered:
			err = e.dc.MarkDelivered(ctx, a.ChannelID, a.DiscordMsgID)
		default:
			err = e.dc.MarkFailed(ctx, a.ChannelID, a.DiscordMsgID, a.Reason)
		}
		if err != nil && OutcomeOf(err) != CallPermanent && a.Attempts+1 < maxAckAttempts {
			e.fault("discord mark", err)
			if err := e.st.AckFailed(ctx, a.EntryID); err != nil {
				e.fault("store", err)
			}
			e.mu.Lock()
			e.ackRetry[a.EntryID] = e.now().Add(e.backoff(a.Attempts + 1))
			e.mu.Unlock()
			continue
		}
		e.mu.Lock()
		delete(e.ackRetry, a.EntryID)
		e.mu.Unlock()
		switch {
		case err != nil && a.Direction == store.ToDiscord:
			e.log.Warn("bridge: could not bring a placeholder up to date; giving up on it", "session", a.SessionID, "entry", a.EntryID, "placeholder", a.Placeholder, "err", err)
		case err != nil:
			e.log.Warn("bridge: could not mark a member's message; giving up on the mark", "channel", a.ChannelID, "message", a.DiscordMsgID, "err", err)
		default:
			e.recovered("discord mark")
		}
		if err == nil && a.Direction == store.ToDiscord {
			continue
		}
		if err := e.st.AckDone(ctx, a.EntryID); err != nil {
			e.fault("store", err)
		}
	}
}
