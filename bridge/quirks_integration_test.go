package bridge_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// allQuirks is every way the double can break the poll's assumptions.
var allQuirks = qqtest.Quirks{
	CoarseSortTime: true, LazySortTimeEvery: 4, NoSequenceEvery: 5, ZeroSequenceEvery: 7,
	RecreateResetsSequence: true, RepeatPageEdge: true,
}

// waitPoll returns once a poll has completed after the call.
func (w *world) waitPoll() {
	w.t.Helper()
	n := w.obs.polls.Load()
	w.eventually("a poll", func() bool { return w.obs.polls.Load() > n })
}

func (w *world) deliver(sid, text string) {
	w.t.Helper()
	if _, err := w.qq.Deliver(sid, qqtest.Text(text)); err != nil {
		w.t.Fatal(err)
	}
}

// notices are the bridge's own (not webhook) messages in a channel.
func (w *world) notices(chID string) []string {
	var out []string
	for _, m := range w.dc.Messages(chID) {
		if m.WebhookID == "" {
			out = append(out, m.Content)
		}
	}
	return out
}

// The "done when": with every quirk on, 500 messages over 20
// sessions, in bursts where 2-3 sessions change within the same second
// right after a poll, one session deleted and re-created mid-stream, both
// page orders: every message reaches Discord exactly once, in each
// session's order.
func TestIntegrationEveryMessageOnceUnderAllQuirks(t *testing.T) {
	for _, newestFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("newestFirst=%v", newestFirst), func(t *testing.T) {
			w := newWorld(t, qqtest.WithPageOrder(newestFirst), qqtest.WithMaxPageSizes(20, 4))
			w.qq.SetQuirks(allQuirks)
			rng := rand.New(rand.NewPCG(14, uint64(len(t.Name()))))
			const sessions, total = 20, 500
			sids := make([]string, sessions)
			want := make([][]string, sessions)
			for i := range sids {
				sids[i] = w.qq.AddSession(w.qq.AddUser(qqtest.User{Nick: fmt.Sprintf("peer%02d", i)}))
			}
			recreated := 7
			sent := 0
			for sent < total {
				w.waitPoll()
				// A burst right after a poll: 2-3 sessions, 1-4 messages
				// each, within the same second.
				for range 2 + rng.IntN(2) {
					i := rng.IntN(sessions)
					for range 1 + rng.IntN(4) {
						if sent == total {
							break
						}
						text := fmt.Sprintf("s%02d-%03d", i, sent)
						w.deliver(sids[i], text)
						want[i] = append(want[i], text)
						sent++
					}
				}
				if sent >= total/2 && recreated >= 0 && len(want[recreated]) > 0 {
					// The peer deletes the conversation once what it had is
					// in Discord, and writes again: sequences restart at 1.
					i := recreated
					w.eventually("the session to be relayed before its deletion", func() bool {
						ch, ok := w.channelOf(sids[i])
						return ok && len(w.posted(ch.ID)) == len(want[i])
					})
					if err := w.qq.DeleteSession(sids[i]); err != nil {
						t.Fatal(err)
					}
					for range 2 {
						text := fmt.Sprintf("s%02d-%03d", i, sent)
						w.deliver(sids[i], text)
						want[i] = append(want[i], text)
						sent++
					}
					recreated = -1
				}
			}
			for i, sid := range sids {
				if len(want[i]) == 0 {
					continue
				}
				w.eventually(fmt.Sprintf("session %d's %d messages", i, len(want[i])), func() bool {
					ch, ok := w.channelOf(sid)
					return ok && len(w.posted(ch.ID)) >= len(want[i])
				})
			}
			// Let a few more polls pass: nothing may arrive twice.
			for range 3 {
				w.waitPoll()
			}
			w.eventually("an empty outbox", func() bool {
				st, err := w.engine.Status(context.Background())
				return err == nil && st.OutboxToDiscord == 0
			})
			for i, sid := range sids {
				if len(want[i]) == 0 {
					continue
				}
				ch, _ := w.channelOf(sid)
				if got := contents(w.posted(ch.ID)); got != strings.Join(want[i], "|") {
					t.Errorf("session %d: Discord shows\n%s\nwant\n%s", i, got, strings.Join(want[i], "|"))
				}
				notices := w.notices(ch.ID)
				restarts := 0
				for _, n := range notices {
					if strings.Contains(n, "deleted and started again") {
						restarts++
					}
				}
				if wantN := map[bool]int{true: 1, false: 0}[i == 7]; restarts != wantN {
					t.Errorf("session %d: %d re-creation notices (%q), want %d", i, restarts, notices, wantN)
				}
			}
		})
	}
}

// With every quirk on, an idle cycle at 100 sessions still costs one
// request.
func TestIntegrationIdleCostUnderAllQuirks(t *testing.T) {
	w := newWorld(t)
	w.qq.SetQuirks(allQuirks)
	for i := range 100 {
		w.deliver(w.qq.AddSession(w.qq.AddUser(qqtest.User{Nick: fmt.Sprintf("peer%03d", i)})), "hi")
	}
	w.eventually("100 bridged sessions", func() bool {
		st, err := w.engine.Status(context.Background())
		return err == nil && st.SessionsBridged == 100 && st.OutboxToDiscord == 0
	})
	w.waitPoll()
	w.waitPoll()
	w.qq.ResetCounts()
	start := w.obs.polls.Load()
	w.eventually("ten idle polls", func() bool { return w.obs.polls.Load() >= start+10 })
	polls := w.obs.polls.Load() - start
	counts := w.qq.Counts()
	total := 0
	for _, n := range counts {
		total += n
	}
	if int64(total) < polls-1 || int64(total) > polls+1 || counts["GetSessionList"] != total {
		t.Errorf("%d idle polls cost %d QQ requests (%v), want one GetSessionList each", polls, total, counts)
	}
}
