package loadtest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/discord"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// Issue 13's isolation figures: one session whose Discord is slow must not
// delay the others, and a gateway reconnect's catch-up must not delay
// deliveries elsewhere.

// driveAsync delivers "<tag>-<i>" from the peers of random sessions among
// sids, a Poisson process of perSec for d, on its own goroutine. warmed
// (when not nil) is closed once warm has passed. The arrivals come on the
// returned channel when the drive is over.
func (w *world) driveAsync(tag string, sids []string, perSec float64, d, warm time.Duration, warmed chan struct{}, rng *rand.Rand) <-chan []arrival {
	out := make(chan []arrival, 1)
	go func() {
		var arr []arrival
		defer func() { out <- arr }()
		start := time.Now()
		end, next := start.Add(d), start
		for {
			next = next.Add(time.Duration(rng.ExpFloat64() / perSec * float64(time.Second)))
			if warmed != nil && next.Sub(start) >= warm {
				close(warmed)
				warmed = nil
			}
			if next.After(end) {
				return
			}
			time.Sleep(time.Until(next)) // the arrival process, not a synchronisation
			sid := sids[rng.IntN(len(sids))]
			at := time.Now()
			if _, err := w.qq.Deliver(sid, qqtest.Text(fmt.Sprintf("%s-%d", tag, len(arr)))); err != nil {
				w.t.Errorf("deliver: %v", err)
				return
			}
			arr = append(arr, arrival{session: sid, at: at})
		}
	}()
	return out
}

// orderFaults counts, over every session channel, the messages of tag
// stored in Discord before a message of the same session that arrived in
// QQ earlier (indexes grow with arrival time).
func (w *world) orderFaults(tag string) int {
	faults := 0
	prefix := tag + "-"
	for _, ch := range w.channel {
		last := -1
		for _, m := range w.dc.Messages(ch) {
			if m.WebhookID == "" || !strings.HasPrefix(m.Content, prefix) {
				continue
			}
			i, err := strconv.Atoi(m.Content[len(prefix):])
			if err != nil {
				continue
			}
			if i < last {
				faults++
			}
			last = max(last, i)
		}
	}
	return faults
}

// splitAll splits the latencies of arr (first: when each was posted) into
// the wait for the poll that found the message and the rest.
func (r *running) splitAll(arr []arrival, first []time.Time) (wait, after latencies) {
	polls, reads, _ := r.tq.snapshot()
	var waits, afters []time.Duration
	for i, a := range arr {
		if first[i].IsZero() {
			continue
		}
		if wt, af, ok := split(polls, reads, a.session, a.at, first[i]); ok {
			waits, afters = append(waits, wt), append(afters, af)
		}
	}
	return summarise(waits), summarise(afters)
}

// isHistoryRead reports whether a Discord request path reads a channel's
// messages (GET /channels/{id}/messages).
func isHistoryRead(path string) bool {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	return len(parts) == 3 && parts[0] == "channels" && parts[2] == "messages"
}

// ---- one session with a slow Discord ----

type slowResult struct {
	sessions int
	delay    time.Duration
	// others: the messages of every other session; slow: the slow one's.
	others, slow relayResult
	// orderFaults: messages stored out of their session's order (any
	// session, the slow one included).
	orderFaults, slowOrderFaults int
}

