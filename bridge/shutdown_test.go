package bridge

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// slowDiscord is the fake Discord whose posts take hold, or until their
// context ends when hold is 0.
type slowDiscord struct {
	*fakeDiscord
	hold    time.Duration
	started chan struct{}
}

func (d *slowDiscord) Post(ctx context.Context, ref ChannelRef, m Rendered) ([]string, error) {
	select {
	case d.started <- struct{}{}:
	default:
	}
	if d.hold == 0 {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	select {
	case <-time.After(d.hold):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return d.fakeDiscord.Post(ctx, ref, m)
}

// TestShutdownLetsInFlightDeliveriesFinish: cancelled while a post is in
// flight, Run lets it finish and records it, within ShutdownGrace; a post
// that does not finish in time is cut, stays queued, and is delivered once
// by the next start.
func TestShutdownLetsInFlightDeliveriesFinish(t *testing.T) {
	tests := []struct {
		name  string
		hold  time.Duration // 0: the post never finishes by itself
		grace time.Duration
		// posted: the message is in Discord when Run has returned.
		posted bool
	}{
		{"finishes within the grace", 300 * time.Millisecond, 5 * time.Second, true},
		{"cut at the end of the grace", 0, 300 * time.Millisecond, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *EngineConfig) {
				c.Clock = nil
				c.PollInterval = 5 * time.Millisecond
				c.IdlePollInterval = 5 * time.Millisecond
				c.RetryBase = time.Millisecond
				c.ShutdownGrace = tc.grace
			})
			slow := &slowDiscord{fakeDiscord: h.dc, hold: tc.hold, started: make(chan struct{}, 1)}
			h.e = NewEngine(h.cfg, h.st, h.qq, slow, slog.New(h.logs))
			h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
			h.qq.peerSays("s1", "in flight")
			ctx, cancel := context.WithCancel(h.ctx)
			done := make(chan error, 1)
			go func() { done <- h.e.Run(ctx) }()
			select {
			case <-slow.started:
			case <-time.After(5 * time.Second):
				t.Fatal("no post started")
			}
			stopped := time.Now()
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v", err)
				}
			case <-time.After(tc.grace + 5*time.Second):
				t.Fatalf("Run did not return within the grace (%v) of the cancel", tc.grace)
			}
			if took := time.Since(stopped); took > tc.grace+2*time.Second {
				t.Errorf("Run took %v after the cancel, grace %v", took, tc.grace)
			}
			ch := h.dc.sessionChannel("s1")
			if got := texts(h.dc.posted(ch)); (got == "in flight") != tc.posted {
				t.Fatalf("after the stop the channel shows %q, want posted=%v", got, tc.posted)
			}
			td, _, err := h.st.OutboxDepth(h.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{true: 0, false: 1}[tc.posted]; td != want {
				t.Errorf("%d deliveries pending after the stop, want %d", td, want)
			}

			// The next start delivers what was cut, once.
			h.restart()
			h.settle()
			if got := texts(h.dc.posted(ch)); got != "in flight" {
				t.Errorf("after the restart the channel shows %q, want the message once", got)
			}
		})
	}
}
