package loadtest

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/qmdbridge/qqmusic-discord-bridge/discord"
)

var (
	loadFlag = flag.Bool("load", false, "run the full load figures of docs/BENCHMARKS.md (about ten minutes)")
	loadOut  = flag.String("load.out", "", "with -load, also write the figures' table to this file")
)

// plan is the size of every scenario.
type plan struct {
	// QQ requests per idle cycle, at each number of sessions (channels
	// mode up to 100, forum mode above: a guild holds 500 channels).
	idleSizes       []int
	idleInterval    time.Duration
	idleCycles      int
	naiveIdleCycles int

	// QQ to Discord latency: messages arriving at random (latRate per
	// second, for latDur) across latSessions sessions, at each interval.
	latSessions  int
	latIntervals []time.Duration
	latRate      float64
	latDur       time.Duration
	// The naive poller's runs (its latencies are tens of times longer,
	// and need fewer samples).
	naiveDur   time.Duration
	naiveDrain time.Duration

	// Discord to QQ latency: replies written at random, the engine
	// polling QQ every replyInterval.
	replyRate     float64
	replyDur      time.Duration
	replyInterval time.Duration

	// Under QQ's risk control (10 requests/s, burst 50).
	budgetSessions int
	budgetInterval time.Duration
	budgetRate     float64
	budgetDur      time.Duration

	// Into Discord under its 50 requests/s global limit.
	tputSessions, tputMessages int
	tputInterval               time.Duration

	// One session of slowSessions whose Discord takes slowDelay per
	// post, with a backlog of slowMsgs messages, while the others get
	// messages at random (slowRate per second, for slowDur).
	slowSessions, slowMsgs  int
	slowDelay, slowInterval time.Duration
	slowRate                float64
	slowDur                 time.Duration

	// A gateway reconnect with rcChannels bridged channels (forum posts)
	// under Discord's global limit: QQ messages at random (rcRate per
	// second for rcDur), the drop after rcWarm; members reply in the
	// last rcQuiet channels (rcReplyRate per second) and, while the
	// gateway is down, in rcMissed others.
	rcChannels, rcQuiet, rcMissed int
	rcInterval, rcWarm, rcDur     time.Duration
	rcRate, rcReplyRate           float64

	// The real binary on the largest idle world, with binPerSession more
	// relayed messages per session in its database.
	binary        bool
	binPerSession int
	binIdle       time.Duration
}

var full = plan{
	idleSizes: []int{10, 100, 1000}, idleInterval: 200 * time.Millisecond, idleCycles: 25, naiveIdleCycles: 3,
	latSessions: 100, latIntervals: []time.Duration{time.Second, 2 * time.Second}, latRate: 5, latDur: 40 * time.Second,
	naiveDur: 20 * time.Second, naiveDrain: 30 * time.Second,
	replyRate: 3, replyDur: 40 * time.Second, replyInterval: time.Second,
	budgetSessions: 100, budgetInterval: time.Second, budgetRate: 5, budgetDur: 30 * time.Second,
	tputSessions: 20, tputMessages: 1500, tputInterval: time.Second,
	binary: true, binPerSession: 99, binIdle: 45 * time.Second,
	slowSessions: 200, slowMsgs: 10, slowDelay: 5 * time.Second, slowInterval: time.Second, slowRate: 5, slowDur: 40 * time.Second,
	rcChannels: 500, rcQuiet: 50, rcMissed: 20, rcInterval: time.Second, rcWarm: 10 * time.Second, rcDur: 35 * time.Second, rcRate: 5, rcReplyRate: 2,
}

var smoke = plan{
	idleSizes: []int{5}, idleInterval: 50 * time.Millisecond, idleCycles: 5, naiveIdleCycles: 2,
	latSessions: 5, latIntervals: []time.Duration{200 * time.Millisecond}, latRate: 20, latDur: 500 * time.Millisecond,
	naiveDur: 500 * time.Millisecond, naiveDrain: 10 * time.Second,
	replyRate: 10, replyDur: 500 * time.Millisecond, replyInterval: 200 * time.Millisecond,
	budgetSessions: 5, budgetInterval: 200 * time.Millisecond, budgetRate: 20, budgetDur: 500 * time.Millisecond,
	tputSessions: 3, tputMessages: 30, tputInterval: 200 * time.Millisecond,
	slowSessions: 4, slowMsgs: 3, slowDelay: 300 * time.Millisecond, slowInterval: 200 * time.Millisecond, slowRate: 20, slowDur: 500 * time.Millisecond,
	rcChannels: 8, rcQuiet: 2, rcMissed: 2, rcInterval: 200 * time.Millisecond, rcWarm: 300 * time.Millisecond, rcDur: 2 * time.Second, rcRate: 20, rcReplyRate: 10,
}

