package loadtest

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/discord"
)

// Issue 13's isolation figures: how they are run, checked and shown (the
// scenarios themselves are in isolation_test.go).

// isolationRows renders the isolation figures as rows of the table.
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

// runIsolation measures the isolation figures (isolation_test.go) into res.
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
