package bridge

import (
	"context"
	"sync"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
)

// A catch-up reads, after a gateway (re)connection, the replies members
// wrote while the bridge could not see them. It runs in the background:
// deliveries go on meanwhile, and only the replies of a channel being
// caught up wait for it (a reply found late may be older than one queued
// live, and replies reach QQ in the order members wrote them). After a
// reconnection only the channels with a message newer than their catch-up
// watermark are read, a few at a time.

// catchUpWorkers bounds the channels a catch-up reads at once.
const catchUpWorkers = 4

// catchUpHold is how long replies wait for an unfinished catch-up of their
// channel before they are sent anyway (Discord may stay unreachable for
// long).
const catchUpHold = 2 * time.Minute

// startCatchUp starts the due catch-up in the background, unless one runs.
func (e *Engine) startCatchUp(ctx, dctx context.Context) {
	if !e.catchUpDue() || !e.catchUpRunning.CompareAndSwap(false, true) {
		return
	}
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		e.catchUpIfDue(ctx, dctx)
		e.catchUpRunning.Store(false)
		kick(e.kickDeliver)
	}()
}

// nextCatchUp is when the pending catch-up is due (zero if none).
func (e *Engine) nextCatchUp() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	var at time.Time
	if len(e.catchUpChans) > 0 {
		at = e.chanRetryAt
		if at.IsZero() {
			at = e.now()
		}
	}
	if e.catchUpPending && (at.IsZero() || e.catchUpAt.Before(at)) {
		at = e.catchUpAt
	}
	return at
}

// catchUpDue reports whether a catch-up (of every channel, or of single
// channels) is pending and due now.
func (e *Engine) catchUpDue() bool {
	at := e.nextCatchUp()
	return !at.IsZero() && !e.now().Before(at)
}

// catchUpIfDue runs the pending catch-up when it is due, or else the
// pending catch-ups of single channels. Channels that could not be read
// are tried again with back-off; a catch-up that could not start at all
// is tried again as a whole.
func (e *Engine) catchUpIfDue(ctx, dctx context.Context) {
	e.mu.Lock()
	now := e.now()
	full := e.catchUpPending && !now.Before(e.catchUpAt)
	var only map[string]bool
	switch {
	case full:
		e.catchUpPending = false
		e.listing = true
		clear(e.catchUpChans) // covered by the catch-up of every channel
		e.chanRetryAt = time.Time{}
	case len(e.catchUpChans) > 0 && !now.Before(e.chanRetryAt):
		only, e.catchUpChans = e.catchUpChans, map[string]bool{}
		e.chanRetryAt = time.Time{}
		// Until catchUp marks the channels it reads, every channel waits
		// (one read of the store): the channels taken off catchUpChans
		// must not be released before they are read.
		e.listing = true
	}
	e.mu.Unlock()
	if !full && only == nil {
		return
	}
	failed, ok := e.catchUp(ctx, dctx, only)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.listing = false
	switch {
	case !ok:
		e.catchUpFails++
		at := e.now().Add(e.backoff(e.catchUpFails))
		if full {
			if !e.catchUpPending || at.Before(e.catchUpAt) {
				e.catchUpAt = at
			}
			e.catchUpPending = true
		} else {
			for ch := range only {
				e.catchUpChans[ch] = true
			}
			e.chanRetryAt = at
		}
	case len(failed) > 0:
		e.catchUpFails++
		for ch := range failed {
			e.catchUpChans[ch] = true
		}
		e.chanRetryAt = e.now().Add(e.backoff(e.catchUpFails))
	default:
		e.catchUpFails = 0
	}
	if !e.catchUpPending && len(e.catchUpChans) == 0 && len(e.catchingUp) == 0 {
		e.catchUpSince = time.Time{}
	}
}