// measureSlowChannel makes posts into the first session's channel take
// delay, gives that session a backlog of slowMsgs messages, and measures
// the latencies of messages arriving at random in the other sessions
// meanwhile.
func measureSlowChannel(w *world, tag string, interval, delay time.Duration, perSec float64, d time.Duration, slowMsgs int, seed uint64) slowResult {
	t := w.t
	slowSID, others := w.sessions[0], w.sessions[1:]
	res := slowResult{sessions: len(w.sessions), delay: delay}
	w.dc.SetPostDelay(w.channel[slowSID], delay)
	defer w.dc.SetPostDelay(w.channel[slowSID], 0)
	r := w.start(runOpts{interval: interval})
	r.settled(2 * time.Minute)

	slowTag := tag + "x"
	var slowArr []arrival
	for i := range slowMsgs {
		at := time.Now()
		if _, err := w.qq.Deliver(slowSID, qqtest.Text(fmt.Sprintf("%s-%d", slowTag, i))); err != nil {
			t.Fatal(err)
		}
		slowArr = append(slowArr, arrival{session: slowSID, at: at})
	}
	arr := <-w.driveAsync(tag, others, perSec, d, 0, nil, rand.New(rand.NewPCG(seed, 3)))
	var first []time.Time
	res.others, first = w.collect(tag, arr, 2*interval+20*time.Second)
	res.slow, _ = w.collect(slowTag, slowArr, time.Duration(slowMsgs)*delay+30*time.Second)
	r.stop()
	res.others.wait, res.others.after = r.splitAll(arr, first)
	res.orderFaults = w.orderFaults(tag) + w.orderFaults(slowTag)
	res.slowOrderFaults = w.orderFaults(slowTag)
	return res
}

// ---- a gateway reconnect with many bridged channels ----

type reconnectResult struct {
	channels int
	// touched: channels with a new message (another bot's) when the
	// gateway dropped, which the catch-up must read; missed: of them, those
	// where a member also replied while the gateway was down.
	touched, missed int
	// reads: channel history reads from the drop to the end of the
	// catch-up; catchUp: from the drop to the last of them.
	reads   int
	catchUp time.Duration
	// n429: Discord's 429 answers from the drop to the end of the
	// catch-up (a global one pauses every request, posts included).
	n429 int
	// before: QQ to Discord, messages that arrived before the drop;
	// during: from the drop to the end of the catch-up; all: every one.
	before, during, all relayResult
	orderFaults         int
	// reconnected: from the drop to the gateway's next session.
	reconnected time.Duration
	// replies: written in the untouched channels once the gateway was
	// back: what became of them all, and the latency of those in channels
	// the catch-up did not read; heldReplies: the latency of those in
	// channels it read (a reply written before it listed the channels
	// makes its channel one to read).
	replies     replyResult
	heldReplies latencies
	// slowestAt: when the slowest reply of replies was written, from the
	// drop (a diagnostic: replies written while the catch-up lists the
	// channels wait for the listing).
	slowestAt time.Duration
	// slowestGateway: of its latency, the part before the engine's
	// HandleReply was called (the gateway and the adapter).
	slowestGateway time.Duration
	// missedOnce: the replies written while the gateway was down that
	// reached QQ exactly once.
	missedOnce int
}

