package bridge

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestNewSessionCreatesChannelBackfillsAndRelaysInOrder(t *testing.T) {
	for _, order := range []string{"sorted", "newest-first", "oldest-first"} {
		t.Run(order, func(t *testing.T) {
			h := newHarness(t, nil)
			h.qq.pageOrder = order
			h.qq.msgPage = 7 // several pages, overlapping
			h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea", AvatarURL: "https://a/b.png"})
			for i := 1; i <= 30; i++ {
				h.qq.peerSays("s1", fmt.Sprintf("m%d", i))
			}
			h.settle()
			ch := h.dc.sessionChannel("s1")
			if ch == "" {
				t.Fatal("no channel created for the new session")
			}
			if got, want := texts(h.dc.posted(ch)), seqTexts("m", 11, 30); got != want {
				t.Fatalf("backfill posted %s\nwant %s", got, want)
			}
			// Live messages follow, in order.
			for i := 31; i <= 45; i++ {
				h.qq.peerSays("s1", fmt.Sprintf("m%d", i))
			}
			h.settle()
			if got, want := texts(h.dc.posted(ch)), seqTexts("m", 11, 45); got != want {
				t.Fatalf("posted %s\nwant %s", got, want)
			}
			if got := h.events.kinds(); len(got) != 1 || got[0] != EventSessionBridged {
				t.Errorf("events = %v, want one session bridged", got)
			}
			st, err := h.e.Status(h.ctx)
			if err != nil || st.SessionsBridged != 1 || st.OutboxToDiscord != 0 || st.LastPoll.IsZero() {
				t.Errorf("Status = %+v, %v", st, err)
			}
		})
	}
}

func TestSameSequenceOrderedByTime(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	base := time.Unix(1700000000, 0)
	h.qq.add("s1", Message{Sequence: 5, Time: base.Add(2 * time.Second), Text: "later"})
	h.qq.add("s1", Message{Sequence: 5, Time: base.Add(time.Second), Text: "earlier"})
	h.qq.add("s1", Message{Sequence: 4, Time: base.Add(3 * time.Second), Text: "first"})
	h.settle()
	if got := texts(h.dc.posted(h.dc.sessionChannel("s1"))); got != "first,earlier,later" {
		t.Errorf("posted %s", got)
	}
}

func TestUnknownKindIsPostedNotDropped(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.add("s1", Message{Type: 99, Kind: KindUnknown, Fields: []Field{{Name: "title", Value: "a gift"}}})
	h.qq.add("s1", Message{Type: 2, Kind: KindImage, Media: &Media{URL: "https://img/x.jpg"}})
	h.settle()
	got := h.dc.posted(h.dc.sessionChannel("s1"))
	if len(got) != 2 || got[0].Kind != KindUnknown || got[0].Fields[0].Value != "a gift" || got[1].Media.URL != "https://img/x.jpg" {
		t.Errorf("posted %+v", got)
	}
}

func TestReplyReachesQQOnceAndIsNotEchoed(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "hello")
	h.settle()
	ch := h.dc.sessionChannel("s1")

	r := h.dc.memberWrites(ch, "hi Bea", "https://cdn/x.png")
	if err := h.e.HandleReply(h.ctx, r); err != nil {
		t.Fatal(err)
	}
	// The gateway delivers it twice, and a catch-up sees it again.
	if err := h.e.HandleReply(h.ctx, r); err != nil {
		t.Fatal(err)
	}
	h.e.catchUp(h.ctx, h.ctx, nil)
	h.settle()

	sent := h.qq.sent()
	if len(sent) != 1 {
		t.Fatalf("sent %d times: %+v", len(sent), sent)
	}
	want := OutgoingText{SessionID: "s1", PeerUIN: "222", Text: "hi Bea\nhttps://cdn/x.png", ClientKey: ClientKeyFor(r.MessageID, 0)}
	if sent[0] != want {
		t.Errorf("sent %+v\nwant %+v", sent[0], want)
	}
	if m := h.dc.markOf(ch, r.MessageID); m != "delivered" {
		t.Errorf("mark = %q, want delivered", m)
	}
	// The sent message came back through GetMessage: not posted again.
	h.qq.peerSays("s1", "thanks")
	h.settle()
	if got := texts(h.dc.posted(ch)); got != "hello,thanks" {
		t.Errorf("channel shows %s; the bridge's own reply must not be echoed", got)
	}
	if a, b := h.obs.count(ToQQ, OutcomeDelivered), h.obs.count(ToDiscord, OutcomeDelivered); a != 1 || b != 2 {
		t.Errorf("observer counted %d to QQ and %d to Discord, want 1 and 2", a, b)
	}
	h.obs.mu.Lock()
	defer h.obs.mu.Unlock()
	if h.obs.polls == 0 || h.obs.latencies[ToQQ] != 1 || h.obs.latencies[ToDiscord] != 2 {
		t.Errorf("observer saw %d polls, latencies %v", h.obs.polls, h.obs.latencies)
	}
}

