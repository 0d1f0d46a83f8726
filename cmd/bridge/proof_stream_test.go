package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// streamSize sizes a two-way stream.
type streamSize struct {
	sessions int
	messages int           // in total, both directions
	duration time.Duration // how long the stream takes to write
}

// stream is a two-way conversation over many sessions, written at a
// steady pace while the test breaks things: QQ peers write (qqtest
// Deliver) and a Discord member replies in the session channels
// (discordtest Type). It remembers what each side must end up with.
type stream struct {
	p     *proof
	size  streamSize
	peers []qqtest.User
	sids  []string
	chans []string
	plan  []streamEvent

	mu          sync.Mutex
	wantDiscord [][]string // per session: QQ texts, in order
	wantQQ      [][]string // per session: replies, in order
	typed       [][]discordtest.Message
}

type streamEvent struct {
	session int
	toQQ    bool // a member's reply; else a QQ peer's message
}

// newStream makes the sessions and the plan (from p's seeded generator):
// each session's first message comes from QQ, so that its channel exists;
// then directions and sessions are drawn at random.
func newStream(p *proof, size streamSize) *stream {
	s := &stream{p: p, size: size,
		wantDiscord: make([][]string, size.sessions), wantQQ: make([][]string, size.sessions),
		typed: make([][]discordtest.Message, size.sessions), chans: make([]string, size.sessions)}
	for i := range size.sessions {
		u := p.qq.AddUser(qqtest.User{Nick: fmt.Sprintf("Peer %02d", i)})
		s.peers = append(s.peers, u)
		s.sids = append(s.sids, p.qq.AddSession(u))
		s.plan = append(s.plan, streamEvent{session: i})
	}
	for len(s.plan) < size.messages {
		s.plan = append(s.plan, streamEvent{session: p.rng.IntN(size.sessions), toQQ: p.rng.IntN(2) == 0})
	}
	return s
}

// exec writes one message of the plan.
func (s *stream) exec(n int, ev streamEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev.toQQ {
		text := fmt.Sprintf("s%02d d%04d from Discord", ev.session, n)
		m := s.p.dc.Type(s.chans[ev.session], s.p.dc.AdminUserID, text)
		s.wantQQ[ev.session] = append(s.wantQQ[ev.session], text)
		s.typed[ev.session] = append(s.typed[ev.session], m)
		return
	}
	text := fmt.Sprintf("s%02d q%04d from QQ", ev.session, n)
	if _, err := s.p.qq.Deliver(s.sids[ev.session], qqtest.Text(text)); err != nil {
		panic(err) // a session the test made: cannot fail
	}
	s.wantDiscord[ev.session] = append(s.wantDiscord[ev.session], text)
}

// open writes each session's first message and waits for the channels.
func (s *stream) open(timeout time.Duration) {
	s.p.t.Helper()
	for i := range s.size.sessions {
		s.exec(i, s.plan[i])
	}
	for i, sid := range s.sids {
		s.chans[i] = s.p.channelOf(sid, timeout)
	}
}

// run writes the rest of the plan at a steady pace; it returns a channel
// closed when all is written.
func (s *stream) run() <-chan struct{} {
	done := make(chan struct{})
	rest := s.plan[s.size.sessions:]
	every := s.size.duration / time.Duration(max(len(rest), 1))
	go func() {
		defer close(done)
		start := time.Now()
		for k, ev := range rest {
			if d := time.Until(start.Add(time.Duration(k) * every)); d > 0 {
				time.Sleep(d)
			}
			s.exec(s.size.sessions+k, ev)
		}
	}()
	return done
}

// progress counts what arrived: posts in Discord, sends at QQ, replies
// marked ✅, against what must.
func (s *stream) progress() (posted, wantPosted, sent, wantSent, acked int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.size.sessions {
		posted += len(s.p.posted(s.chans[i]))
		wantPosted += len(s.wantDiscord[i])
		sent += len(s.p.sentTo(s.sids[i]))
		wantSent += len(s.wantQQ[i])
		for _, m := range s.typed[i] {
			if s.p.hasReaction(s.chans[i], m.ID, "✅") {
				acked++
			}
		}
	}
	return
}

func (s *stream) delivered() bool {
	posted, wantPosted, sent, wantSent, acked := s.progress()
	return posted >= wantPosted && sent >= wantSent && acked >= wantSent
}