// measureReconnect runs the engine on a world of many bridged channels
// under Discord's global limit, with QQ messages arriving at random in
// all sessions but the last replyChans. After warm, another bot posts in
// each of those touched channels, the gateway drops, and members reply in
// missed of them while it is down; the engine reconnects and catches up
// in the background. Once the gateway is back, members reply at random in
// the untouched channels until the QQ messages stop (at least a few).
func measureReconnect(w *world, tag string, interval time.Duration, perSec, replyRate float64, warm, d time.Duration, replyChans, missed int, seed uint64) reconnectResult {
	t := w.t
	res := reconnectResult{channels: len(w.sessions)}
	r := w.start(runOpts{interval: interval})
	r.settled(5 * time.Minute)
	// Discord's global limit from now on: the start-up catch-up is over
	// (under the limit, its pauses after a 429 would look settled).
	w.dc.SetGlobalLimit(50)
	defer w.dc.SetGlobalLimit(0)
	touched := w.sessions[:len(w.sessions)-replyChans]
	quiet := w.sessions[len(w.sessions)-replyChans:]
	res.touched, res.missed = len(touched), missed

	warmed := make(chan struct{})
	arrCh := w.driveAsync(tag, touched, perSec, d, warm, warmed, rand.New(rand.NewPCG(seed, 4)))
	<-warmed
	for _, sid := range touched {
		w.dc.PostAsWebhook(w.channel[sid], "Another Bot", "news")
	}
	conns := w.dc.TotalGatewayConnections()
	drop := time.Now()
	w.dc.DropGateway()
	missedTag := tag + "m"
	for i, sid := range touched[:missed] {
		w.dc.Type(w.channel[sid], w.dc.AdminUserID, fmt.Sprintf("%s-%d", missedTag, i))
	}
	waitFor(t, time.Minute, "the gateway to reconnect", func() bool {
		return w.dc.TotalGatewayConnections() > conns && w.dc.Connected()
	})
	res.reconnected = time.Since(drop)

	// Replies in the untouched channels, at random, until the drive ends.
	replyTag := tag + "r"
	var written []time.Time
	var wroteIn []string // channel of each reply
	rng := rand.New(rand.NewPCG(seed, 5))
	var arr []arrival
	next := time.Now()
	// At least a few, however long the reconnection took.
	const minReplies = 3
	for driving := true; driving || len(written) < minReplies; {
		next = next.Add(time.Duration(rng.ExpFloat64() / replyRate * float64(time.Second)))
		if driving {
			select {
			case arr = <-arrCh:
				driving = false
				continue
			case <-time.After(time.Until(next)): // the arrival process
			}
		} else {
			time.Sleep(time.Until(next)) // the arrival process
		}
		ch := w.channel[quiet[rng.IntN(len(quiet))]]
		m := w.dc.Type(ch, w.dc.AdminUserID, fmt.Sprintf("%s-%d", replyTag, len(written)))
		written, wroteIn = append(written, m.Timestamp), append(wroteIn, ch)
	}

	// The catch-up has read every touched channel.
	reads := func() map[string]time.Time {
		last := map[string]time.Time{}
		for _, rec := range w.dc.Requests() {
			if rec.Method == "GET" && rec.Status == 200 && rec.Time.After(drop) && isHistoryRead(rec.Path) {
				last[strings.Split(strings.Trim(rec.Path, "/"), "/")[1]] = rec.Time
			}
		}
		return last
	}
	waitFor(t, 5*time.Minute, "the catch-up to read every touched channel", func() bool {
		got := reads()
		for _, sid := range touched {
			if _, ok := got[w.channel[sid]]; !ok {
				return false
			}
		}
		return true
	})
	var end time.Time
	byChannel := reads()
	for _, sid := range touched {
		if at := byChannel[w.channel[sid]]; at.After(end) {
			end = at
		}
	}
	res.catchUp = end.Sub(drop)
	for _, rec := range w.dc.Requests() {
		if rec.Method == "GET" && rec.Time.After(drop) && !rec.Time.After(end) && isHistoryRead(rec.Path) {
			res.reads++
		}
		if rec.Status == http.StatusTooManyRequests && rec.Time.After(drop) && !rec.Time.After(end) {
			res.n429++
		}
	}

	var first []time.Time
	res.all, first = w.collect(tag, arr, 2*interval+20*time.Second)
	waitFor(t, time.Minute, "the replies at QQ", func() bool {
		return sentCount(w.qq, replyTag+"-") >= len(written) && sentCount(w.qq, missedTag+"-") >= missed
	})
	r.stop()
	res.all.wait, res.all.after = r.splitAll(arr, first)
	res.orderFaults = w.orderFaults(tag)

	// Before the drop, and from the drop to the end of the catch-up.
	for _, part := range []struct {
		into *relayResult
		keep func(time.Time) bool
	}{
		{into: &res.before, keep: func(at time.Time) bool { return at.Before(drop) }},
		{into: &res.during, keep: func(at time.Time) bool { return !at.Before(drop) && !at.After(end) }},
	} {
		var a []arrival
		var f []time.Time
		var ds []time.Duration
		for i, x := range arr {
			if !part.keep(x.at) {
				continue
			}
			a, f = append(a, x), append(f, first[i])
			part.into.sent++
			if !first[i].IsZero() {
				ds = append(ds, first[i].Sub(x.at))
			}
		}
		part.into.lat = summarise(ds)
		part.into.wait, part.into.after = r.splitAll(a, f)
	}

	// Replies in channels the catch-up read (written before it listed
	// the channels, a reply makes its channel one to read) wait for that
	// read; the others are the figure.
	read := map[string]bool{}
	for _, rec := range w.dc.Requests() {
		if rec.Method == "GET" && rec.Time.After(drop) && !rec.Time.After(end) && isHistoryRead(rec.Path) {
			read[strings.Split(strings.Trim(rec.Path, "/"), "/")[1]] = true
		}
	}
	all := replyOutcome(w, replyTag, written)
	res.replies = replyResult{sent: all.sent, once: all.once, dup: all.dup, missing: all.missing}
	var free, held []time.Duration
	for i, ch := range wroteIn {
		if d, ok := all.each[i]; ok {
			if read[ch] {
				held = append(held, d)
			} else {
				free = append(free, d)
				if len(free) == 1 || d > slices.Max(free[:len(free)-1]) {
					res.slowestAt = written[i].Sub(drop)
					if h, ok := r.th.get(fmt.Sprintf("%s-%d", replyTag, i)); ok {
						res.slowestGateway = h.called.Sub(written[i])
					}
				}
			}
		}
	}
	res.replies.lat, res.heldReplies = summarise(free), summarise(held)
	accepted := map[string]int{}
	for _, s := range w.qq.Sent() {
		accepted[s.Meta.Content]++
	}
	for i := range missed {
		if accepted[fmt.Sprintf("%s-%d", missedTag, i)] == 1 {
			res.missedOnce++
		}
	}
	return res
}

