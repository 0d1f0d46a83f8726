package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
)

// EngineConfig tunes the engine. Zero values take the defaults noted.
type EngineConfig struct {
	// PollInterval is the time between session-list polls while active
	// (default 2s); IdlePollInterval once nothing happened for IdleAfter
	// (defaults 10s and 5m).
	PollInterval     time.Duration
	IdlePollInterval time.Duration
	IdleAfter        time.Duration
	// Backfill is how many past messages a new session's channel gets;
	// 0 means none (cmd/bridge passes bridge.backfill, DefaultBackfill by
	// default). Messages written after the engine started are relayed
	// whatever it is: they are live, not history.
	Backfill int
	// CatchUpMax bounds the messages read for a known session after a
	// downtime (default 1000); ResyncMax those re-read by Resync (default 500).
	CatchUpMax int
	ResyncMax  int
	// MaxAttempts is how many times a delivery that keeps failing
	// transiently is tried before the engine parks it (default 50; with
	// MaxBackoff that is hours). A refusal for good parks it at once.
	MaxAttempts int
	// SendSettle is how long after a QQ send that may have happened the
	// engine keeps looking for it before concluding it did not happen and
	// sending again (default 10s): QQ applies sends asynchronously.
	SendSettle time.Duration
	// RetryBase and MaxBackoff bound the exponential back-off, with
	// jitter, of failed polls and deliveries (defaults 1s and 5m).
	RetryBase  time.Duration
	MaxBackoff time.Duration
	// Workers is how many sessions deliver at once (default 8): each
	// session delivers in order through its own queue, so a slow or failing
	// session holds one worker and delays no other.
	Workers int
	// ShutdownGrace bounds how long in-flight deliveries may take once
	// Run's context is cancelled (default 10s).
	ShutdownGrace time.Duration
	// RequestTimeout bounds every call to QQ or Discord (default 60s; a
	// catch-up or a long backfill reads several pages in one call).
	RequestTimeout time.Duration
	// Retention is how long settled deliveries stay in the outbox for
	// inspection (default 30 days). The map of relayed message ids, which
	// prevents duplicates, is kept regardless.
	Retention time.Duration
	// RefuseLongReplies refuses a reply longer than QQ takes instead of
	// splitting it; MaxReplyParts bounds the split (default 10 parts).
	RefuseLongReplies bool
	MaxReplyParts     int
	// FirstStartHorizon: at the first start (nothing polled yet), only
	// sessions active within it get a channel; older ones are recorded and
	// get theirs when they next change (0: every session).
	FirstStartHorizon time.Duration
	// SweepInterval and SweepSessions: the safety sweep re-reads that many
	// most recently active sessions that often (defaults 5m and 5: 60
	// requests an hour when nothing is new; see sweepIfDue).
	SweepInterval time.Duration
	SweepSessions int
	// EditWindow is how long after writing a member's edit is sent to QQ
	// as one correction; 0 sends none (see HandleEdit).
	EditWindow time.Duration
	// Clock is the time source (default the system clock).
	Clock Clock
	// Observer receives metrics (default NopObserver).
	Observer Observer
	// OnEvent, when set, is called for each Event. It must not block.
	OnEvent func(Event)
	// ArchivePlace takes the transcripts of archived session channels
	// (archive.go); nil: sessions are not archived.
	ArchivePlace ArchivePlace
	// ArchiveAfter archives a session idle that long (0: never).
	ArchiveAfter time.Duration
}

func (c *EngineConfig) defaults() {
	setD := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	setI := func(i *int, v int) {
		if *i <= 0 {
			*i = v
		}
	}
	setD(&c.PollInterval, 2*time.Second)
	setD(&c.IdlePollInterval, 10*time.Second)
	setD(&c.IdleAfter, 5*time.Minute)
	setD(&c.SendSettle, 10*time.Second)
	setD(&c.RetryBase, time.Second)
	setD(&c.MaxBackoff, 5*time.Minute)
	setD(&c.ShutdownGrace, 10*time.Second)
	setD(&c.RequestTimeout, 60*time.Second)
	setD(&c.Retention, 30*24*time.Hour)
	if c.Backfill < 0 {
		c.Backfill = 0
	}
	setI(&c.CatchUpMax, 1000)
	setI(&c.ResyncMax, 500)
	setI(&c.MaxAttempts, 50)
	setI(&c.Workers, 8)
	setI(&c.MaxReplyParts, 10)
	setD(&c.SweepInterval, 5*time.Minute)
	setI(&c.SweepSessions, 5)
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	if c.Observer == nil {
		c.Observer = NopObserver{}
	}
}

