package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
)

func TestFaultsBackOffAndRecover(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "one")
	fiveXX := errors.New("fake qq: HTTP 502 Bad Gateway")
	h.qq.fail("list", fiveXX, fiveXX, fmt.Errorf("code 104604: %w", ErrRateLimited), errors.New("malformed reply: unexpected end of JSON input"))
	for i := 0; i < 4; i++ {
		if err := h.e.pollOnce(h.ctx); err == nil {
			t.Fatalf("poll %d succeeded despite a fault", i)
		}
	}
	if d := h.e.pollBackoff(fmt.Errorf("x: %w", ErrRateLimited)); d < h.e.cfg.PollInterval {
		t.Errorf("rate-limit back-off %v is shorter than the poll interval", d)
	}
	if w := h.logs.warnCount(); w != 1 {
		t.Errorf("%d warnings for one streak of poll failures, want 1", w)
	}
	// Discord fails twice: the delivery is retried later, in order.
	h.dc.postFail = []error{errors.New("discord 503"), errors.New("discord 500")}
	h.qq.peerSays("s1", "two")
	h.step()
	if got := h.dc.posted(h.dc.sessionChannel("s1")); len(got) != 0 {
		t.Fatalf("posted %s despite failures", texts(got))
	}
	es, _ := h.st.Entries(h.ctx, store.ToDiscord, "s1")
	if es[0].LastError == "" || !es[0].NextAttemptAt.After(h.clock.Now()) {
		t.Errorf("no back-off recorded: %+v", es[0])
	}
	h.settle()
	if got := texts(h.dc.posted(h.dc.sessionChannel("s1"))); got != "one,two" {
		t.Errorf("posted %s", got)
	}
	st, _ := h.e.Status(h.ctx)
	if st.Errors < 6 || st.LastError == "" {
		t.Errorf("Status = %+v, want errors counted", st)
	}
}

func TestSessionFailureDoesNotBlockOthers(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "1", Nick: "A"})
	h.qq.addSession("s2", Peer{UIN: "2", Nick: "B"})
	h.qq.peerSays("s1", "a")
	h.qq.peerSays("s2", "b")
	h.qq.fail("messages", errors.New("timeout"))
	h.step()
	h.step()
	posted := len(h.dc.posted(h.dc.sessionChannel("s1"))) + len(h.dc.posted(h.dc.sessionChannel("s2")))
	if posted != 1 {
		t.Fatalf("%d messages posted; the healthy session must go on while the other backs off", posted)
	}
	h.settle()
	if texts(h.dc.posted(h.dc.sessionChannel("s1"))) != "a" || texts(h.dc.posted(h.dc.sessionChannel("s2"))) != "b" {
		t.Error("a session was lost after its failure")
	}
}

func TestGiveUpAfterMaxAttempts(t *testing.T) {
	h := newHarness(t, func(c *EngineConfig) { c.MaxAttempts = 3 })
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "one")
	h.settle()
	ch := h.dc.sessionChannel("s1")
	// A failure that changed nothing (transient), again and again: after
	// MaxAttempts the reply is parked, never dropped. (A refusal for good,
	// such as QQ's 20261, parks at once: see states_test.go.)
	bad := errors.New("fake qq: dial tcp: connection refused")
	h.qq.fail("send", bad, bad, bad)
	r := h.dc.memberWrites(ch, "doomed")
	h.e.HandleReply(h.ctx, r)
	r2 := h.dc.memberWrites(ch, "fine")
	h.e.HandleReply(h.ctx, r2)
	h.settle()
	if m := h.dc.markOf(ch, r.MessageID); !strings.Contains(m, "gave up after 3 attempts") {
		t.Errorf("mark of the failed reply = %q", m)
	}
	if sent := h.qq.sent(); len(sent) != 1 || sent[0].Text != "fine" {
		t.Errorf("sent %+v", sent)
	}
	if m := h.dc.markOf(ch, r2.MessageID); m != "delivered" {
		t.Errorf("mark of the next reply = %q", m)
	}
	if es := h.outboxOf("s1"); len(es) != 1 || es[0].Status != StatusParked || es[0].Summary != "reply: doomed" {
		t.Errorf("/outbox = %+v, want the reply parked", es)
	}
}

func TestDeletedChannelIsRecreated(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "one")
	h.settle()
	old := h.dc.sessionChannel("s1")
	h.dc.deleteChannel(old)
	h.qq.peerSays("s1", "two")
	h.settle()
	ch := h.dc.sessionChannel("s1")
	if ch == "" || ch == old {
		t.Fatal("channel not recreated")
	}
	if got := texts(h.dc.posted(ch)); got != "two" {
		t.Errorf("new channel shows %s", got)
	}
}