func (s *stream) report() string {
	posted, wantPosted, sent, wantSent, acked := s.progress()
	var b strings.Builder
	fmt.Fprintf(&b, "to Discord %d/%d, to QQ %d/%d, ✅ %d/%d\n", posted, wantPosted, sent, wantSent, acked, wantSent)
	s.mu.Lock()
	defer s.mu.Unlock()
	lagging := 0
	for i := range s.size.sessions {
		np, ns := len(s.p.posted(s.chans[i])), len(s.p.sentTo(s.sids[i]))
		if (np != len(s.wantDiscord[i]) || ns != len(s.wantQQ[i])) && lagging < 10 {
			lagging++
			fmt.Fprintf(&b, "session %d (%s): posted %d/%d, sent %d/%d\n", i, s.sids[i], np, len(s.wantDiscord[i]), ns, len(s.wantQQ[i]))
		}
	}
	return b.String()
}

// drain waits until everything arrived, lets late duplicates or echoes
// show up, and checks: every message exactly once, in order, in the one
// channel of its session; every reply exactly once at QQ, in order,
// marked ✅ and never ❌; no ping.
func (s *stream) drain(timeout time.Duration) {
	t := s.p.t
	t.Helper()
	start := time.Now()
	s.p.waitFor("the drain", timeout, s.delivered, s.report)
	t.Logf("drained in %v", time.Since(start).Round(100*time.Millisecond))
	t.Logf("relay counts of the last run of the bridge: %v", s.p.relayCounts())
	time.Sleep(2 * time.Second)

	s.mu.Lock()
	defer s.mu.Unlock()
	var totalPosted, totalSent int
	for i := range s.size.sessions {
		if chs := s.p.channelsOf(s.sids[i]); len(chs) != 1 {
			t.Errorf("session %d has %d channels, want 1", i, len(chs))
		}
		posted := contents(s.p.posted(s.chans[i]))
		totalPosted += len(posted)
		if err := diffLists(s.wantDiscord[i], posted); err != nil {
			t.Errorf("session %d (%s), QQ to Discord: %v", i, s.sids[i], err)
		}
		var sent []string
		for _, m := range s.p.sentTo(s.sids[i]) {
			sent = append(sent, m.Meta.Content)
		}
		totalSent += len(sent)
		if err := diffLists(s.wantQQ[i], sent); err != nil {
			t.Errorf("session %d (%s), Discord to QQ: %v", i, s.sids[i], err)
		}
		for _, m := range s.typed[i] {
			if s.p.hasReaction(s.chans[i], m.ID, "❌") {
				t.Errorf("session %d: reply %q marked failed", i, m.Content)
			}
		}
	}
	if n := len(s.p.qq.Sent()); n != totalSent {
		t.Errorf("QQ received %d messages in all, %d of them in the sessions", n, totalSent)
	}
	t.Logf("%d messages relayed to Discord and %d to QQ over %d sessions", totalPosted, totalSent, s.size.sessions)
	s.p.checkNoBotPings()
}

// TestProofCrash: SIGKILLs at random moments of a two-way stream over many
// sessions; after a last start and a drain, nothing is lost, nothing is
// doubled, and each session keeps its order in both directions.
//
// CI size: 4 kills during a 200-message stream over 10 sessions. With
// -proof.full: 20 kills, 2,000 messages, 50 sessions.
func TestProofCrash(t *testing.T) {
	t.Parallel()
	size, kills, drain := streamSize{sessions: 10, messages: 200, duration: 12 * time.Second}, 4, 3*time.Minute
	if *proofFull {
		// The race-instrumented bridge relays fewer than the stream's 20
		// messages a second on two cores: the drain is long.
		size, kills, drain = streamSize{sessions: 50, messages: 2000, duration: 100 * time.Second}, 20, 10*time.Minute
	}
	p := newProof(t, 2)
	s := newStream(p, size)
	p.launch()
	s.open(60 * time.Second)

	// The bridge runs a random while, startup included, before each
	// SIGKILL, then stays down a random while (up to half a second) before
	// it starts again; the run times are scaled so that the kills spread
	// over the whole stream.
	up, down := make([]time.Duration, kills), make([]time.Duration, kills)
	var sumUp, sumDown time.Duration
	for i := range kills {
		up[i] = time.Duration(p.rng.Int64N(int64(time.Second))) + 100*time.Millisecond
		down[i] = time.Duration(p.rng.Int64N(int64(500 * time.Millisecond)))
		sumUp += up[i]
		sumDown += down[i]
	}
	for i := range up {
		up[i] = time.Duration(float64(up[i]) * float64(size.duration-sumDown) / float64(sumUp)).Round(time.Millisecond)
		down[i] = down[i].Round(time.Millisecond)
	}

	start := time.Now()
	written := s.run()
	total := map[string]int{}
	for i := range kills {
		time.Sleep(up[i])
		for k, n := range p.relayCounts() {
			total[k] += n
		}
		p.kill()
		time.Sleep(down[i])
		p.launch()
	}
	<-written
	t.Logf("%d SIGKILLs after runs of %v, down %v; the stream took %v", kills, up, down, time.Since(start).Round(100*time.Millisecond))
	s.drain(drain)
	for k, n := range p.relayCounts() {
		total[k] += n
	}
	t.Logf("relay counts summed over the runs (a run killed before /metrics answered is not counted): %v", total)
}