// DefaultBackfill is the usual EngineConfig.Backfill.
const DefaultBackfill = 20

// liveFetch is how many messages a new session's first read takes at
// least, so that live messages beyond a small backfill are not missed.
const liveFetch = 50

// liveMargin is how long before the engine's start a message still counts
// as live (clock skew between QQ and this host).
const liveMargin = time.Minute

// ErrUnknownSession means no session with that id is known to the bridge.
var ErrUnknownSession = errors.New("unknown session")

// Engine relays messages between QQ Music and Discord, exactly once in
// each direction, surviving restarts through its store. It implements
// DiscordHandler.
type Engine struct {
	cfg EngineConfig
	st  Store
	qq  QQ
	dc  Discord
	log *slog.Logger
	obs Observer

	// sessMu serialises, per session, the reading of its messages and the
	// sending of its replies (see sessionLock).
	locksMu sync.Mutex
	sessMu  map[string]*sync.Mutex
	// deliverMu serialises delivery passes; portals deliver.
	deliverMu sync.Mutex
	portals   *portals
	// arch holds deliveries of a session being archived (archive.go).
	arch archiveGate

	kickPoll, kickDeliver chan struct{}

	// liveSince: messages written after it are live, never skipped as
	// history.
	liveSince time.Time

	mu           sync.Mutex
	paused       bool
	loginNeeded  bool
	lastPoll     time.Time
	lastActivity time.Time
	lastErr      string
	lastErrAt    time.Time
	errCount     int64
	streaks      map[string]int
	pollFails    int
	sessRetry    map[string]retryState
	// unreadSeen is the new_msg_cnt the list last showed, per session.
	unreadSeen map[string]int
	// lastSweep is when the safety sweep last ran (see sweepIfDue).
	lastSweep time.Time
	// ackRetry: when a failed mark may be tried again, by entry id.
	ackRetry    map[int64]time.Time
	qqSendUntil time.Time
	// qqLimitStreak counts QQ's rate-limit refusals of sends since the
	// last send it accepted: the pause after one grows with the streak,
	// not with how often the reply failed for other reasons.
	qqLimitStreak int
	catchUpFails  int
	// catchUpPending: a catch-up of the replies is due at catchUpAt.
	catchUpPending bool
	// catchUpSince is when the oldest unfinished catch-up was asked for.
	catchUpSince time.Time
	catchUpAt    time.Time
	// listing: a catch-up is finding the channels it reads (those that
	// may have missed something): every channel's replies wait meanwhile;
	// catchingUp are those it is reading.
	listing    bool
	catchingUp map[string]bool
	// chanRetryAt is when catchUpChans fall due (zero: now).
	chanRetryAt time.Time
	// catchUpRunning: a catch-up runs in the background.
	catchUpRunning atomic.Bool
	// bg counts the background catch-ups (Run waits for them).
	bg sync.WaitGroup
	// catchUpChans are channels due for a catch-up of their own now: a
	// session just got them (see requestChannelCatchUp).
	catchUpChans map[string]bool
	// stopRun ends Run with a cause (set while Run runs).
	stopRun context.CancelCauseFunc
	// risk is the current streak of QQ risk-control refusals (risk.go).
	risk riskStreak
}

type retryState struct {
	fails int
	until time.Time
}

var _ DiscordHandler = (*Engine)(nil)

