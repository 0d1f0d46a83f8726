package bridge

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
)

// TestCrashAtEveryStepLosesAndDuplicatesNothing kills the engine at each
// step boundary of each direction (the hook aborts the step with no
// further write, the engine is abandoned), starts a fresh engine on the same
// database file, and checks that every message arrived exactly once, in
// order.
func TestCrashAtEveryStepLosesAndDuplicatesNothing(t *testing.T) {
	type setup func(h *harness, ch string) (reply *Reply)
	qqSide := func(h *harness, ch string) *Reply {
		h.qq.peerSays("s1", "m4")
		h.qq.peerSays("s1", "m5")
		return nil
	}
	replySide := func(h *harness, ch string) *Reply {
		r := h.dc.memberWrites(ch, "r1")
		if err := h.e.HandleReply(h.ctx, r); err != nil {
			h.t.Fatal(err)
		}
		return &r
	}
	tests := []struct {
		name  string
		point string
		setup setup
		// lostAnswer: the remote side does the work but answers with an
		// error (a time-out) just before the crash.
		lostAnswer bool
	}{
		{"qq→discord before observe commit", "before-observe-commit", qqSide, false},
		{"qq→discord after observe commit", "after-observe-commit", qqSide, false},
		{"qq→discord before attempt recorded", "before-attempt", qqSide, false},
		{"qq→discord after attempt recorded, before post", "before-delivery", qqSide, false},
		{"qq→discord posted, not recorded", "after-delivery", qqSide, false},
		{"qq→discord posted, answer lost, not recorded", "after-delivery", qqSide, true},
		{"qq→discord channel created, not recorded", "after-ensure-channel", nil, false},
		{"discord→qq before attempt recorded", "before-attempt", replySide, false},
		{"discord→qq after attempt recorded, before send", "before-delivery", replySide, false},
		{"discord→qq sent, not recorded", "after-delivery", replySide, false},
		{"discord→qq sent, answer lost, not recorded", "after-delivery", replySide, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
			want := []string{}
			var reply *Reply
			if tt.setup == nil {
				// The crash happens while the session is new.
				h.qq.peerSays("s1", "m1")
				want = append(want, "m1")
			} else {
				for i := 1; i <= 3; i++ {
					h.qq.peerSays("s1", fmt.Sprintf("m%d", i))
				}
				h.settle()
				want = append(want, "m1", "m2", "m3")
				reply = tt.setup(h, h.dc.sessionChannel("s1"))
				if reply == nil {
					want = append(want, "m4", "m5")
				}
			}
			if tt.lostAnswer {
				h.dc.postCrash = 1
				h.qq.sendLoseAnswer = 1
			}
			h.crashAt(tt.point)
			h.step()
			if !h.fired.Load() {
				t.Fatalf("the engine never reached %q", tt.point)
			}

			h.restart()
			// Deliver before polling: reconciliation, not the echo, must
			// settle what was in flight.
			h.pass()
			h.settle()
			ch := h.dc.sessionChannel("s1")
			// Life goes on after the restart.
			h.qq.peerSays("s1", "m6")
			want = append(want, "m6")
			r2 := h.dc.memberWrites(ch, "r2")
			if err := h.e.HandleReply(h.ctx, r2); err != nil {
				t.Fatal(err)
			}
			h.settle()

			if got := texts(h.dc.posted(ch)); got != strings.Join(want, ",") {
				t.Errorf("channel shows %s\nwant        %s", got, strings.Join(want, ","))
			}
			var sent []string
			for _, s := range h.qq.sent() {
				sent = append(sent, s.Text)
			}
			wantSent := "r2"
			if reply != nil {
				wantSent = "r1,r2"
				if m := h.dc.markOf(ch, reply.MessageID); m != "delivered" {
					t.Errorf("r1 mark = %q, want delivered", m)
				}
			}
			if got := strings.Join(sent, ","); got != wantSent {
				t.Errorf("QQ received %s, want %s", got, wantSent)
			}
			if m := h.dc.markOf(ch, r2.MessageID); m != "delivered" {
				t.Errorf("r2 mark = %q, want delivered", m)
			}
			if td, tq, _ := h.st.OutboxDepth(h.ctx); td+tq != 0 {
				t.Errorf("outbox not empty: %d, %d", td, tq)
			}
		})
	}
}