// TestProofFaults: a two-way stream over several sessions while about 30%
// of QQ requests fail (HTTP 5xx, time-outs that end with the connection
// cut, 2001 risk control, malformed JSON; some of them after QQ applied
// the request, so that only the answer is lost), about 20% of Discord
// requests get a 429 or a 5xx, and the gateway drops periodically while
// the member keeps replying. The faults last until everything arrived or
// for at most 5 s after the last message (20 s at full size); after
// the drain that follows (the bridge's back-offs running out), everything
// must be there exactly once, in order.
//
// CI size: 8 sessions, 160 messages over 15 s, 1 s QQ time-outs, a gateway
// drop every 3 s. With -proof.full: 30 sessions, 600 messages over 60 s,
// 3 s time-outs, a drop every 10 s.
func TestProofFaults(t *testing.T) {
	t.Parallel()
	size, stall, dropEvery, faultTail := streamSize{sessions: 8, messages: 160, duration: 15 * time.Second}, time.Second, 3*time.Second, 5*time.Second
	if *proofFull {
		size, stall, dropEvery, faultTail = streamSize{sessions: 30, messages: 600, duration: 60 * time.Second}, 3*time.Second, 10*time.Second, 20*time.Second
	}
	p := newProof(t, 3)
	// The four kinds weigh the same; half of the 5xx, time-outs and
	// malformed answers come after QQ applied the request.
	p.qq.SetRandomFaultMix(0.30, p.seed,
		qqtest.Fault{Kind: qqtest.RateLimited},
		qqtest.Fault{Kind: qqtest.HTTP5xx, Code: 502},
		qqtest.Fault{Kind: qqtest.HTTP5xx, Code: 503, AfterApply: true},
		qqtest.Fault{Kind: qqtest.Timeout, Delay: stall, Cut: true},
		qqtest.Fault{Kind: qqtest.Timeout, Delay: stall, Cut: true, AfterApply: true},
		qqtest.Fault{Kind: qqtest.RateLimited},
		qqtest.Fault{Kind: qqtest.Malformed},
		qqtest.Fault{Kind: qqtest.Malformed, AfterApply: true},
	)
	p.dc.SetRandomFaults(0.20, p.seed, 300*time.Millisecond, 429, 429, 500, 502, 503)
	s := newStream(p, size)
	p.launch()
	s.open(90 * time.Second)

	stopDrops := make(chan struct{})
	drops := 0
	var dropsDone sync.WaitGroup
	dropsDone.Add(1)
	go func() {
		defer dropsDone.Done()
		tick := time.NewTicker(dropEvery)
		defer tick.Stop()
		for {
			select {
			case <-stopDrops:
				return
			case <-tick.C:
				p.dc.DropGateway()
				drops++
			}
		}
	}()
	start := time.Now()
	<-s.run()
	// The faults last until everything arrived, or at most faultTail
	// beyond the last message; then they stop, and the drain is the bridge
	// retrying what is still due.
	for end := time.Now().Add(faultTail); time.Now().Before(end) && !s.delivered(); {
		time.Sleep(200 * time.Millisecond)
	}
	p.qq.ClearFaults()
	p.dc.SetRandomFaults(0, 0, 0)
	close(stopDrops)
	dropsDone.Wait()
	posted, wantPosted, sent, wantSent, _ := s.progress()
	t.Logf("faults on for %v: by then %d/%d messages had reached Discord and %d/%d QQ; the gateway dropped %d times",
		time.Since(start).Round(100*time.Millisecond), posted, wantPosted, sent, wantSent, drops)
	defer func() {
		t.Logf("%d gateway sessions started; Discord answered %d requests, %d of them 429; QQ requests by method: %v",
			p.dc.TotalGatewayConnections(), len(p.dc.Requests()), p.dc.Count429(), p.qq.Counts())
	}()
	s.drain(4 * time.Minute)
}
