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

// deliverPass delivers every due head of the outbox, session by session in
// order, until nothing more is due, making the pending marks after each
// round. It returns when the next entry falls due (zero if none is
// waiting), or at once when a catch-up fell due meanwhile. ctx says when
// to stop starting deliveries; dctx bounds those in flight.
func (e *Engine) deliverPass(ctx, dctx context.Context) time.Time {
	e.deliverMu.Lock()
	defer e.deliverMu.Unlock()
	if paused, _ := e.state(); paused {
		return time.Time{}
	}
	var next time.Time
	for ctx.Err() == nil {
		heads, err := e.st.Heads(dctx)
		if err != nil {
			e.fault("store", err)
			return e.now().Add(e.backoff(1))
		}
		next = time.Time{}
		progress := false
		for _, h := range heads {
			if ctx.Err() != nil {
				return next
			}
			if due := e.dueAt(h); e.now().Before(due) {
				if next.IsZero() || due.Before(next) {
					next = due
				}
				continue
			}
			if h.Direction == store.ToQQ {
				if _, login := e.state(); login || e.holdReplies() {
					continue
				}
			}
			err := e.deliver(dctx, h)
			if errors.Is(err, errCrash) {
				return time.Time{}
			}
			if err == nil {
				progress = true
			}
		}
		if !progress {
			break
		}
		// Under a steady stream the outbox may never run dry: the marks of
		// what was delivered, and a catch-up that fell due (replies to QQ
		// wait for it), must not wait until it does.
		if ctx.Err() == nil {
			e.acks(dctx)
		}
		if e.catchUpDue() {
			return e.now()
		}
	}
	if ctx.Err() == nil {
		e.acks(dctx)
	}
	return next
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
	return e.giveUp(ctx, h, dirOf(h.Direction), fmt.Sprintf("unknown direction %q", h.Direction))
}

// dirOf maps a store direction to the engine's.
func dirOf(d store.Direction) Direction {
	if d == store.ToQQ {
		return ToQQ
	}
	return ToDiscord
}