// catchUp queues the replies written in the session channels that may
// have missed some (or, when only is set, in those channels) since their
// catch-up watermark, reading a few channels at a time. It returns the
// channels it could not read; ok is false when it could not start.
func (e *Engine) catchUp(ctx, dctx context.Context, only map[string]bool) (failed map[string]bool, ok bool) {
	sessions, err := e.st.BridgedSessions(ctx)
	if err != nil {
		e.fault("store", err)
		return nil, false
	}
	var last map[string]string
	if only == nil {
		// One or two requests tell which channels got messages: the others
		// missed nothing. Without them, every channel is read.
		if last, err = e.dc.LastMessageIDs(dctx); err != nil {
			e.fault("discord catch-up", err)
			last = nil
		}
	}
	var todo []store.Session
	for _, s := range sessions {
		ch := s.Channel.ChannelID
		if only != nil && !only[ch] {
			continue
		}
		if id, known := last[ch]; known && !store.SnowflakeAfter(id, s.CaughtUpDiscordID) {
			continue // nothing written since it was last caught up
		}
		todo = append(todo, s)
	}
	e.mu.Lock()
	for _, s := range todo {
		e.catchingUp[s.Channel.ChannelID] = true
	}
	e.listing = false
	e.mu.Unlock()
	start := e.now()
	e.log.Debug("bridge: catch-up of replies started", "channels", len(todo), "bridged", len(sessions), "every_channel", only == nil)

	failed = map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, catchUpWorkers)
	for _, s := range todo {
		if ctx.Err() != nil {
			mu.Lock()
			failed[s.Channel.ChannelID] = true
			mu.Unlock()
			e.doneCatchingUp(s.Channel.ChannelID)
			continue
		}
		slots <- struct{}{}
		wg.Add(1)
		go func(s store.Session) {
			defer func() { <-slots; wg.Done() }()
			if !e.catchUpChannel(ctx, dctx, s) {
				mu.Lock()
				failed[s.Channel.ChannelID] = true
				mu.Unlock()
			}
			e.doneCatchingUp(s.Channel.ChannelID)
		}(s)
	}
	wg.Wait()
	e.log.Debug("bridge: catch-up of replies done", "channels", len(todo), "failed", len(failed), "took", e.now().Sub(start))
	if len(failed) == 0 {
		e.recovered("discord catch-up")
	}
	return failed, true
}

// doneCatchingUp releases the replies of a channel that was read (or
// whose read failed: they then wait for the retry, at most catchUpHold).
func (e *Engine) doneCatchingUp(ch string) {
	e.mu.Lock()
	delete(e.catchingUp, ch)
	e.mu.Unlock()
	kick(e.kickDeliver)
}

// catchUpChannel queues the replies of one session channel written since
// its watermark, and moves the watermark. It reports whether it could.
func (e *Engine) catchUpChannel(ctx, dctx context.Context, s store.Session) bool {
	// Read from the catch-up watermark, not from the last seen reply: live
	// replies handled since an outage may lie beyond a gap. Everything that
	// existed before the read is covered by it.
	covered := s.CaughtUpDiscordID
	for _, id := range []string{s.LastSeenDiscordID, s.LastPostedDiscordID} {
		if store.SnowflakeAfter(id, covered) {
			covered = id
		}
	}
	replies, err := e.dc.RepliesAfter(dctx, s.Channel.ChannelID, s.CaughtUpDiscordID)
	if err != nil {
		e.fault("discord catch-up", err)
		return false
	}
	for _, r := range replies {
		if r.ChannelID == "" {
			r.ChannelID = s.Channel.ChannelID
		}
		if err := e.HandleReply(dctx, r); err != nil {
			e.fault("discord catch-up", err)
			return false
		}
		if store.SnowflakeAfter(r.MessageID, covered) {
			covered = r.MessageID
		}
	}
	if err := e.st.AdvanceCaughtUp(dctx, s.Channel.ChannelID, covered); err != nil {
		e.fault("store", err)
		return false
	}
	return true
}

// holdReplies reports whether replies written in a channel should wait
// for a catch-up: one is asked for that may read the channel (a catch-up
// that has not listed the channels it reads yet) or is reading it.
func (e *Engine) holdReplies(channelID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.catchUpSince.IsZero() || e.now().Sub(e.catchUpSince) >= catchUpHold {
		return false
	}
	return e.catchUpPending || e.listing || e.catchUpChans[channelID] || e.catchingUp[channelID]
}