// NewEngine returns an engine relaying between qq and dc, remembering in st.
// logger may be nil.
func NewEngine(cfg EngineConfig, st Store, qq QQ, dc Discord, logger *slog.Logger) *Engine {
	cfg.defaults()
	// The store's time stamps (next attempts, creation times) must be on
	// the engine's clock, or back-offs compare times of two clocks.
	st.SetClock(cfg.Clock.Now)
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{
		cfg:          cfg,
		st:           st,
		qq:           timeoutQQ{QQ: qq, d: cfg.RequestTimeout},
		dc:           timeoutDiscord{Discord: dc, d: cfg.RequestTimeout},
		log:          logger,
		obs:          cfg.Observer,
		kickPoll:     make(chan struct{}, 1),
		kickDeliver:  make(chan struct{}, 1),
		streaks:      map[string]int{},
		sessRetry:    map[string]retryState{},
		unreadSeen:   map[string]int{},
		lastSweep:    cfg.Clock.Now(),
		ackRetry:     map[int64]time.Time{},
		catchUpChans: map[string]bool{},
		catchingUp:   map[string]bool{},
		sessMu:       map[string]*sync.Mutex{},
		portals:      newPortals(cfg.Workers),
		lastActivity: cfg.Clock.Now(),
		liveSince:    cfg.Clock.Now().Add(-liveMargin),
	}
}

func (e *Engine) now() time.Time { return e.cfg.Clock.Now() }

func kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Run relays until ctx is cancelled: it catches up replies written while
// the bridge was away, polls QQ, and delivers the outbox. On cancel it
// stops polling, lets in-flight deliveries finish (at most ShutdownGrace)
// and returns nil. Remote failures never end it; a database found corrupt
// does (the error wraps store.ErrCorrupt).
func (e *Engine) Run(ctx context.Context) error {
	// A corrupt database is the one thing that stops the engine: going on
	// would lose or duplicate messages.
	ctx, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	e.mu.Lock()
	e.stopRun = stopRun
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.stopRun = nil
		e.mu.Unlock()
	}()
	// Deliveries get their own context so that a cancel does not cut a
	// request in half; it ends ShutdownGrace after ctx.
	dctx, dcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer dcancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(e.cfg.ShutdownGrace, dcancel) })
	defer stop()

	e.resumeArchivesAtStart(ctx)
	e.requestCatchUp()
	kick(e.kickPoll)
	kick(e.kickDeliver)

	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); e.archiveLoop(ctx) }()
	go func() { defer wg.Done(); e.pollLoop(ctx) }()
	go func() { defer wg.Done(); e.deliverLoop(ctx, dctx) }()
	wg.Wait()
	// Portals still delivering, and a catch-up, finish within
	// ShutdownGrace (dctx).
	e.portals.wg.Wait()
	e.bg.Wait()
	if err := context.Cause(ctx); errors.Is(err, store.ErrCorrupt) {
		return fmt.Errorf("bridge stopped: %w", err)
	}
	return nil
}