// TestReplyLostBeforeCommitIsCaughtUp: the process died before HandleReply
// committed (or the gateway never delivered the event): the catch-up at the
// next start finds the reply and sends it once.
func TestReplyLostBeforeCommitIsCaughtUp(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "m1")
	h.settle()
	ch := h.dc.sessionChannel("s1")
	old := h.dc.memberWrites(ch, "handled")
	if err := h.e.HandleReply(h.ctx, old); err != nil {
		t.Fatal(err)
	}
	h.settle()
	lost := h.dc.memberWrites(ch, "never handled")
	h.restart() // runs the start-up catch-up
	h.settle()
	var sent []string
	for _, s := range h.qq.sent() {
		sent = append(sent, s.Text)
	}
	if got := strings.Join(sent, ","); got != "handled,never handled" {
		t.Errorf("QQ received %s", got)
	}
	if m := h.dc.markOf(ch, lost.MessageID); m != "delivered" {
		t.Errorf("mark = %q", m)
	}
}

// TestLostAnswerReconciledWithoutRestart: the remote did the work but the
// answer was lost; the retry finds it instead of sending again.
func TestLostAnswerReconciledWithoutRestart(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "m1")
	h.settle()
	ch := h.dc.sessionChannel("s1")
	h.dc.postCrash = 1
	h.qq.sendLoseAnswer = 1
	h.qq.peerSays("s1", "m2")
	r := h.dc.memberWrites(ch, "r1")
	if err := h.e.HandleReply(h.ctx, r); err != nil {
		t.Fatal(err)
	}
	// Deliver before the next poll, so that the reply's echo is not what
	// settles it: FindSent must.
	h.pass()
	h.clock.Advance(10 * h.e.cfg.MaxBackoff)
	h.pass()
	h.settle()
	if got := texts(h.dc.posted(ch)); got != "m1,m2" {
		t.Errorf("channel shows %s", got)
	}
	if n := len(h.qq.sent()); n != 1 {
		t.Errorf("QQ received %d sends, want 1", n)
	}
	if a, b := h.obs.count(ToQQ, OutcomeReconciled), h.obs.count(ToDiscord, OutcomeReconciled); a != 1 || b != 1 {
		t.Errorf("observer counted %d and %d reconciliations, want 1 and 1", a, b)
	}
	es, _ := h.st.Entries(h.ctx, "qq", "s1")
	if len(es) != 1 || es[0].State != "delivered" || len(es[0].RemoteIDs) != 1 {
		t.Errorf("reply entry %+v", es)
	}
}

// crashSeeds is how many random scenarios TestRandomCrashesLoseAndDuplicateNothing
// plays; raise it for a soak: go test ./bridge -run Random -crashseeds 500.
var crashSeeds = flag.Int("crashseeds", 5, "random crash scenarios to play")

