package loadtest

import (
	"fmt"
	"strings"
	"time"
)

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// mb shows a memory size in MiB and in MB (the goal's unit).
func mb(b int64) string { return fmt.Sprintf("%.1f MiB (%.1f MB)", float64(b)/(1<<20), float64(b)/1e6) }

// delivery says what became of a stream of messages.
func delivery(r relayResult) string {
	s := fmt.Sprintf("%d/%d once", r.once, r.sent)
	if r.dup > 0 {
		s += fmt.Sprintf(", %d duplicated", r.dup)
	}
	if r.missing > 0 {
		s += fmt.Sprintf(", %d not delivered", r.missing)
	}
	return s
}

func split2(l latencies) string {
	if l.n == 0 {
		return "—"
	}
	return fmt.Sprintf("%s / %s", ms(l.p50), ms(l.p99))
}

func lat3(l latencies) string {
	if l.n == 0 {
		return "—"
	}
	return fmt.Sprintf("%s / %s / %s", ms(l.p50), ms(l.p90), ms(l.p99))
}

// table renders the figures as the Markdown of docs/BENCHMARKS.md.
func (r *results) table() string {
	p := r.plan
	var b strings.Builder
	row := func(cells ...string) { b.WriteString("| " + strings.Join(cells, " | ") + " |\n") }
	fmt.Fprintf(&b, "Machine: %s; load average %s at the start, %s at the end; the run took %s.\n\n",
		machine(), r.load[0], r.load[1], r.took.Round(time.Second))
	row("Figure", "Ours", "Naive", "Goal", "Ours vs goal")
	row("---", "---", "---", "---", "---")

	for _, i := range r.idle {
		row(fmt.Sprintf("QQ requests per idle cycle, %d sessions", i.sessions),
			fmt.Sprintf("%.2f", i.ours), fmt.Sprintf("%.2f", i.naive), "1", verdict(i.ours <= 1.005))
	}
	for _, l := range r.lat {
		goal50, goal99 := l.interval/2+50*time.Millisecond, l.interval+100*time.Millisecond
		ok := l.ours.lat.p50 <= goal50 && l.ours.lat.p99 <= goal99 && l.ours.once == l.ours.sent
		row(fmt.Sprintf("QQ→Discord latency p50 / p90 / p99, %s poll, %d sessions, %d messages", ms(l.interval), p.latSessions, l.ours.sent),
			lat3(l.ours.lat)+" ("+delivery(l.ours)+")",
			lat3(l.naive.lat)+" ("+delivery(l.naive)+")",
			fmt.Sprintf("p50 ≤ %s, p99 ≤ %s", ms(goal50), ms(goal99)), verdict(ok))
		row("… ours split: waiting for the poll that found it; from that poll's start to Discord (p50 / p99)",
			split2(l.ours.wait)+"; "+split2(l.ours.after), "", "", "")
	}
	rp := r.replies
	row(fmt.Sprintf("Discord→QQ latency p50 / p99, through the outbox, %d replies", rp.sent),
		fmt.Sprintf("%s / %s (%d/%d once)", ms(rp.lat.p50), ms(rp.lat.p99), rp.once, rp.sent),
		"n/a", "p99 < 50 ms", verdict(rp.lat.n > 0 && rp.lat.p99 < 50*time.Millisecond && rp.once == rp.sent))
	row("… split (p50 / p99): gateway and adapter; HandleReply (queued durably); outbox to SendText; SendText to QQ",
		fmt.Sprintf("%s; %s; %s; %s", split2(rp.gateway), split2(rp.queue), split2(rp.outbox), split2(rp.send)), "", "", "")

	bu := r.budget
	goal99 := p.budgetInterval + 100*time.Millisecond
	row(fmt.Sprintf("Under QQ's budget (2001 beyond 10 req/s, burst 50), %d sessions, %s poll, %d messages: delivered", p.budgetSessions, ms(p.budgetInterval), bu.ours.sent),
		delivery(bu.ours), delivery(bu.naive)+"; no client throttle: "+delivery(bu.naiveFree),
		"every message once", verdict(bu.ours.once == bu.ours.sent))
	row("… QQ requests refused",
		fmt.Sprintf("%.2f%% (%d of %d)", bu.ours.refusedPct(), bu.ours.refused, bu.ours.calls),
		fmt.Sprintf("%.2f%% (%d of %d); no client throttle: %.1f%% (%d of %d)", bu.naive.refusedPct(), bu.naive.refused, bu.naive.calls,
			bu.naiveFree.refusedPct(), bu.naiveFree.refused, bu.naiveFree.calls),
		"< 1%", verdict(bu.ours.refusedPct() < 1))
	row("… QQ→Discord latency p50 / p90 / p99",
		lat3(bu.ours.lat), lat3(bu.naive.lat)+"; no client throttle: "+lat3(bu.naiveFree.lat),
		"p99 ≤ "+ms(goal99), verdict(bu.ours.lat.n > 0 && bu.ours.lat.p99 <= goal99))
	row("… ours split: waiting for the poll; from the poll's start to Discord (p50 / p99)",
		split2(bu.ours.wait)+"; "+split2(bu.ours.after), "", "", "")

	tp := r.tput
	row(fmt.Sprintf("Sustained messages/s into Discord (global limit 50 req/s), %d messages over %d sessions", tp.messages, p.tputSessions),
		fmt.Sprintf("%.1f/s, %.2f%% 429s (%d of %d requests)", tp.perSec, tp.pct429(), tp.n429, tp.requests),
		"n/a", "≥ 45/s, < 1% 429s", verdict(tp.perSec >= 45 && tp.pct429() < 1 && tp.delivered == tp.messages))

	r.isolationRows(row)

	if bn := r.bin; bn != nil {
		row(fmt.Sprintf("Binary, %d sessions, %d mapped messages (database %s): RSS idle / peak", bn.sessions, bn.mapped, mib(bn.dbBytes)),
			mb(bn.idleRSS)+" / "+mb(bn.peakRSS), "n/a", "≤ 40 MB", verdict(bn.idleRSS <= 40e6 && bn.peakRSS <= 40e6))
		row(fmt.Sprintf("… idle CPU (%s poll, over %s)", ms(bn.pollInterval), ms(bn.idle)),
			fmt.Sprintf("%.2f%% of a core", bn.idleCPU), "n/a", "< 1% of a core", verdict(bn.idleCPU < 1))
		row("… start to ready (/healthz 200); to the start-up catch-up done (posts read; CPU used; Discord requests, 429s)",
			fmt.Sprintf("%s; %s (%d posts read; %s CPU; %d requests, %d 429s)", ms(bn.ready), ms(bn.caughtUp), bn.startReads, ms(bn.startCPU), bn.startRequests, bn.start429), "n/a", "—", "—")
		row("… QQ requests per idle cycle", fmt.Sprintf("%.2f (%v)", bn.qqPerCycle, bn.qqIdle), "n/a", "1", verdict(bn.qqPerCycle > 0 && bn.qqPerCycle <= 1.005))
	}
	return b.String()
}