// replyOutcomes is what became of replies: delivered to QQ once, more,
// or not, and the latency of each delivered one (by index).
type replyOutcomes struct {
	sent, once, dup, missing int
	each                     map[int]time.Duration
}

// replyOutcome is what became of the replies "<tag>-<i>" written at the
// given Discord timestamps: delivered to QQ once, more, or not, and their
// latency from Discord's timestamp to QQ's receipt of the send.
func replyOutcome(w *world, tag string, written []time.Time) replyOutcomes {
	res := replyOutcomes{sent: len(written), each: map[int]time.Duration{}}
	prefix := tag + "-"
	arrived := map[int]time.Time{}
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
		if i, err := strconv.Atoi(p.MetaData.Content[len(prefix):]); err == nil {
			arrived[i] = req.Time // the last attempt: the one QQ kept
		}
	}
	accepted := map[string]int{}
	for _, s := range w.qq.Sent() {
		accepted[s.Meta.Content]++
	}
	for i, at := range written {
		switch accepted[fmt.Sprintf("%s-%d", tag, i)] {
		case 0:
			res.missing++
			continue
		case 1:
			res.once++
		default:
			res.dup++
		}
		if got, ok := arrived[i]; ok {
			res.each[i] = got.Sub(at)
		}
	}
	return res
}

