package ops

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// Summary is an Observer that passes every measurement on to Next and
// counts the relays, so that the log can say at info level, once per
// period, what was relayed: counts per direction and outcome, never a
// message's content.
type Summary struct {
	Next bridge.Observer

	mu     sync.Mutex
	counts map[summaryKey]int
	polls  int
	failed int
}

type summaryKey struct {
	dir     bridge.Direction
	outcome bridge.Outcome
}

var _ bridge.Observer = (*Summary)(nil)

// Relayed implements bridge.Observer.
func (s *Summary) Relayed(dir bridge.Direction, outcome bridge.Outcome) {
	s.mu.Lock()
	if s.counts == nil {
		s.counts = map[summaryKey]int{}
	}
	s.counts[summaryKey{dir, outcome}]++
	s.mu.Unlock()
	if s.Next != nil {
		s.Next.Relayed(dir, outcome)
	}
}

// PollDone implements bridge.Observer.
func (s *Summary) PollDone(d time.Duration, err error) {
	s.mu.Lock()
	s.polls++
	if err != nil {
		s.failed++
	}
	s.mu.Unlock()
	if s.Next != nil {
		s.Next.PollDone(d, err)
	}
}

// RelayLatency implements bridge.Observer.
func (s *Summary) RelayLatency(dir bridge.Direction, d time.Duration) {
	if s.Next != nil {
		s.Next.RelayLatency(dir, d)
	}
}

// Run logs a summary at every tick in which something was relayed, until
// ctx ends. Quiet periods log nothing.
func (s *Summary) Run(ctx context.Context, tick <-chan time.Time, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
		if line, ok := s.take(); ok {
			log.Info("bridge: relayed since the last summary: " + line)
		}
	}
}

var (
	summaryDirs     = []bridge.Direction{bridge.ToDiscord, bridge.ToQQ}
	summaryDirNames = map[bridge.Direction]string{bridge.ToDiscord: "QQ Music → Discord", bridge.ToQQ: "Discord → QQ Music"}
	summaryOutcomes = []bridge.Outcome{bridge.OutcomeDelivered, bridge.OutcomeReconciled, bridge.OutcomeRetry, bridge.OutcomeFailed, bridge.OutcomeRefused}
)

// take returns the period's line and starts a new period.
func (s *Summary) take() (string, bool) {
	s.mu.Lock()
	counts, polls, failed := s.counts, s.polls, s.failed
	s.counts, s.polls, s.failed = nil, 0, 0
	s.mu.Unlock()
	if len(counts) == 0 {
		return "", false
	}
	var parts []string
	for _, d := range summaryDirs {
		var outs []string
		for _, o := range summaryOutcomes {
			if n := counts[summaryKey{d, o}]; n > 0 {
				outs = append(outs, fmt.Sprintf("%d %s", n, o))
			}
		}
		if len(outs) > 0 {
			parts = append(parts, summaryDirNames[d]+" "+strings.Join(outs, ", "))
		}
	}
	line := strings.Join(parts, "; ")
	line += fmt.Sprintf(" (%d polls, %d failed)", polls, failed)
	return line, true
}