func TestPeerRenameRenamesChannel(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "one")
	h.settle()
	n := h.dc.ensures
	h.qq.mu.Lock()
	h.qq.sessions["s1"].s.Peer.Nick = "Beatrice"
	h.qq.mu.Unlock()
	h.qq.peerSays("s1", "two")
	h.settle()
	h.qq.peerSays("s1", "three")
	h.settle()
	if h.dc.ensures != n+1 {
		t.Errorf("EnsureChannel called %d times after a rename, want once", h.dc.ensures-n)
	}
	if name := h.dc.channels[h.dc.sessionChannel("s1")].ref.Name; name != "Beatrice" {
		t.Errorf("channel name %q", name)
	}
}

func TestResyncFillsGapsWithoutDuplicates(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	for i := 1; i <= 5; i++ {
		h.qq.add("s1", Message{Sequence: int64(i * 10), Text: fmt.Sprint(i * 10)})
	}
	h.settle()
	// A message the server surfaced late, below the cursor: polling cannot
	// see it, Resync does.
	h.qq.add("s1", Message{Sequence: 25, Text: "25"})
	h.settle()
	ch := h.dc.sessionChannel("s1")
	if got := texts(h.dc.posted(ch)); got != "10,20,30,40,50" {
		t.Fatalf("before resync: %s", got)
	}
	n, err := h.e.Resync(h.ctx, "s1")
	if err != nil || n != 1 {
		t.Fatalf("Resync = %d, %v; want 1", n, err)
	}
	if n, err := h.e.Resync(h.ctx, "s1"); err != nil || n != 0 {
		t.Fatalf("second Resync = %d, %v; want 0", n, err)
	}
	h.settle()
	if got := texts(h.dc.posted(ch)); got != "10,20,30,40,50,25" {
		t.Errorf("after resync: %s", got)
	}
	if _, err := h.e.Resync(h.ctx, "nope"); !errors.Is(err, ErrUnknownSession) {
		t.Errorf("Resync of an unknown session: %v", err)
	}
}

func TestPauseStopsPollingAndDelivery(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "one")
	h.settle()
	ch := h.dc.sessionChannel("s1")
	h.e.Pause()
	h.qq.peerSays("s1", "two")
	if err := h.e.HandleReply(h.ctx, h.dc.memberWrites(ch, "queued")); err != nil {
		t.Fatal(err)
	}
	before := h.qq.requestCount()
	h.step()
	if h.qq.requestCount() != before || len(h.qq.sent()) != 0 {
		t.Fatal("the engine talked to QQ while paused")
	}
	if st, _ := h.e.Status(h.ctx); !st.Paused || st.OutboxToQQ != 1 {
		t.Errorf("Status = %+v", st)
	}
	h.e.Resume()
	h.settle()
	if got := texts(h.dc.posted(ch)); got != "one,two" || len(h.qq.sent()) != 1 {
		t.Errorf("after resume: %s, sent %d", got, len(h.qq.sent()))
	}
}

func TestSplitText(t *testing.T) {
	tests := []struct {
		in    string
		limit int
		want  []string
	}{
		{"abcdef", 3, []string{"abc", "def"}},
		{"hello world again", 12, []string{"hello world ", "again"}},
		{"line one\nline two", 10, []string{"line one\n", "line two"}},
		{"日本語のテキスト", 3, []string{"日本語", "のテキ", "スト"}},
	}
	for _, tt := range tests {
		got := splitText(tt.in, tt.limit)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("splitText(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
		}
	}
}

