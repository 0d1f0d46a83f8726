package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
)

// harness runs an engine against the fakes, step by step, and can "kill"
// it and start a fresh one on the same database file.
type harness struct {
	t      *testing.T
	ctx    context.Context
	path   string
	st     *store.Store
	e      *Engine
	qq     *fakeQQ
	dc     *fakeDiscord
	clock  *fakeClock
	cfg    EngineConfig
	events *eventLog
	logs   *logCounter
	// fired is set when the armed crash happened; hook is the step hook
	// of the current engine (see crashAt).
	fired atomic.Bool
	hook  atomic.Pointer[func(string) error]
	obs   *countingObserver
}

// countingObserver counts what the engine reports for metrics.
type countingObserver struct {
	mu        sync.Mutex
	relayed   map[string]int
	polls     int
	pollErrs  int
	latencies map[Direction]int
}

func (o *countingObserver) Relayed(d Direction, out Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.relayed[string(d)+"/"+string(out)]++
}

func (o *countingObserver) PollDone(_ time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.polls++
	if err != nil {
		o.pollErrs++
	}
}

func (o *countingObserver) RelayLatency(d Direction, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.latencies[d]++
}

func (o *countingObserver) count(d Direction, out Outcome) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.relayed[string(d)+"/"+string(out)]
}

type eventLog struct {
	mu sync.Mutex
	ev []Event
}

func (l *eventLog) add(e Event) { l.mu.Lock(); l.ev = append(l.ev, e); l.mu.Unlock() }
func (l *eventLog) kinds() []EventKind {
	l.mu.Lock()
	defer l.mu.Unlock()
	var k []EventKind
	for _, e := range l.ev {
		k = append(k, e.Kind)
	}
	return k
}

func newHarness(t *testing.T, mod func(*EngineConfig)) *harness {
	t.Helper()
	h := &harness{
		t:      t,
		ctx:    context.Background(),
		path:   filepath.Join(t.TempDir(), "bridge.db"),
		qq:     newFakeQQ(),
		dc:     newFakeDiscord(),
		clock:  &fakeClock{t: time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)},
		events: &eventLog{},
		logs:   &logCounter{},
		obs:    &countingObserver{relayed: map[string]int{}, latencies: map[Direction]int{}},
	}
	h.cfg = EngineConfig{Clock: h.clock, OnEvent: h.events.add, Backfill: 20, Observer: h.obs}
	if mod != nil {
		mod(&h.cfg)
	}
	h.start()
	t.Cleanup(func() { h.st.Close() })
	return h
}

// start opens the store and a fresh engine, as a process start would.
func (h *harness) start() {
	h.t.Helper()
	st, err := store.Open(h.ctx, h.path)
	if err != nil {
		h.t.Fatalf("store.Open: %v", err)
	}
	h.st = st
	h.hook.Store(nil)
	wst, wqq, wdc := WithStepHook(st, h.qq, h.dc, func(point string) error {
		if f := h.hook.Load(); f != nil {
			return (*f)(point)
		}
		return nil
	})
	h.e = NewEngine(h.cfg, wst, wqq, wdc, slog.New(h.logs))
}

// crashAt arms the engine to die at a step boundary (once): from there on
// the process is dead, its database closed, so nothing more is written and
// every step boundary it reaches fails.
func (h *harness) crashAt(point string) {
	var mu sync.Mutex
	dead := false
	st := h.st
	f := func(p string) error {
		mu.Lock()
		defer mu.Unlock()
		if !dead && p == point {
			dead = true
			h.fired.Store(true)
			st.Close()
		}
		if dead {
			return ErrSimulatedCrash
		}
		return nil
	}
	h.hook.Store(&f)
}

// restart abandons the engine (whatever it was doing) and starts a new
// process on the same database.
func (h *harness) restart() {
	h.t.Helper()
	h.st.Close()
	h.start()
	h.e.requestCatchUp() // as Run does at start
}

// step is one poll and one round of delivery (see pass).
func (h *harness) step() error {
	err := h.e.pollOnce(h.ctx)
	h.e.catchUpIfDue(h.ctx, h.ctx)
	h.pass()
	return err
}

// pass is what deliverLoop does at one moment of the fake clock: delivery
// passes, each waiting for the portals it started, until one starts none.
func (h *harness) pass() {
	p := h.e.portals
	for range 100 {
		p.mu.Lock()
		before := p.tick
		p.mu.Unlock()
		h.e.deliverPass(h.ctx, h.ctx)
		p.wg.Wait()
		p.mu.Lock()
		started := p.tick != before
		p.mu.Unlock()
		if !started {
			return
		}
	}
	h.t.Fatal("delivery passes keep starting portals")
}

// settle steps, moving the clock past back-offs, until nothing is pending.
func (h *harness) settle() {
	h.t.Helper()
	for i := 0; i < 50; i++ {
		pollErr := h.step()
		td, tq, err := h.st.OutboxDepth(h.ctx)
		if err != nil {
			h.t.Fatal(err)
		}
		dirty, _ := h.st.DirtySessions(h.ctx)
		_, login := h.e.state()
		if pollErr == nil && !login && td == 0 && tq == 0 && len(dirty) == 0 && h.e.nextCatchUp().IsZero() {
			h.pass() // marks
			return
		}
		h.clock.Advance(10 * time.Minute)
	}
	h.t.Fatal("the engine did not settle")
}

func texts(ms []Message) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Text)
	}
	return strings.Join(s, ",")
}

func seqTexts(prefix string, from, to int) string {
	var s []string
	for i := from; i <= to; i++ {
		s = append(s, fmt.Sprintf("%s%d", prefix, i))
	}
	return strings.Join(s, ",")
}

// logCounter is a slog handler counting records by level.
type logCounter struct {
	mu    sync.Mutex
	warns int
	msgs  []string
}

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.Level >= slog.LevelWarn {
		l.warns++
	}
	l.msgs = append(l.msgs, r.Message)
	return nil
}
func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCounter) WithGroup(string) slog.Handler      { return l }
func (l *logCounter) warnCount() int                     { l.mu.Lock(); defer l.mu.Unlock(); return l.warns }