// isolationRows renders the figures of this file as rows of the table.
func (r *results) isolationRows(row func(cells ...string)) {
	if s := r.slow; s != nil {
		iv := r.plan.slowInterval
		goal := iv + 100*time.Millisecond
		row(fmt.Sprintf("One session of %d with a Discord taking %s per post: QQ→Discord latency p50 / p90 / p99 of the other %d sessions, %s poll, %d messages",
			s.sessions, ms(s.delay), s.sessions-1, ms(iv), s.others.sent),
			lat3(s.others.lat)+" ("+delivery(s.others)+")", "n/a", "p99 ≤ "+ms(goal),
			verdict(s.others.lat.n > 0 && s.others.lat.p99 <= goal && s.others.once == s.others.sent))
		row("… split: waiting for the poll; from the poll's start to Discord (p50 / p99)",
			split2(s.others.wait)+"; "+split2(s.others.after), "", "", "")
		row(fmt.Sprintf("… the slow session: %d messages queued at once, latency p50 / max; stored out of order", s.slow.sent),
			fmt.Sprintf("%s / %s (%s); %d", ms(s.slow.lat.p50), ms(s.slow.lat.max), delivery(s.slow), s.slowOrderFaults),
			"n/a", "every message once, in order", verdict(s.slow.once == s.slow.sent && s.orderFaults == 0))
	}
	if c := r.reconnect; c != nil {
		extra := c.during.after.max - c.before.after.p50
		row(fmt.Sprintf("Gateway reconnect, %d bridged channels (forum posts), %d with something new: from the drop to the gateway back; to the catch-up's last read (reads, 429s)", c.channels, c.touched),
			fmt.Sprintf("%s; %s (%d reads, %d 429s)", ms(c.reconnected), ms(c.catchUp), c.reads, c.n429), "n/a", "—", "—")
		row(fmt.Sprintf("… QQ→Discord, %s poll: the %d messages before the drop, p50 / p99 / max; from the poll's start to Discord, p50 / max", ms(r.plan.rcInterval), c.before.sent),
			fmt.Sprintf("%s / %s / %s; %s / %s", ms(c.before.lat.p50), ms(c.before.lat.p99), ms(c.before.lat.max), ms(c.before.after.p50), ms(c.before.after.max)),
			"n/a", "—", "—")
		row(fmt.Sprintf("… the %d messages from the drop to the catch-up's last read, the same; extra delay (the max from the poll's start, less the median before the drop)", c.during.sent),
			fmt.Sprintf("%s / %s / %s; %s / %s; %s", ms(c.during.lat.p50), ms(c.during.lat.p99), ms(c.during.lat.max), ms(c.during.after.p50), ms(c.during.after.max), ms(extra)),
			"n/a", "extra delay ≤ 1 s", verdict(c.during.after.n > 0 && extra <= time.Second))
		row(fmt.Sprintf("… Discord→QQ, %d replies in %d channels without news, once the gateway was back: in the %d replies' channels the catch-up did not read, p50 / p99 / max", c.replies.sent, c.channels-c.touched, c.replies.lat.n),
			fmt.Sprintf("%s / %s / %s (%d/%d once)", ms(c.replies.lat.p50), ms(c.replies.lat.p99), ms(c.replies.lat.max), c.replies.once, c.replies.sent),
			"n/a", "max ≤ 1 s", verdict(c.replies.lat.n > 0 && c.replies.lat.max <= time.Second && c.replies.once == c.replies.sent))
		if c.heldReplies.n > 0 {
			row(fmt.Sprintf("… the %d replies whose channel the catch-up read (written before it listed the channels): p50 / max", c.heldReplies.n),
				fmt.Sprintf("%s / %s", ms(c.heldReplies.p50), ms(c.heldReplies.max)), "n/a", "—", "—")
		}
		row("… every QQ message once and in order; replies written while the gateway was down, once",
			fmt.Sprintf("%s, %d out of order; %d/%d", delivery(c.all), c.orderFaults, c.missedOnce, c.missed),
			"n/a", "all", verdict(c.all.once == c.all.sent && c.orderFaults == 0 && c.missedOnce == c.missed))
	}
}

// runIsolation measures the figures of this file into res.
func runIsolation(t *testing.T, p plan, res *results, logf func(string, ...any)) {
	t.Helper()
	w := newWorld(t, p.slowSessions, discord.ModeChannels)
	s := measureSlowChannel(w, "slw", p.slowInterval, p.slowDelay, p.slowRate, p.slowDur, p.slowMsgs, 40)
	logf("one slow session: others %+v; the slow one %+v; out of order %d (the slow one %d)", s.others, s.slow, s.orderFaults, s.slowOrderFaults)
	res.slow = &s

	w = newWorld(t, p.rcChannels, discord.ModeForum)
	c := measureReconnect(w, "rc", p.rcInterval, p.rcRate, p.rcReplyRate, p.rcWarm, p.rcDur, p.rcQuiet, p.rcMissed, 50)
	logf("reconnect: back in %s; %d reads in %s (%d 429s); the slowest reply written %s after the drop (%s of it before HandleReply); held replies %v; before %v (after the poll %v); during %v (after the poll %v); all %+v, out of order %d; replies %+v; missed replies once %d/%d",
		ms(c.reconnected), c.reads, ms(c.catchUp), c.n429, ms(c.slowestAt), ms(c.slowestGateway), c.heldReplies, c.before.lat, c.before.after, c.during.lat, c.during.after, c.all, c.orderFaults, c.replies, c.missedOnce, c.missed)
	res.reconnect = &c
}