func TestRunRelaysAndStopsOnCancel(t *testing.T) {
	h := newHarness(t, func(c *EngineConfig) {
		c.Clock = nil
		c.PollInterval = 5 * time.Millisecond
		c.IdlePollInterval = 5 * time.Millisecond
		c.RetryBase = time.Millisecond
	})
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "one")
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- h.e.Run(ctx) }()
	waitFor(t, func() bool { return texts(h.dc.posted(h.dc.sessionChannel("s1"))) == "one" })
	ch := h.dc.sessionChannel("s1")
	r := h.dc.memberWrites(ch, "answer")
	if err := h.e.HandleReply(h.ctx, r); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return h.dc.markOf(ch, r.MessageID) == "delivered" })
	// A reply written while the gateway was down is caught up on Resumed.
	r2 := h.dc.memberWrites(ch, "missed by the gateway")
	h.e.Resumed(h.ctx)
	waitFor(t, func() bool { return h.dc.markOf(ch, r2.MessageID) == "delivered" })
	h.qq.peerSays("s1", "two")
	waitFor(t, func() bool { return texts(h.dc.posted(ch)) == "one,two" })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if sent := h.qq.sent(); len(sent) != 2 {
		t.Errorf("sent %d, want 2", len(sent))
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// panickyQQ panics on its first session-list call, as a buggy adapter
// meeting a hostile reply might.
type panickyQQ struct {
	*fakeQQ
	once sync.Once
}

func (p *panickyQQ) ChangedSessions(ctx context.Context, since int64) ([]Session, error) {
	p.once.Do(func() { panic("index out of range [3] with length 3") })
	return p.fakeQQ.ChangedSessions(ctx, since)
}

func TestAdapterPanicBecomesAnError(t *testing.T) {
	h := newHarness(t, nil)
	h.e = NewEngine(h.cfg, h.st, &panickyQQ{fakeQQ: h.qq}, h.dc, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "one")
	if err := h.e.pollOnce(h.ctx); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("pollOnce = %v, want the panic as an error", err)
	}
	h.settle()
	if got := texts(h.dc.posted(h.dc.sessionChannel("s1"))); got != "one" {
		t.Errorf("posted %s", got)
	}
}

func TestDeletedChannelRecreatedEvenWithoutTypedError(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "one")
	h.settle()
	old := h.dc.sessionChannel("s1")
	h.dc.deleteChannel(old)
	// The adapter reports the loss as a plain error.
	gone := errors.New("discord: HTTP 404 Not Found, {\"message\": \"Unknown Channel\", \"code\": 10003}")
	h.dc.postFail = []error{gone, gone, gone}
	h.qq.peerSays("s1", "two")
	h.settle()
	ch := h.dc.sessionChannel("s1")
	if ch == "" || ch == old {
		t.Fatal("channel not recreated")
	}
	if got := texts(h.dc.posted(ch)); got != "two" {
		t.Errorf("new channel shows %s", got)
	}
}

func TestBackfillZeroRelaysOnlyLiveMessages(t *testing.T) {
	h := newHarness(t, func(c *EngineConfig) { c.Backfill = 0 })
	h.qq.addSession("old", Peer{UIN: "1", Nick: "Old"})
	for i := 1; i <= 5; i++ {
		h.qq.peerSays("old", fmt.Sprintf("history%d", i)) // written in 2023
	}
	h.settle()
	ch := h.dc.sessionChannel("old")
	if ch == "" {
		t.Fatal("no channel for the session")
	}
	if got := h.dc.posted(ch); len(got) != 0 {
		t.Fatalf("history posted with backfill 0: %s", texts(got))
	}
	h.qq.add("old", Message{Text: "live", Time: h.clock.Now()})
	// A session that appears while the bridge runs: its first message is
	// live, not history.
	h.qq.addSession("new", Peer{UIN: "2", Nick: "New"})
	h.qq.add("new", Message{Text: "hello", Time: h.clock.Now()})
	h.settle()
	if got := texts(h.dc.posted(ch)); got != "live" {
		t.Errorf("old session shows %s", got)
	}
	if got := texts(h.dc.posted(h.dc.sessionChannel("new"))); got != "hello" {
		t.Errorf("new session shows %s", got)
	}
	// Resync does not bring the skipped history back.
	if n, err := h.e.Resync(h.ctx, "old"); err != nil || n != 0 {
		t.Errorf("Resync = %d, %v", n, err)
	}
}

func TestLiveMessagesBeyondBackfillAreRelayed(t *testing.T) {
	h := newHarness(t, func(c *EngineConfig) { c.Backfill = 2 })
	h.qq.addSession("s1", Peer{UIN: "1", Nick: "A"})
	for i := 1; i <= 4; i++ {
		h.qq.peerSays("s1", fmt.Sprintf("old%d", i))
	}
	for i := 1; i <= 3; i++ {
		h.qq.add("s1", Message{Text: fmt.Sprintf("live%d", i), Time: h.clock.Now()})
	}
	h.settle()
	if got := texts(h.dc.posted(h.dc.sessionChannel("s1"))); got != "live1,live2,live3" {
		t.Errorf("posted %s; the live messages must all be relayed", got)
	}
}

