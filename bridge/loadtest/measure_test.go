package loadtest

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// latencies summarises a sample of latencies (nearest-rank percentiles).
type latencies struct {
	n                  int
	p50, p90, p99, max time.Duration
}

func (l latencies) String() string {
	return fmt.Sprintf("{n=%d p50=%s p90=%s p99=%s max=%s}", l.n, ms(l.p50), ms(l.p90), ms(l.p99), ms(l.max))
}

func summarise(ds []time.Duration) latencies {
	if len(ds) == 0 {
		return latencies{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[max(i, 0)]
	}
	return latencies{n: len(s), p50: at(0.50), p90: at(0.90), p99: at(0.99), max: s[len(s)-1]}
}

// ---- QQ requests per idle cycle ----

// counter snapshots the QQ double's request counts at two cycle numbers.
type counter struct {
	qq       *qqtest.Server
	mu       sync.Mutex
	from, to int64
	a, b     map[string]int
}

func (c *counter) at(n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.from > 0 && n == c.from {
		c.a = c.qq.Counts()
	}
	if c.to > 0 && n == c.to {
		c.b = c.qq.Counts()
	}
}

// arm counts the cycles from a little after cur on.
func (c *counter) arm(cur int64, cycles int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.from = cur + 2
	c.to = c.from + int64(cycles)
}

func (c *counter) done() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b != nil
}

// perCycle is the requests per cycle between the two snapshots, and the
// requests by method.
func (c *counter) perCycle() (float64, map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	diff := map[string]int{}
	for k, v := range c.b {
		if d := v - c.a[k]; d != 0 {
			diff[k] = d
		}
	}
	return float64(totalCount(diff)) / float64(c.to-c.from), diff
}

type idleResult struct {
	sessions                int
	ours, naive             float64
	oursCycles, naiveCycles int
	oursBy, naiveBy         map[string]int
}

// measureIdle counts the QQ requests of idle cycles, the engine's and the
// naive poller's, on a world where nothing happens.
func measureIdle(w *world, p plan) idleResult {
	t := w.t
	t.Helper()
	res := idleResult{sessions: len(w.sessions), oursCycles: p.idleCycles, naiveCycles: p.naiveIdleCycles}

	c := &counter{qq: w.qq}
	r := w.start(runOpts{interval: p.idleInterval, onPoll: c.at})
	r.settled(2 * time.Minute)
	c.arm(r.obs.polls.Load(), p.idleCycles)
	waitFor(t, time.Minute+time.Duration(p.idleCycles)*p.idleInterval*10, "idle polls", c.done)
	res.ours, res.oursBy = c.perCycle()
	r.stop()

	// The naive poller's count does not depend on its throttle; without
	// one, a cycle over 1,000 sessions takes seconds instead of minutes.
	nc := &counter{qq: w.qq}
	n := w.startNaive(naiveOpts{interval: p.idleInterval, limit: rate.Inf, onCycle: nc.at})
	nc.arm(n.cycles.Load(), p.naiveIdleCycles)
	waitFor(t, 10*time.Minute, "naive idle cycles", nc.done)
	res.naive, res.naiveBy = nc.perCycle()
	n.stop()
	return res
}

// ---- QQ to Discord ----

type arrival struct {
	session string
	at      time.Time
}

// drive delivers messages "<tag>-<i>" from the peers of random sessions,
// at random (a Poisson process of rate per second) for d.
func (w *world) drive(tag string, perSec float64, d time.Duration, rng *rand.Rand) []arrival {
	w.t.Helper()
	var out []arrival
	end := time.Now().Add(d)
	next := time.Now()
	for {
		next = next.Add(time.Duration(rng.ExpFloat64() / perSec * float64(time.Second)))
		if next.After(end) {
			return out
		}
		time.Sleep(time.Until(next))
		sid := w.sessions[rng.IntN(len(w.sessions))]
		at := time.Now()
		if _, err := w.qq.Deliver(sid, qqtest.Text(fmt.Sprintf("%s-%d", tag, len(out)))); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, arrival{session: sid, at: at})
	}
}

// relayResult is what became of messages sent one way.
type relayResult struct {
	sent, once, dup, missing int
	lat                      latencies
	// wait and after split the engine's latencies: waiting for the poll
	// that found the message, and the rest from that poll's start.
	wait, after latencies
	// calls and refused count the QQ calls the relay made (and those
	// risk control refused) during the run.
	calls, refused int64
	// drained: how long after the last message everything arrived (or
	// the drain gave up).
	drained time.Duration
}

func (r relayResult) String() string {
	return fmt.Sprintf("sent %d, once %d, duplicated %d, missing %d; latency %v (waiting for the poll %v, after it %v); QQ calls %d, refused %d; drained in %s",
		r.sent, r.once, r.dup, r.missing, r.lat, r.wait, r.after, r.calls, r.refused, ms(r.drained))
}