// results are the figures of one run.
type results struct {
	plan    plan
	idle    []idleResult
	lat     []latRow
	replies replyResult
	budget  budgetRow
	tput    throughputResult
	bin     *binaryResult
	load    [2]string // /proc/loadavg at the start and at the end
	took    time.Duration

	// Issue 13's isolation figures (isolation_test.go).
	slow      *slowResult
	reconnect *reconnectResult
}

type latRow struct {
	interval    time.Duration
	ours, naive relayResult
}

type budgetRow struct {
	ours, naive, naiveFree relayResult
}

// run measures every figure of p, in order.
func run(t *testing.T, p plan) *results {
	res := &results{plan: p, load: [2]string{loadavg(), ""}}
	began := time.Now()
	defer func() { res.took = time.Since(began); res.load[1] = loadavg() }()
	logf := func(format string, args ...any) {
		t.Helper()
		t.Logf("[%4.0fs] "+format, append([]any{time.Since(began).Seconds()}, args...)...)
	}

	var big, pristine *world
	for _, n := range p.idleSizes {
		mode := discord.ModeChannels
		if n > 100 {
			mode = discord.ModeForum
		}
		w := newWorld(t, n, mode)
		r := measureIdle(w, p)
		logf("idle, %d sessions: ours %.2f (%v), naive %.2f (%v)", n, r.ours, r.oursBy, r.naive, r.naiveBy)
		res.idle = append(res.idle, r)
		big = w
		if n == p.latSessions && mode == discord.ModeChannels {
			pristine = w // nothing happened in it: fit for the latencies
		}
	}

	w := pristine
	if w == nil {
		w = newWorld(t, p.latSessions, discord.ModeChannels)
	}
	for i, iv := range p.latIntervals {
		o := relayOurs(w, fmt.Sprintf("lat%d", i), iv, p.latRate, p.latDur, uint64(10+i))
		logf("QQ->Discord at %v, ours: %+v", iv, o)
		res.lat = append(res.lat, latRow{interval: iv, ours: o})
	}
	res.replies = measureReplies(w, "rep", p.replyInterval, p.replyRate, p.replyDur, 20)
	logf("Discord->QQ: %+v", res.replies)
	// The naive poller last: the engine, started again, would relay
	// what arrived while it was away.
	for i := range res.lat {
		row := &res.lat[i]
		row.naive = relayNaive(w, fmt.Sprintf("nlat%d", i), row.interval, 0, p.latRate, p.naiveDur, p.naiveDrain, uint64(10+i), nil)
		logf("QQ->Discord at %v, naive: %+v", row.interval, row.naive)
	}

	w = newWorld(t, p.budgetSessions, discord.ModeChannels)
	limit := func() { w.qq.SetRateLimit(10, 50) } // a full bucket
	limit()
	res.budget.ours = relayOurs(w, "bud", p.budgetInterval, p.budgetRate, p.budgetDur, 30)
	logf("budget, ours: %+v", res.budget.ours)
	w.qq.SetRateLimit(0, 0) // the naive poller primes itself without a budget
	res.budget.naive = relayNaive(w, "bnv", p.budgetInterval, 0, p.budgetRate, p.budgetDur, p.naiveDrain, 30, limit)
	logf("budget, naive: %+v", res.budget.naive)
	w.qq.SetRateLimit(0, 0)
	res.budget.naiveFree = relayNaive(w, "bnf", p.budgetInterval, rate.Inf, p.budgetRate, p.budgetDur, p.naiveDrain, 30, limit)
	logf("budget, naive without a client throttle: %+v", res.budget.naiveFree)

	w = newWorld(t, p.tputSessions, discord.ModeChannels)
	res.tput = measureThroughput(w, "tput", p.tputInterval, p.tputMessages)
	logf("throughput: %+v", res.tput)

	runIsolation(t, p, res, logf)

	if p.binary && big != nil {
		seedStart := time.Now()
		seedMapped(big, p.binPerSession)
		logf("seeded %d mapped messages in %v", len(big.sessions)*p.binPerSession, time.Since(seedStart).Round(time.Second))
		b := measureBinary(big, p.binIdle)
		b.mapped = len(big.sessions) * (1 + p.binPerSession)
		logf("binary: %+v", b)
		res.bin = &b
	}
	return res
}

