package bridge

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
)

// rerenderingDiscord renders every call differently (as a new bridge
// version, or changed data, would): a retry or a reconciliation that
// rendered again would post or look for something else.
type rerenderingDiscord struct {
	*fakeDiscord
	mu      sync.Mutex
	renders int
	posted  []Rendered
	looked  []Rendered
}

func (d *rerenderingDiscord) Render(m Message) (Rendered, error) {
	d.mu.Lock()
	d.renders++
	m.Text += fmt.Sprintf(" (v%d)", d.renders)
	d.mu.Unlock()
	return d.fakeDiscord.Render(m)
}

func (d *rerenderingDiscord) Post(ctx context.Context, ref ChannelRef, r Rendered) ([]string, error) {
	d.mu.Lock()
	d.posted = append(d.posted, r)
	d.mu.Unlock()
	return d.fakeDiscord.Post(ctx, ref, r)
}

func (d *rerenderingDiscord) FindPosted(ctx context.Context, ref ChannelRef, afterID string, r Rendered) ([]string, bool, error) {
	d.mu.Lock()
	d.looked = append(d.looked, r)
	d.mu.Unlock()
	return d.fakeDiscord.FindPosted(ctx, ref, afterID, r)
}

// TestRetryUsesTheRecordedRendering: what the first attempt sent is
// recorded with it; after a lost answer and a restart, the reconciliation
// looks for those bytes and the message shows once, as first rendered.
func TestRetryUsesTheRecordedRendering(t *testing.T) {
	h := newHarness(t, nil)
	rd := &rerenderingDiscord{fakeDiscord: h.dc}
	h.e = NewEngine(h.cfg, h.st, h.qq, rd, slog.New(h.logs))
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "m1")
	h.settle()
	ch := h.dc.sessionChannel("s1")

	h.dc.postCrash = 1 // posted, answer lost
	h.qq.peerSays("s1", "m2")
	h.step()
	if len(rd.posted) != 2 {
		t.Fatalf("%d posts, want 2", len(rd.posted))
	}
	// A new process, whose rendering differs.
	h.st.Close()
	h.start()
	h.e = NewEngine(h.cfg, h.st, h.qq, rd, slog.New(h.logs))
	h.e.requestCatchUp()
	h.clock.Advance(10 * h.e.cfg.MaxBackoff)
	h.settle()

	if got := texts(h.dc.posted(ch)); got != "m1 (v1),m2 (v2)" {
		t.Errorf("channel shows %s, want each message once as first rendered", got)
	}
	if rd.renders != 2 {
		t.Errorf("%d renderings, want 2 (one per message, never again)", rd.renders)
	}
	if len(rd.looked) != 1 || !bytes.Equal(rd.looked[0], rd.posted[1]) {
		t.Errorf("reconciliation looked for %q, want the recorded %q", rd.looked, rd.posted[1])
	}
	if len(rd.posted) != 2 {
		t.Errorf("%d posts, want 2 (no second post of m2)", len(rd.posted))
	}
}