// TestRandomCrashesLoseAndDuplicateNothing drives two sessions through a
// seeded random mix of QQ messages, owner messages, replies (some missed by
// the gateway), lost answers and crashes at random step boundaries, then
// checks that both channels and QQ received everything exactly once, in
// order.
func TestRandomCrashesLoseAndDuplicateNothing(t *testing.T) {
	points := []string{"before-observe-commit", "after-observe-commit", "before-attempt", "before-delivery", "after-delivery", "after-ensure-channel"}
	for seed := int64(1); seed <= int64(*crashSeeds); seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 42))
			h := newHarness(t, nil)
			h.qq.pageOrder = []string{"sorted", "newest-first", "oldest-first"}[seed%3]
			h.qq.msgPage = 3
			sessions := []string{"s1", "s2"}
			for i, s := range sessions {
				h.qq.addSession(s, Peer{UIN: fmt.Sprint(200 + i), Nick: s})
			}
			wantPosted := map[string][]string{}
			var wantSent []string
			n := 0
			crashes := 0
			for round := 0; round < 40; round++ {
				s := sessions[rng.IntN(len(sessions))]
				n++
				switch rng.IntN(4) {
				case 0, 1:
					text := fmt.Sprintf("q%d", n)
					h.qq.peerSays(s, text)
					wantPosted[s] = append(wantPosted[s], text)
				case 2:
					text := fmt.Sprintf("o%d", n)
					h.qq.ownerTyped(s, text)
					wantPosted[s] = append(wantPosted[s], text)
				case 3:
					ch := h.dc.sessionChannel(s)
					if ch == "" {
						continue
					}
					text := fmt.Sprintf("r%d", n)
					r := h.dc.memberWrites(ch, text)
					wantSent = append(wantSent, text)
					if rng.IntN(4) > 0 { // else the gateway missed it
						if err := h.e.HandleReply(h.ctx, r); err != nil {
							t.Fatal(err)
						}
					}
				}
				if rng.IntN(5) == 0 {
					h.dc.postCrash = 1
				}
				if rng.IntN(6) == 0 {
					methods := []string{"list", "messages", "send", "find"}
					h.qq.fail(methods[rng.IntN(len(methods))], errors.New("fake qq: HTTP 503"))
				}
				if rng.IntN(6) == 0 {
					h.dc.postFail = append(h.dc.postFail, errors.New("fake discord: HTTP 500"))
				}
				if rng.IntN(8) == 0 {
					h.dc.failRead = append(h.dc.failRead, errors.New("fake discord: HTTP 502"))
				}
				if rng.IntN(10) == 0 {
					h.qq.setLoginExpired(true)
				} else if rng.IntN(3) == 0 {
					h.qq.setLoginExpired(false)
					h.e.CredentialRenewed()
				}
				if rng.IntN(10) == 0 {
					h.e.Resync(h.ctx, s)
				}
				if rng.IntN(5) == 0 {
					h.qq.sendLoseAnswer = 1
				}
				if rng.IntN(3) == 0 {
					h.crashAt(points[rng.IntN(len(points))])
				}
				h.step()
				if h.fired.Load() {
					crashes++
					h.fired.Store(false)
					h.restart()
				} else {
					h.hook.Store(nil)
				}
				h.clock.Advance(time.Duration(rng.IntN(30)) * time.Second)
			}
			h.qq.setLoginExpired(false)
			h.restart()
			h.settle()
			for _, s := range sessions {
				ch := h.dc.sessionChannel(s)
				if got, want := texts(h.dc.posted(ch)), strings.Join(wantPosted[s], ","); got != want {
					t.Errorf("%s shows %s\nwant     %s", s, got, want)
				}
			}
			// Replies of one session arrive in order; across sessions the
			// order may differ.
			var sent []string
			for _, o := range h.qq.sent() {
				sent = append(sent, o.Text)
			}
			if a, b := sortedCopy(sent), sortedCopy(wantSent); a != b {
				t.Errorf("QQ received %v\nwant        %v", sent, wantSent)
				for _, s := range sessions {
					es, _ := h.st.Entries(h.ctx, "qq", s)
					for _, e := range es {
						t.Logf("%s entry %d key=%s state=%s attempts=%d err=%q remote=%v", s, e.ID, e.Key, e.State, e.Attempts, e.LastError, e.RemoteIDs)
					}
					ss, _, _ := h.st.Session(h.ctx, s)
					t.Logf("%s session %+v", s, ss)
					h.dc.mu.Lock()
					for _, dm := range h.dc.channels[ss.Channel.ChannelID].log {
						if dm.reply != nil {
							t.Logf("  reply %s %s", dm.id, dm.reply.Content)
						}
					}
					h.dc.mu.Unlock()
				}
			}
			if crashes == 0 {
				t.Log("no crash happened with this seed")
			}
		})
	}
}

func sortedCopy(s []string) string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return strings.Join(c, ",")
}