func TestOwnerAppMessagesAreMirrored(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "hello")
	h.qq.ownerTyped("s1", "typed in the app")
	h.qq.add("s1", Message{Sender: h.qq.owner, FromOwner: true, Text: "no key at all"})
	h.settle()
	got := h.dc.posted(h.dc.sessionChannel("s1"))
	if texts(got) != "hello,typed in the app,no key at all" {
		t.Fatalf("posted %s", texts(got))
	}
	if got[0].FromOwner || !got[1].FromOwner || !got[2].FromOwner || got[1].Sender.UIN != "10000" {
		t.Errorf("owner marks wrong: %+v", got)
	}
}

func TestLongReplySplitOrRefused(t *testing.T) {
	long := strings.Repeat("word ", 30) // 149 characters once trimmed
	tests := []struct {
		name      string
		refuse    bool
		maxLen    int
		content   string
		wantSends int
		wantMark  string
	}{
		{"split", false, 60, long, 3, "delivered"},
		{"refused", true, 60, long, 0, "failed: too long for QQ Music: 149 characters"},
		{"too many parts", false, 10, long, 0, "failed: too long for QQ Music: 149 characters would need"},
		{"empty", false, 60, "   ", 0, "failed: nothing to send"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *EngineConfig) { c.RefuseLongReplies = tt.refuse; c.MaxReplyParts = 5 })
			h.qq.maxLen = tt.maxLen
			h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
			h.qq.peerSays("s1", "hello")
			h.settle()
			ch := h.dc.sessionChannel("s1")
			r := h.dc.memberWrites(ch, tt.content)
			if err := h.e.HandleReply(h.ctx, r); err != nil {
				t.Fatal(err)
			}
			h.settle()
			sent := h.qq.sent()
			if len(sent) != tt.wantSends {
				t.Fatalf("sent %d messages, want %d", len(sent), tt.wantSends)
			}
			var joined string
			for i, s := range sent {
				if n := len([]rune(s.Text)); n > tt.maxLen {
					t.Errorf("part %d has %d characters", i, n)
				}
				if s.ClientKey != ClientKeyFor(r.MessageID, i) {
					t.Errorf("part %d client key %q", i, s.ClientKey)
				}
				joined += s.Text
			}
			if tt.wantSends > 0 && joined != strings.TrimSpace(tt.content) {
				t.Errorf("parts do not add up to the reply: %q", joined)
			}
			if m := h.dc.markOf(ch, r.MessageID); !strings.HasPrefix(m, tt.wantMark) {
				t.Errorf("mark = %q, want prefix %q", m, tt.wantMark)
			}
			if got := texts(h.dc.posted(ch)); got != "hello" {
				t.Errorf("echo posted: %s", got)
			}
		})
	}
}

func TestIdleCycleCostsOneQQRequest(t *testing.T) {
	h := newHarness(t, func(c *EngineConfig) { c.Backfill = 2 })
	for i := 0; i < 100; i++ {
		id := fmt.Sprintf("s%03d", i)
		h.qq.addSession(id, Peer{UIN: fmt.Sprint(1000 + i), Nick: id})
		h.qq.peerSays(id, "hi")
	}
	h.settle()
	if n, _ := h.st.CountBridged(h.ctx); n != 100 {
		t.Fatalf("%d sessions bridged, want 100", n)
	}
	for cycle := 0; cycle < 3; cycle++ {
		before := h.qq.requestCount()
		h.step()
		if got := h.qq.requestCount() - before; got != 1 {
			t.Fatalf("idle cycle %d cost %d QQ requests, want 1", cycle, got)
		}
	}
	// One session changes: one list page plus that session's messages.
	h.qq.peerSays("s042", "news")
	before := h.qq.requestCount()
	h.step()
	if got := h.qq.requestCount() - before; got != 2 {
		t.Errorf("cycle with one change cost %d requests, want 2", got)
	}
	if got := texts(h.dc.posted(h.dc.sessionChannel("s042"))); got != "hi,news" {
		t.Errorf("s042 shows %s", got)
	}
}

