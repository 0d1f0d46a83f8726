package bridge

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
)

// Every bridged session is a portal with its own ordered queue in each
// direction: a portal delivers its heads one after the other, and up to
// EngineConfig.Workers portals deliver at once, so a session that is slow
// or failing never delays another. Only one portal of a session runs at a
// time, which keeps each session's order both ways.

// portals tracks the portals that are delivering.
type portals struct {
	mu   sync.Mutex
	busy map[string]bool
	// served says when each session's portal last started (a counter):
	// the sessions served least recently go first.
	served map[string]uint64
	tick   uint64
	// slots bounds the portals delivering at once.
	slots chan struct{}
	// wg counts the portals delivering.
	wg sync.WaitGroup
}

func newPortals(workers int) *portals {
	return &portals{busy: map[string]bool{}, served: map[string]uint64{}, slots: make(chan struct{}, workers)}
}

// start claims a worker for session id; false when the session's portal is
// already delivering or every worker is busy.
func (p *portals) start(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.busy[id] {
		return false
	}
	select {
	case p.slots <- struct{}{}:
	default:
		return false
	}
	p.busy[id] = true
	p.tick++
	p.served[id] = p.tick
	p.wg.Add(1)
	return true
}

// fair orders sessions least recently served first (stable otherwise).
func (p *portals) fair(ids []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sort.SliceStable(ids, func(i, j int) bool { return p.served[ids[i]] < p.served[ids[j]] })
}

func (p *portals) done(id string) {
	p.mu.Lock()
	delete(p.busy, id)
	<-p.slots
	p.mu.Unlock()
	p.wg.Done()
}

// deliverPass starts the portal of every session with a due head or a
// due mark, as far as workers are free, and returns when the next head
// that is not due yet falls due (zero if none). It does not wait for the
// portals: each kicks the delivery loop when it is done. ctx says when to
// stop starting deliveries; dctx bounds those in flight.
func (e *Engine) deliverPass(ctx, dctx context.Context) time.Time {
	e.deliverMu.Lock()
	defer e.deliverMu.Unlock()
	if paused, _ := e.state(); paused {
		return time.Time{}
	}
	heads, err := e.st.Heads(dctx)
	if err != nil {
		e.fault("store", err)
		return e.now().Add(e.backoff(1))
	}
	var next time.Time
	var order []string
	due := map[string]bool{}
	for _, h := range heads {
		if ok, at := e.mayDeliver(h); ok {
			if !due[h.SessionID] {
				due[h.SessionID] = true
				order = append(order, h.SessionID)
			}
		} else if !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	acks, err := e.st.PendingAcks(dctx)
	if err != nil {
		e.fault("store", err)
	}
	for _, a := range acks {
		if !due[a.SessionID] && e.ackDue(a.EntryID) {
			due[a.SessionID] = true
			order = append(order, a.SessionID)
		}
	}
	e.portals.fair(order)
	for _, id := range order {
		if ctx.Err() != nil {
			break
		}
		if !e.portals.start(id) {
			continue // delivering already, or no worker free: it kicks when done
		}
		go e.runPortal(ctx, dctx, id)
	}
	return next
}

// mayDeliver reports whether a head may be tried now, or else when it
// falls due (zero when something other than time holds it: a login, a
// catch-up).
func (e *Engine) mayDeliver(h store.Entry) (bool, time.Time) {
	if at := e.dueAt(h); e.now().Before(at) {
		return false, at
	}
	if h.Direction == store.ToQQ {
		if _, login := e.state(); login || e.holdReplies(h.ChannelID) {
			return false, time.Time{}
		}
	}
	return true, time.Time{}
}

func (e *Engine) ackDue(entryID int64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return !e.now().Before(e.ackRetry[entryID])
}

// portalRounds bounds the rounds a portal delivers before it gives its
// worker back: a session with a steady stream then waits its turn behind
// sessions with older heads instead of keeping the worker.
const portalRounds = 16

// runPortal delivers the due heads of one session, in order, until none is
// due (or for portalRounds rounds), making the session's marks and
// placeholders as it goes.
func (e *Engine) runPortal(ctx, dctx context.Context, sessionID string) {
	defer func() {
		e.portals.done(sessionID)
		kick(e.kickDeliver)
	}()
	for round := 0; round < portalRounds && ctx.Err() == nil; round++ {
		if paused, _ := e.state(); paused {
			return
		}
		heads, err := e.st.HeadsOf(dctx, sessionID)
		if err != nil {
			e.fault("store", err)
			return
		}
		progress := false
		for _, h := range heads {
			if ok, _ := e.mayDeliver(h); !ok || ctx.Err() != nil {
				continue
			}
			if h.Direction == store.ToQQ {
				cur, first, err := e.stillFirst(dctx, h)
				if err != nil {
					e.fault("store", err)
					return
				}
				if !first {
					progress = true // an older reply is first now: look again
					continue
				}
				h = cur
			}
			if err := e.deliver(dctx, h); err == nil {
				progress = true
			}
		}
		// Marks of what was delivered do not wait until the queue runs dry.
		if ctx.Err() == nil {
			e.acks(dctx, sessionID)
		}
		if !progress {
			return
		}
	}
}

// stillFirst reads the session's first reply again, now that its channel
// is known not to be held by a catch-up, and reports whether h is still
// first (and its current state). The heads were read before that check,
// and before the other direction's head was delivered: a catch-up may have
// queued an older reply meanwhile and released the channel; that reply
// goes first, as members wrote it first.
func (e *Engine) stillFirst(ctx context.Context, h store.Entry) (store.Entry, bool, error) {
	heads, err := e.st.HeadsOf(ctx, h.SessionID)
	if err != nil {
		return h, false, err
	}
	for _, cur := range heads {
		if cur.Direction == store.ToQQ && cur.ID == h.ID {
			return cur, true, nil
		}
	}
	return h, false, nil
}

// sessionLock is the lock of one session: no read of its messages runs
// between the sending of a reply and its record, so the reply's id is
// known before its echo can be read. Other sessions are not held up.
func (e *Engine) sessionLock(id string) *sync.Mutex {
	e.locksMu.Lock()
	defer e.locksMu.Unlock()
	mu := e.sessMu[id]
	if mu == nil {
		mu = &sync.Mutex{}
		e.sessMu[id] = mu
	}
	return mu
}