// checkIsolation fails t when the isolation scenarios lost, duplicated or
// reordered anything, or did not do what they are meant to (a catch-up
// that read the touched channels, replies written). Timings are figures.
func checkIsolation(t *testing.T, res *results) {
	t.Helper()
	if s := res.slow; s == nil {
		t.Error("the slow-session figure was not taken")
	} else {
		if s.others.sent == 0 || s.others.once != s.others.sent {
			t.Errorf("one slow session: the others got %s", delivery(s.others))
		}
		if s.others.lat.n != s.others.sent {
			t.Errorf("one slow session: %d latencies for %d messages", s.others.lat.n, s.others.sent)
		}
		if s.slow.sent == 0 || s.slow.once != s.slow.sent {
			t.Errorf("the slow session got %s", delivery(s.slow))
		}
		if s.orderFaults != 0 {
			t.Errorf("one slow session: %d messages stored out of their session's order (%d of the slow one)", s.orderFaults, s.slowOrderFaults)
		}
	}
	c := res.reconnect
	if c == nil {
		t.Error("the reconnect figure was not taken")
		return
	}
	if c.reads < c.touched {
		t.Errorf("reconnect: the catch-up read %d channels, want at least the %d touched", c.reads, c.touched)
	}
	if c.all.sent == 0 || c.all.once != c.all.sent || c.orderFaults != 0 {
		t.Errorf("reconnect: QQ to Discord %s, %d out of order", delivery(c.all), c.orderFaults)
	}
	if c.replies.sent == 0 || c.replies.once != c.replies.sent {
		t.Errorf("reconnect: replies %d of %d once (%d duplicated, %d missing)", c.replies.once, c.replies.sent, c.replies.dup, c.replies.missing)
	}
	if c.missedOnce != c.missed {
		t.Errorf("reconnect: %d of the %d replies written while the gateway was down reached QQ once", c.missedOnce, c.missed)
	}
}

// TestLoadIsolation measures issue 13's isolation figures alone, at full
// size, and holds them to their goals. It runs only with -load:
//
//	go test ./bridge/loadtest -run TestLoadIsolation -load -v -timeout 30m
func TestLoadIsolation(t *testing.T) {
	if !*loadFlag {
		t.Skip("the load figures run with -load (go test ./bridge/loadtest -run TestLoadIsolation -load -v -timeout 30m)")
	}
	res := &results{plan: full, load: [2]string{loadavg(), ""}}
	began := time.Now()
	runIsolation(t, full, res, func(format string, args ...any) {
		t.Logf("[%4.0fs] "+format, append([]any{time.Since(began).Seconds()}, args...)...)
	})
	res.took, res.load[1] = time.Since(began), loadavg()
	var b strings.Builder
	row := func(cells ...string) { b.WriteString("| " + strings.Join(cells, " | ") + " |\n") }
	fmt.Fprintf(&b, "Machine: %s; load average %s at the start, %s at the end; the run took %s.\n\n",
		machine(), res.load[0], res.load[1], res.took.Round(time.Second))
	row("Figure", "Ours", "Naive", "Goal", "Ours vs goal")
	row("---", "---", "---", "---", "---")
	res.isolationRows(row)
	fmt.Println(b.String())
	if *loadOut != "" {
		if err := os.WriteFile(*loadOut, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	checkIsolation(t, res)
	if s := res.slow; s.others.lat.p99 > full.slowInterval+100*time.Millisecond {
		t.Errorf("one slow session: the others' p99 is %s, want ≤ %s", ms(s.others.lat.p99), ms(full.slowInterval+100*time.Millisecond))
	}
	if c := res.reconnect; c.during.after.max-c.before.after.p50 > time.Second {
		t.Errorf("reconnect: a delivery during the catch-up took %s after its poll (before the drop: %s at the median)", ms(c.during.after.max), ms(c.before.after.p50))
	}
	if c := res.reconnect; c.replies.lat.max > time.Second {
		t.Errorf("reconnect: a reply in a channel not caught up took %s to reach QQ", ms(c.replies.lat.max))
	}
}