// TestCatchUpFindsReplyMissedBeforeALiveOne: during a gateway outage a
// reply is missed; after the reconnection a new reply arrives live before
// the catch-up runs. The catch-up must still find the missed one.
func TestCatchUpFindsReplyMissedBeforeALiveOne(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "m1")
	h.settle()
	h.e.catchUp(h.ctx, h.ctx, nil)
	ch := h.dc.sessionChannel("s1")
	missed := h.dc.memberWrites(ch, "written during the outage")
	live := h.dc.memberWrites(ch, "written after the reconnection")
	if err := h.e.HandleReply(h.ctx, live); err != nil {
		t.Fatal(err)
	}
	h.e.catchUp(h.ctx, h.ctx, nil) // what Resumed triggers
	h.settle()
	var sent []string
	for _, s := range h.qq.sent() {
		sent = append(sent, s.Text)
	}
	if len(sent) != 2 {
		t.Fatalf("QQ received %q, want both replies once", sent)
	}
	if m := h.dc.markOf(ch, missed.MessageID); m != "delivered" {
		t.Errorf("missed reply mark = %q", m)
	}
	// A second catch-up reads only what is new.
	s, _, _ := h.st.Session(h.ctx, "s1")
	if s.CaughtUpDiscordID != live.MessageID && !store.SnowflakeAfter(s.CaughtUpDiscordID, live.MessageID) {
		t.Errorf("catch-up watermark %q did not move past %q", s.CaughtUpDiscordID, live.MessageID)
	}
}

// TestReplyInAdoptedChannelIsCaughtUp: the bridge died after making a
// session's channel and before recording it, and a member wrote there
// before the next start adopted the channel. The live message was ignored
// (the channel was no session's yet) and the start's catch-up ran before
// the adoption; the adoption's own catch-up of the channel finds it.
func TestReplyInAdoptedChannelIsCaughtUp(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "m1")
	h.crashAt("after-ensure-channel")
	h.step()
	if !h.fired.Load() {
		t.Fatal("the engine never made the channel")
	}
	ch := h.dc.sessionChannel("s1")
	early := h.dc.memberWrites(ch, "written before the adoption")
	h.restart()
	// As Run may: the gateway's live message and the start's catch-up come
	// before the first poll adopts the channel.
	if err := h.e.HandleReply(h.ctx, early); err != nil {
		t.Fatal(err)
	}
	h.e.catchUpIfDue(h.ctx, h.ctx)
	h.settle()
	if got := texts(h.dc.posted(ch)); got != "m1" {
		t.Errorf("channel shows %s", got)
	}
	var sent []string
	for _, s := range h.qq.sent() {
		sent = append(sent, s.Text)
	}
	if got := strings.Join(sent, ","); got != "written before the adoption" {
		t.Errorf("QQ received %q", got)
	}
	if m := h.dc.markOf(ch, early.MessageID); m != "delivered" {
		t.Errorf("mark = %q, want delivered", m)
	}
}

// TestEchoSettlingReplyIsCounted: a reply whose send reached QQ but whose
// answer was lost is settled by its echo when the session is read first;
// the metrics count it as reconciled.
func TestEchoSettlingReplyIsCounted(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "m1")
	h.settle()
	ch := h.dc.sessionChannel("s1")
	h.qq.sendLoseAnswer = 1
	r := h.dc.memberWrites(ch, "r1")
	if err := h.e.HandleReply(h.ctx, r); err != nil {
		t.Fatal(err)
	}
	h.pass()                  // sent; the answer is lost
	h.qq.peerSays("s1", "m2") // the session changes: the poll reads the echo
	if err := h.e.pollOnce(h.ctx); err != nil {
		t.Fatal(err)
	}
	es, _ := h.st.Entries(h.ctx, "qq", "s1")
	if len(es) != 1 || es[0].State != "delivered" {
		t.Fatalf("the echo did not settle the reply: %+v", es)
	}
	h.settle()
	if n := len(h.qq.sent()); n != 1 {
		t.Errorf("QQ received %d sends, want 1", n)
	}
	if n := h.obs.count(ToQQ, OutcomeReconciled); n != 1 {
		t.Errorf("observer counted %d reconciled replies, want 1", n)
	}
}