// TestLoadFigures measures every figure of docs/BENCHMARKS.md. It runs
// only with -load: it takes minutes and the whole machine.
func TestLoadFigures(t *testing.T) {
	if !*loadFlag {
		t.Skip("the load figures run with -load (go test ./bridge/loadtest -run TestLoadFigures -load -v -timeout 30m)")
	}
	res := run(t, full)
	table := res.table()
	fmt.Println(table)
	if *loadOut != "" {
		if err := os.WriteFile(*loadOut, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Misses against the goals are figures, not failures; lost or
	// duplicated messages are bugs.
	for _, r := range res.lat {
		if r.ours.missing+r.ours.dup > 0 {
			t.Errorf("at %v the engine lost %d and duplicated %d messages", r.interval, r.ours.missing, r.ours.dup)
		}
	}
	if b := res.budget.ours; b.missing+b.dup > 0 {
		t.Errorf("under the QQ budget the engine lost %d and duplicated %d messages", b.missing, b.dup)
	}
	if r := res.replies; r.missing+r.dup > 0 {
		t.Errorf("replies: %d lost, %d duplicated", r.missing, r.dup)
	}
	checkIsolation(t, res)
}

// TestLoadSmoke runs every scenario of the harness at toy sizes (the
// binary excepted), so that CI proves the harness still works. Its
// figures mean nothing; what it checks is that they were taken and that
// the engine relayed everything exactly once.
func TestLoadSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	res := run(t, smoke)
	t.Log("\n" + res.table())
	for _, r := range res.idle {
		if r.ours < 0.99 || r.ours > 1.01 {
			t.Errorf("%d sessions: an idle cycle cost %.2f QQ requests (%v), want 1", r.sessions, r.ours, r.oursBy)
		}
		if want := float64(r.sessions + 1); r.naive < want {
			t.Errorf("%d sessions: a naive idle cycle cost %.2f QQ requests (%v), want at least %v", r.sessions, r.naive, r.naiveBy, want)
		}
	}
	check := func(what string, sent, once int) {
		if sent == 0 || once != sent {
			t.Errorf("%s: %d of %d delivered exactly once", what, once, sent)
		}
	}
	for _, r := range res.lat {
		check(fmt.Sprintf("QQ->Discord at %v", r.interval), r.ours.sent, r.ours.once)
		check(fmt.Sprintf("naive QQ->Discord at %v", r.interval), r.naive.sent, r.naive.once)
		if r.ours.lat.n != r.ours.sent {
			t.Errorf("QQ->Discord at %v: %d latencies for %d messages", r.interval, r.ours.lat.n, r.ours.sent)
		}
	}
	check("Discord->QQ", res.replies.sent, res.replies.once)
	if res.replies.lat.n != res.replies.sent {
		t.Errorf("Discord->QQ: %d latencies for %d replies", res.replies.lat.n, res.replies.sent)
	}
	check("under the QQ budget", res.budget.ours.sent, res.budget.ours.once)
	checkIsolation(t, res)
	if res.tput.delivered != res.tput.messages || res.tput.perSec <= 0 {
		t.Errorf("throughput: %d of %d delivered, %.1f/s", res.tput.delivered, res.tput.messages, res.tput.perSec)
	}
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "?"
}

func machine() string {
	return fmt.Sprintf("%d CPUs (%s), %s %s/%s", runtime.NumCPU(), cpuModel(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// TestLoadThroughput measures the throughput figure alone (the full run
// takes minutes; this one about one). It runs only with -load:
//
//	go test ./bridge/loadtest -run TestLoadThroughput -load -v -timeout 10m
func TestLoadThroughput(t *testing.T) {
	if !*loadFlag {
		t.Skip("the load figures run with -load (go test ./bridge/loadtest -run TestLoadThroughput -load -v -timeout 10m)")
	}
	before := loadavg()
	w := newWorld(t, full.tputSessions, discord.ModeChannels)
	r := measureThroughput(w, "tput", full.tputInterval, full.tputMessages)
	t.Logf("machine: %s; load average %s at the start, %s at the end", machine(), before, loadavg())
	t.Logf("%d messages over %d sessions: %.1f/s, %.2f%% 429s (%d of %d requests), %d delivered",
		r.messages, full.tputSessions, r.perSec, r.pct429(), r.n429, r.requests, r.delivered)
	if r.delivered != r.messages {
		t.Errorf("%d of %d messages delivered", r.delivered, r.messages)
	}
}