func TestPollIntervalSwitchesToIdle(t *testing.T) {
	h := newHarness(t, func(c *EngineConfig) { c.PollInterval = 2 * time.Second; c.IdlePollInterval = 10 * time.Second })
	if got := h.e.interval(); got != 2*time.Second {
		t.Fatalf("interval at start = %v", got)
	}
	h.clock.Advance(4 * time.Minute)
	if got := h.e.interval(); got != 2*time.Second {
		t.Fatalf("interval after 4m = %v", got)
	}
	h.clock.Advance(time.Minute)
	if got := h.e.interval(); got != 10*time.Second {
		t.Fatalf("interval after 5m idle = %v", got)
	}
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "wake up")
	h.step()
	if got := h.e.interval(); got != 2*time.Second {
		t.Fatalf("interval after activity = %v", got)
	}
	h.clock.Advance(5 * time.Minute)
	ch := h.dc.sessionChannel("s1")
	if err := h.e.HandleReply(h.ctx, h.dc.memberWrites(ch, "a reply is activity too")); err != nil {
		t.Fatal(err)
	}
	if got := h.e.interval(); got != 2*time.Second {
		t.Fatalf("interval after a reply = %v", got)
	}
}

func TestLoginExpiryPausesAndResumesWithoutLoss(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "one")
	h.settle()
	ch := h.dc.sessionChannel("s1")

	h.qq.setLoginExpired(true)
	h.qq.peerSays("s1", "two")
	r := h.dc.memberWrites(ch, "queued while expired")
	if err := h.e.HandleReply(h.ctx, r); err != nil {
		t.Fatalf("HandleReply while expired: %v", err)
	}
	h.step()
	if got := h.events.kinds(); got[len(got)-1] != EventLoginNeeded {
		t.Fatalf("events = %v, want login needed last", got)
	}
	st, _ := h.e.Status(h.ctx)
	if !st.LoginNeeded || st.OutboxToQQ != 1 {
		t.Fatalf("Status while expired = %+v", st)
	}
	// While paused, the engine does not hammer QQ.
	before := h.qq.requestCount()
	for i := 0; i < 5; i++ {
		h.clock.Advance(time.Minute)
		h.step()
	}
	if got := h.qq.requestCount() - before; got != 0 {
		t.Errorf("%d QQ requests while login is needed, want 0", got)
	}
	h.qq.setLoginExpired(false)
	h.e.CredentialRenewed()
	h.settle()
	if got := texts(h.dc.posted(ch)); got != "one,two" {
		t.Errorf("channel shows %s", got)
	}
	if sent := h.qq.sent(); len(sent) != 1 || sent[0].Text != "queued while expired" {
		t.Errorf("sent %+v", sent)
	}
	if m := h.dc.markOf(ch, r.MessageID); m != "delivered" {
		t.Errorf("mark = %q", m)
	}
	if got := h.events.kinds(); got[len(got)-1] != EventLoginRestored {
		t.Errorf("events = %v, want login restored last", got)
	}
	if st, _ := h.e.Status(h.ctx); st.LoginNeeded {
		t.Error("still login needed after renewal")
	}
}

func TestLoginExpiryDuringSend(t *testing.T) {
	h := newHarness(t, nil)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "one")
	h.settle()
	ch := h.dc.sessionChannel("s1")
	h.qq.fail("send", fmt.Errorf("code 1000: %w", ErrLoginRequired))
	r := h.dc.memberWrites(ch, "reply")
	if err := h.e.HandleReply(h.ctx, r); err != nil {
		t.Fatal(err)
	}
	h.pass()
	if st, _ := h.e.Status(h.ctx); !st.LoginNeeded || st.OutboxToQQ != 1 {
		t.Fatalf("Status = %+v", st)
	}
	h.e.CredentialRenewed()
	h.settle()
	if sent := h.qq.sent(); len(sent) != 1 {
		t.Fatalf("sent %d, want 1", len(sent))
	}
}