func (e *Engine) pollLoop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.kickPoll:
		case <-timer.C:
		}
		err := e.pollOnce(ctx)
		wait := e.interval()
		if err != nil && ctx.Err() == nil {
			wait = e.pollBackoff(err)
		}
		kick(e.kickDeliver)
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// deliverLoop runs catch-ups and delivery passes. ctx says when to stop
// starting work; dctx bounds the work in flight.
func (e *Engine) deliverLoop(ctx, dctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var lastPrune time.Time
	for {
		if now := e.now(); now.Sub(lastPrune) >= 24*time.Hour {
			lastPrune = now
			if n, err := e.st.Prune(ctx, now.Add(-e.cfg.Retention)); err != nil {
				e.fault("store", err)
			} else if n > 0 {
				e.log.Debug("bridge: pruned settled deliveries", "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-e.kickDeliver:
		case <-timer.C:
		}
		e.startCatchUp(ctx, dctx)
		next := e.deliverPass(ctx, dctx)
		wait := e.cfg.PollInterval
		for _, t := range []time.Time{next, e.nextCatchUp()} {
			if !t.IsZero() {
				if d := t.Sub(e.now()); d < wait {
					wait = max(d, time.Millisecond)
				}
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// interval is the current poll interval: fast while active, slow after
// IdleAfter without activity.
func (e *Engine) interval() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.now().Sub(e.lastActivity) >= e.cfg.IdleAfter {
		return e.cfg.IdlePollInterval
	}
	return e.cfg.PollInterval
}

func (e *Engine) activity() {
	e.mu.Lock()
	e.lastActivity = e.now()
	e.mu.Unlock()
}

// backoff is the jittered exponential delay after fails failures.
func (e *Engine) backoff(fails int) time.Duration {
	d := e.cfg.RetryBase
	for i := 1; i < fails && d < e.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, e.cfg.MaxBackoff)
	// Full jitter on the upper half: spread retries, never retry at once.
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func (e *Engine) pollBackoff(err error) time.Duration {
	e.mu.Lock()
	e.pollFails++
	n := e.pollFails
	e.mu.Unlock()
	if errors.Is(err, ErrRateLimited) {
		n += 3
	}
	if errors.Is(err, ErrLoginRequired) {
		return e.cfg.IdlePollInterval
	}
	return max(e.backoff(n), e.cfg.PollInterval)
}

// fault counts an error and logs it once per streak of the same source.
func (e *Engine) fault(source string, err error) {
	e.mu.Lock()
	e.errCount++
	e.lastErr = fmt.Sprintf("%s: %v", source, err)
	e.lastErrAt = e.now()
	e.streaks[source]++
	n := e.streaks[source]
	e.mu.Unlock()
	if errors.Is(err, store.ErrCorrupt) {
		e.log.Error("bridge: the database is corrupt; stopping", "err", err)
		e.mu.Lock()
		if e.stopRun != nil {
			e.stopRun(err)
		}
		e.mu.Unlock()
		return
	}
	if n == 1 {
		e.log.Warn("bridge: failure; retrying with back-off (further failures of the same kind are logged at debug level)", "source", source, "err", err)
	} else {
		e.log.Debug("bridge: failure again", "source", source, "streak", n, "err", err)
	}
}

// recovered ends a failure streak.
func (e *Engine) recovered(source string) {
	e.mu.Lock()
	n := e.streaks[source]
	delete(e.streaks, source)
	e.mu.Unlock()
	if n > 0 {
		e.log.Info("bridge: recovered", "source", source, "after_failures", n)
	}
}

func (e *Engine) emit(ev Event) {
	ev.Time = e.now()
	if e.cfg.OnEvent != nil {
		e.cfg.OnEvent(ev)
	}
}

// loginRequired pauses QQ traffic until CredentialRenewed.
func (e *Engine) loginRequired(err error) {
	e.mu.Lock()
	was := e.loginNeeded
	e.loginNeeded = true
	e.mu.Unlock()
	if !was {
		e.log.Error("bridge: QQ Music needs a new login; polling and sending are paused, replies stay queued", "err", err)
		e.emit(Event{Kind: EventLoginNeeded, Detail: err.Error()})
	}
}

// CredentialRenewed tells the engine a new QQ credential is in place:
// polling and sending resume, and everything queued is delivered.
func (e *Engine) CredentialRenewed() {
	e.mu.Lock()
	was := e.loginNeeded
	e.loginNeeded = false
	e.pollFails = 0
	e.qqSendUntil = time.Time{}
	e.qqLimitStreak = 0
	e.mu.Unlock()
	if was {
		e.log.Info("bridge: QQ Music credential renewed; relaying resumes")
		e.emit(Event{Kind: EventLoginRestored})
	}
	kick(e.kickPoll)
	kick(e.kickDeliver)
}

// Pause stops polling and delivering (replies are still queued).
func (e *Engine) Pause() {
	e.mu.Lock()
	e.paused = true
	e.mu.Unlock()
}

// Resume undoes Pause.
func (e *Engine) Resume() {
	e.mu.Lock()
	e.paused = false
	e.mu.Unlock()
	kick(e.kickPoll)
	kick(e.kickDeliver)
}

func (e *Engine) state() (paused, loginNeeded bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.paused, e.loginNeeded
}