func TestCorruptDatabaseStopsRun(t *testing.T) {
	h := newHarness(t, func(c *EngineConfig) { c.Clock = nil; c.PollInterval = 5 * time.Millisecond })
	done := make(chan error, 1)
	go func() { done <- h.e.Run(h.ctx) }()
	waitFor(t, func() bool { st, _ := h.e.Status(h.ctx); return !st.LastPoll.IsZero() })
	// What the store returns when SQLite reports SQLITE_CORRUPT mid-run.
	h.e.fault("store", fmt.Errorf("%w: bridge.db: database disk image is malformed", store.ErrCorrupt))
	select {
	case err := <-done:
		if !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("Run = %v, want ErrCorrupt", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run went on with a corrupt database")
	}
}

func TestMarkRetriedAfterDiscordFailure(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "one")
	h.settle()
	ch := h.dc.sessionChannel("s1")
	h.dc.failMark = 3
	r := h.dc.memberWrites(ch, "hi")
	if err := h.e.HandleReply(h.ctx, r); err != nil {
		t.Fatal(err)
	}
	h.pass()
	h.pass() // too early: backing off, no new try
	if h.dc.failMark != 2 {
		t.Fatalf("%d mark attempts, want 1 before the back-off ends", 3-h.dc.failMark)
	}
	for i := 0; i < 5 && h.dc.markOf(ch, r.MessageID) == ""; i++ {
		h.clock.Advance(time.Hour)
		h.pass()
	}
	if m := h.dc.markOf(ch, r.MessageID); m != "delivered" {
		t.Errorf("mark = %q after Discord recovered", m)
	}
	if len(h.qq.sent()) != 1 {
		t.Errorf("a failed mark made the reply go again")
	}
}

func TestEchoWithoutClientKeyRecognisedByID(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.stripClientKeys = true
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "hello")
	h.settle()
	ch := h.dc.sessionChannel("s1")
	if err := h.e.HandleReply(h.ctx, h.dc.memberWrites(ch, "hi")); err != nil {
		t.Fatal(err)
	}
	h.settle()
	h.qq.peerSays("s1", "bye")
	h.settle()
	if got := texts(h.dc.posted(ch)); got != "hello,bye" {
		t.Errorf("channel shows %s; the reply came back as a duplicate", got)
	}
}

// A reply written while the bridge was away is found by the catch-up after
// newer replies were already queued live: QQ still gets them in the order
// members wrote them.
func TestRepliesReachQQInWrittenOrderAfterCatchUp(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "hello")
	h.settle()
	ch := h.dc.sessionChannel("s1")

	// Written while the bridge was away: only the history knows it.
	h.dc.memberWrites(ch, "written while away")
	// After the reconnect, a newer reply arrives live before the catch-up.
	h.e.Resumed(h.ctx)
	late := h.dc.memberWrites(ch, "written after the reconnect")
	if err := h.e.HandleReply(h.ctx, late); err != nil {
		t.Fatal(err)
	}
	// A delivery pass before the catch-up must not send the newer reply.
	h.pass()
	if n := len(h.qq.sent()); n != 0 {
		t.Fatalf("sent %d replies before the catch-up", n)
	}
	h.settle()
	sent := h.qq.sent()
	if len(sent) != 2 || sent[0].Text != "written while away" || sent[1].Text != "written after the reconnect" {
		t.Fatalf("QQ received %+v, want the replies in the order they were written", sent)
	}
}

// TestRateLimitPauseFollowsTheStreakNotTheAttempts: a 2001 pauses every
// QQ send for a time that grows with the refusals in a row, not with a
// reply's earlier failures of other kinds; an accepted send ends the
// streak.
func TestRateLimitPauseFollowsTheStreakNotTheAttempts(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "m1")
	h.settle()
	ch := h.dc.sessionChannel("s1")
	fiveXX := errors.New("HTTP 502")
	limited := fmt.Errorf("code 2001: %w", ErrRateLimited)
	h.qq.fail("send", fiveXX, fiveXX, fiveXX, fiveXX, limited)
	if err := h.e.HandleReply(h.ctx, h.dc.memberWrites(ch, "r1")); err != nil {
		t.Fatal(err)
	}
	pause := func() time.Duration {
		h.e.mu.Lock()
		defer h.e.mu.Unlock()
		return h.e.qqSendUntil.Sub(h.e.now())
	}
	for range 5 {
		h.pass()
		h.clock.Advance(10 * time.Minute)
	}
	// One refusal in a row: at most backoff(3), whatever the 4 earlier 5xx.
	if p, most := pause()+10*time.Minute, 4*h.e.cfg.RetryBase; p > most || p <= 0 {
		t.Fatalf("paused %v after the first 2001, want at most %v", p, most)
	}
	h.settle()
	if n := len(h.qq.sent()); n != 1 {
		t.Fatalf("QQ received %d sends, want 1", n)
	}
	h.e.mu.Lock()
	streak := h.e.qqLimitStreak
	h.e.mu.Unlock()
	if streak != 0 {
		t.Errorf("an accepted send left a streak of %d", streak)
	}
}