func (e *Engine) deliverToDiscord(ctx context.Context, h store.Entry) error {
	var m Message
	if err := json.Unmarshal(h.Payload, &m); err != nil {
		return e.giveUp(ctx, h, ToDiscord, "stored message cannot be decoded: "+err.Error())
	}
	s, ok, err := e.st.Session(ctx, h.SessionID)
	if err != nil {
		e.fault("store", err)
		return err
	}
	if !ok {
		return e.giveUp(ctx, h, ToDiscord, "session no longer known")
	}
	ref := fromStoreChannel(s.Channel)
	if ref.ChannelID == "" {
		if ref, err = e.ensureChannel(ctx, s, true); err != nil {
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
			return e.giveUp(ctx, h, ToDiscord, "the message cannot be shown in Discord: "+err.Error())
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
	if err := e.at("before-attempt"); err != nil {
		return err
	}
	if err := e.st.MarkAttemptSent(ctx, h.ID, sent); err != nil {
		e.fault("store", err)
		return err
	}
	if err := e.at("before-delivery"); err != nil {
		return err
	}
	ids, err := e.dc.Post(ctx, ref, sent)
	if err := e.at("after-delivery"); err != nil {
		return err
	}
	if err != nil {
		return e.retryDiscord(ctx, h, s, err)
	}
	if err := e.st.RecordDelivered(ctx, h.ID, ids); err != nil {
		e.fault("store", err)
		return err
	}
	e.recovered(source)
	e.log.Debug("bridge: relayed to Discord", "session", h.SessionID, "qq_msg", h.Key, "channel", ref.ChannelID, "discord_msgs", ids)
	e.obs.Relayed(ToDiscord, OutcomeDelivered)
	e.obs.RelayLatency(ToDiscord, e.latency(m.Time, h.CreatedAt))
	return nil
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
		return e.giveUp(ctx, h, ToQQ, "stored reply cannot be decoded: "+err.Error())
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
		return e.giveUp(ctx, h, ToQQ, "the QQ user of this session is not known (no uin)")
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
	}
	if err := e.at("before-attempt"); err != nil {
		return err
	}
	if err := e.st.MarkAttempt(ctx, h.ID); err != nil {
		e.fault("store", err)
		return err
	}
	if err := e.at("before-delivery"); err != nil {
		return err
	}
	// No session read runs between the send and its record: the message
	// id is known before its echo can be read, even if QQ were to echo it
	// without the client_key.
	e.syncMu.Lock()
	id, err := e.qq.SendText(ctx, OutgoingText{SessionID: h.SessionID, PeerUIN: p.PeerUIN, Text: p.Text, ClientKey: h.ClientKey})
	if err := e.at("after-delivery"); err != nil {
		e.syncMu.Unlock()
		return err
	}
	if err != nil {
		e.syncMu.Unlock()
		return e.retryQQ(ctx, h, err)
	}
	err = e.st.RecordDelivered(ctx, h.ID, nonEmpty(id))
	e.syncMu.Unlock()
	if err != nil {
		e.fault("store", err)
		return err
	}
	e.recovered(source)
	e.mu.Lock()
	e.qqLimitStreak = 0
	e.mu.Unlock()
	e.log.Debug("bridge: relayed to QQ", "session", h.SessionID, "discord_msg", h.DiscordMsgID, "part", h.Part, "qq_msg", id)
	e.obs.Relayed(ToQQ, OutcomeDelivered)
	e.obs.RelayLatency(ToQQ, e.latency(p.Time, h.CreatedAt))
	return nil
}

func (e *Engine) retryQQ(ctx context.Context, h store.Entry, err error) error {
	switch {
	case errors.Is(err, ErrLoginRequired):
		// Not the entry's fault: it waits, untouched, for the new login.
		e.loginRequired(err)
		return err
	case errors.Is(err, ErrRateLimited):
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

// retry schedules the next attempt of an entry with back-off, or gives up
// after MaxAttempts.
func (e *Engine) retry(ctx context.Context, h store.Entry, dir Direction, cause error) error {
	source := "discord post " + h.SessionID
	if dir == ToQQ {
		source = "qq send " + h.SessionID
	}
	if ctx.Err() != nil {
		return cause
	}
	e.fault(source, cause)
	if h.Attempts+1 >= e.cfg.MaxAttempts {
		if err := e.giveUp(ctx, h, dir, fmt.Sprintf("gave up after %d attempts: %v", h.Attempts+1, cause)); err != nil {
			return err
		}
		return cause
	}
	if err := e.st.RecordRetry(ctx, h.ID, e.now().Add(e.backoff(h.Attempts+1)), cause.Error()); err != nil {
		e.fault("store", err)
	}
	e.obs.Relayed(dir, OutcomeRetry)
	return cause
}

// giveUp settles an entry as failed. It returns nil: the entry is settled
// and the session's next entry may go.
func (e *Engine) giveUp(ctx context.Context, h store.Entry, dir Direction, why string) error {
	if err := e.st.RecordFailed(ctx, h.ID, why); err != nil {
		e.fault("store", err)
		return err
	}
	e.log.Error("bridge: delivery given up", "direction", dir, "session", h.SessionID, "key", h.Key, "reason", why)
	e.obs.Relayed(dir, OutcomeFailed)
	e.emit(Event{Kind: EventDeliveryFailed, SessionID: h.SessionID, Detail: why})
	return nil
}

// acks marks members' messages delivered or failed in Discord.
func (e *Engine) acks(ctx context.Context) {
	acks, err := e.st.PendingAcks(ctx)
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
		if a.Delivered {
			err = e.dc.MarkDelivered(ctx, a.ChannelID, a.DiscordMsgID)
		} else {
			err = e.dc.MarkFailed(ctx, a.ChannelID, a.DiscordMsgID, a.Reason)
		}
		if err != nil && a.Attempts+1 < maxAckAttempts {
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
		if err != nil {
			e.log.Warn("bridge: could not mark a member's message; giving up on the mark", "channel", a.ChannelID, "message", a.DiscordMsgID, "err", err)
		} else {
			e.recovered("discord mark")
		}
		if err := e.st.AckDone(ctx, a.EntryID); err != nil {
			e.fault("store", err)
		}
	}
}