func (r relayResult) refusedPct() float64 {
	if r.calls == 0 {
		return 0
	}
	return 100 * float64(r.refused) / float64(r.calls)
}

// collect waits (at most drain after the last message) until every
// message of tag reached Discord, then measures. It also returns when each
// message was first posted (zero: never).
func (w *world) collect(tag string, arr []arrival, drain time.Duration) (relayResult, []time.Time) {
	res := relayResult{sent: len(arr)}
	start := time.Now()
	deadline := start.Add(drain)
	var got map[int][]time.Time
	for {
		got = w.posted(tag)
		if len(got) >= len(arr) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	res.drained = time.Since(start)
	// A little longer, to catch a late duplicate.
	time.Sleep(300 * time.Millisecond)
	got = w.posted(tag)
	var ds []time.Duration
	first := make([]time.Time, len(arr))
	for i, a := range arr {
		ts := got[i]
		switch {
		case len(ts) == 0:
			res.missing++
			continue
		case len(ts) == 1:
			res.once++
		default:
			res.dup++
		}
		first[i] = slices.MinFunc(ts, func(x, y time.Time) int { return x.Compare(y) })
		ds = append(ds, first[i].Sub(a.at))
	}
	res.lat = summarise(ds)
	return res, first
}

// relayOurs runs the engine at interval on the world and measures
// messages arriving at random.
func relayOurs(w *world, tag string, interval time.Duration, perSec float64, d time.Duration, seed uint64) relayResult {
	r := w.start(runOpts{interval: interval})
	r.settled(2 * time.Minute)
	c0, f0 := r.qqc.calls.Load(), r.qqc.refused.Load()
	arr := w.drive(tag, perSec, d, rand.New(rand.NewPCG(seed, 1)))
	res, first := w.collect(tag, arr, 2*interval+20*time.Second)
	res.calls, res.refused = r.qqc.calls.Load()-c0, r.qqc.refused.Load()-f0
	r.stop()
	polls, reads, _ := r.tq.snapshot()
	var waits, afters []time.Duration
	for i, a := range arr {
		if first[i].IsZero() {
			continue
		}
		if wait, after, ok := split(polls, reads, a.session, a.at, first[i]); ok {
			waits, afters = append(waits, wait), append(afters, after)
		}
	}
	res.wait, res.after = summarise(waits), summarise(afters)
	return res
}

// relayNaive does the same with the naive poller. beforeRun, when set,
// runs once the poller is primed, before its first cycle.
func relayNaive(w *world, tag string, interval time.Duration, limit rate.Limit, perSec float64, d, drain time.Duration, seed uint64, beforeRun func()) relayResult {
	n := w.startNaive(naiveOpts{interval: interval, limit: limit, channels: true, beforeRun: beforeRun})
	arr := w.drive(tag, perSec, d, rand.New(rand.NewPCG(seed, 1)))
	res, _ := w.collect(tag, arr, drain)
	res.calls, res.refused = n.qqc.calls.Load(), n.qqc.refused.Load()
	n.stop()
	return res
}

// ---- Discord to QQ ----

type replyResult struct {
	sent, once, dup, missing int
	lat                      latencies
	// Where the time went: from Discord's timestamp to the engine's
	// HandleReply (the gateway and the adapter), in HandleReply (queued
	// durably), from then to the engine's SendText (the outbox), and from
	// SendText to QQ's receipt (the client and its throttle).
	gateway, queue, outbox, send latencies
}

func (r replyResult) String() string {
	return fmt.Sprintf("sent %d, once %d, duplicated %d, missing %d; latency %v: gateway %v, HandleReply %v, outbox %v, send %v",
		r.sent, r.once, r.dup, r.missing, r.lat, r.gateway, r.queue, r.outbox, r.send)
}

// measureReplies has a member write "<tag>-<i>" in random session
// channels at random, and times each from Discord's timestamp to its
// arrival at QQ (the double's receive time of SendMessageAsync).
func measureReplies(w *world, tag string, interval time.Duration, perSec float64, d time.Duration, seed uint64) replyResult {
	t := w.t
	r := w.start(runOpts{interval: interval})
	r.settled(2 * time.Minute)
	// One reply first: the start-up catch-up holds replies until done.
	probe := tag + "probe"
	w.dc.Type(w.channel[w.sessions[0]], w.dc.AdminUserID, probe)
	waitFor(t, time.Minute, "the probe reply at QQ", func() bool { return sentCount(w.qq, probe) > 0 })

	rng := rand.New(rand.NewPCG(seed, 2))
	var written []time.Time
	end := time.Now().Add(d)
	next := time.Now()
	for {
		next = next.Add(time.Duration(rng.ExpFloat64() / perSec * float64(time.Second)))
		if next.After(end) {
			break
		}
		time.Sleep(time.Until(next))
		sid := w.sessions[rng.IntN(len(w.sessions))]
		m := w.dc.Type(w.channel[sid], w.dc.AdminUserID, fmt.Sprintf("%s-%d", tag, len(written)))
		written = append(written, m.Timestamp)
	}
	deadline := time.Now().Add(30 * time.Second)
	for sentCount(w.qq, tag+"-") < len(written) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	r.stop()
	_, _, sends := r.tq.snapshot()
	sendStart := map[string]time.Time{}
	for _, c := range sends {
		if _, ok := sendStart[c.text]; !ok {
			sendStart[c.text] = c.start
		}
	}

	res := replyResult{sent: len(written)}
	arrived := map[int][]time.Time{}
	prefix := tag + "-"
	for _, req := range w.qq.Requests() {
		if req.Method != "SendMessageAsync" {
			continue
		}
		var p struct {
			MetaData struct {
				Content string `json:"content"`
			} `json:"meta_data"`
		}
		if json.Unmarshal(req.Param, &p) != nil || !strings.HasPrefix(p.MetaData.Content, prefix) {
			continue
		}
		var i int
		if _, err := fmt.Sscanf(p.MetaData.Content[len(prefix):], "%d", &i); err == nil {
			arrived[i] = append(arrived[i], req.Time)
		}
	}
	// Delivered once: what QQ accepted (a refused or failed send is
	// retried, and counts once in Sent).
	accepted := map[string]int{}
	for _, s := range w.qq.Sent() {
		accepted[s.Meta.Content]++
	}
	var ds, gw, qu, ob, se []time.Duration
	for i, at := range written {
		text := fmt.Sprintf("%s-%d", tag, i)
		switch accepted[text] {
		case 0:
			res.missing++
			continue
		case 1:
			res.once++
		default:
			res.dup++
		}
		ts := arrived[i]
		if len(ts) == 0 {
			continue
		}
		got := ts[len(ts)-1]
		ds = append(ds, got.Sub(at))
		h, ok1 := r.th.get(text)
		s, ok2 := sendStart[text]
		if ok1 && ok2 {
			gw = append(gw, h.called.Sub(at))
			qu = append(qu, h.returned.Sub(h.called))
			ob = append(ob, s.Sub(h.returned))
			se = append(se, got.Sub(s))
		}
	}
	res.lat = summarise(ds)
	res.gateway, res.queue, res.outbox, res.send = summarise(gw), summarise(qu), summarise(ob), summarise(se)
	return res
}

func sentCount(s *qqtest.Server, prefix string) int {
	n := 0
	for _, m := range s.Sent() {
		if strings.HasPrefix(m.Meta.Content, prefix) {
			n++
		}
	}
	return n
}

// ---- into Discord under its global limit ----

type throughputResult struct {
	messages  int
	perSec    float64
	requests  int
	n429      int
	window    time.Duration
	delivered int
}

func (r throughputResult) pct429() float64 {
	if r.requests == 0 {
		return 0
	}
	return 100 * float64(r.n429) / float64(r.requests)
}

// measureThroughput queues m messages at once across the world's sessions
// while Discord enforces a 50 requests/s global limit, and measures the
// sustained rate of posts and the share of requests answered 429.
func measureThroughput(w *world, tag string, interval time.Duration, m int) throughputResult {
	t := w.t
	w.dc.SetGlobalLimit(50)
	defer w.dc.SetGlobalLimit(0)
	r := w.start(runOpts{interval: interval})
	r.settled(2 * time.Minute)
	before := len(w.dc.Requests())
	for i := range m {
		if _, err := w.qq.Deliver(w.sessions[i%len(w.sessions)], qqtest.Text(fmt.Sprintf("%s-%d", tag, i))); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(time.Duration(m/20)*time.Second + time.Minute)
	for len(w.posted(tag)) < m && time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
	}
	r.stop()

	res := throughputResult{messages: m, delivered: len(w.posted(tag))}
	recs := w.dc.Requests()[before:]
	var first, last time.Time
	posts := 0
	for _, rec := range recs {
		if rec.Method == "POST" && strings.HasPrefix(rec.Path, "/webhooks/") && rec.Status == 200 {
			if first.IsZero() {
				first = rec.Time
			}
			last = rec.Time
			posts++
		}
	}
	for _, rec := range recs {
		if rec.Time.Before(first) || rec.Time.After(last) {
			continue
		}
		res.requests++
		if rec.Status == 429 {
			res.n429++
		}
	}
	res.window = last.Sub(first)
	if posts > 1 && res.window > 0 {
		res.perSec = float64(posts-1) / res.window.Seconds()
	}
	return res
}
