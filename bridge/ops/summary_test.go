package ops

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// chanHandler hands each log record's message to a channel.
type chanHandler struct{ ch chan string }

func (h chanHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h chanHandler) Handle(_ context.Context, r slog.Record) error {
	h.ch <- r.Level.String() + " " + r.Message
	return nil
}
func (h chanHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h chanHandler) WithGroup(string) slog.Handler      { return h }

type countObserver struct{ relayed, polls, latencies int }

func (c *countObserver) Relayed(bridge.Direction, bridge.Outcome)     { c.relayed++ }
func (c *countObserver) PollDone(time.Duration, error)                { c.polls++ }
func (c *countObserver) RelayLatency(bridge.Direction, time.Duration) { c.latencies++ }

func TestSummaryLogsWhatWasRelayedPerPeriod(t *testing.T) {
	next := &countObserver{}
	s := &Summary{Next: next}
	logs := make(chan string, 4)
	tick := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx, tick, slog.New(chanHandler{logs})) }()

	s.Relayed(bridge.ToDiscord, bridge.OutcomeDelivered)
	s.Relayed(bridge.ToDiscord, bridge.OutcomeDelivered)
	s.Relayed(bridge.ToQQ, bridge.OutcomeDelivered)
	s.Relayed(bridge.ToQQ, bridge.OutcomeRetry)
	s.PollDone(time.Millisecond, nil)
	s.RelayLatency(bridge.ToQQ, time.Second)
	tick <- time.Now()
	got := <-logs
	want := "INFO bridge: relayed since the last summary: QQ Music → Discord 2 delivered; Discord → QQ Music 1 delivered, 1 retry (1 polls, 0 failed)"
	if got != want {
		t.Errorf("summary:\n got %q\nwant %q", got, want)
	}
	// A quiet period logs nothing; the next busy one only its own.
	tick <- time.Now()
	s.Relayed(bridge.ToQQ, bridge.OutcomeFailed)
	tick <- time.Now()
	if got := <-logs; !strings.HasSuffix(got, "Discord → QQ Music 1 failed (0 polls, 0 failed)") {
		t.Errorf("second summary %q", got)
	}
	cancel()
	<-done
	select {
	case extra := <-logs:
		t.Errorf("a quiet period logged %q", extra)
	default:
	}
	if next.relayed != 5 || next.polls != 1 || next.latencies != 1 {
		t.Errorf("not passed on: %+v", next)
	}
}
