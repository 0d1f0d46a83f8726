package loadtest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

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
