package admin

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

func TestOutboxCommandListsPerSessionOldestFirst(t *testing.T) {
	h := newHarness(t, true, nil)
	t0 := time.Unix(1700000000, 0)
	h.eng.sessions = []bridge.BridgedSession{{ID: "s1", ChannelID: "555"}, {ID: "s2", ChannelID: "666"}}
	h.eng.outbox = []bridge.OutboxEntry{
		{ID: 3, SessionID: "s2", ChannelID: "666", Peer: bridge.Peer{UIN: "2", Nick: "Cy"}, Direction: bridge.ToDiscord, Status: bridge.StatusParked,
			Attempts: 1, Reason: "discord: 400 Bad Request: Invalid Form Body", Summary: "Cy: poison", CreatedAt: t0},
		{ID: 5, SessionID: "s1", ChannelID: "555", Peer: bridge.Peer{UIN: "1", Nick: "Bea"}, Direction: bridge.ToQQ, Status: bridge.StatusAmbiguous,
			Attempts: 2, Reason: "502 Bad Gateway", Summary: "reply: hello", CreatedAt: t0.Add(time.Minute)},
		{ID: 9, SessionID: "s2", ChannelID: "666", Peer: bridge.Peer{UIN: "2", Nick: "Cy"}, Direction: bridge.ToQQ, Status: bridge.StatusPending,
			Attempts: 3, Reason: "connection refused", Summary: "reply: later", CreatedAt: t0.Add(2 * time.Minute), NextAttemptAt: t0.Add(time.Hour)},
	}
	r := h.ch.invoke(t, cmd("outbox", nil))
	got := r.answer()
	if !r.ephemeral[0] {
		t.Error("/outbox is not ephemeral")
	}
	for _, want := range []string{
		"(3; oldest first)",
		"**<#666> · Cy (2)**\n`#3` ⛔ parked · to Discord · <t:1700000000:R> · Cy: poison · 1 attempt(s)\n  ↳ discord: 400 Bad Request: Invalid Form Body\n`#9` 🔁 retrying (next <t:1700003600:R>) · to QQ Music",
		"**<#555> · Bea (1)**\n`#5` ❔ may have arrived; checking before another try · to QQ Music",
		"`/retry entry:N`",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("/outbox lacks %q:\n%s", want, got)
		}
	}
	if strings.Index(got, "<#666>") > strings.Index(got, "<#555>") {
		t.Errorf("the session with the oldest entry is not first:\n%s", got)
	}
	got = h.ch.invoke(t, cmd("outbox", map[string]string{"session": "555"})).answer()
	if !strings.Contains(got, "#5") || strings.Contains(got, "#3") {
		t.Errorf("/outbox session:555:\n%s", got)
	}
	h.eng.outbox = nil
	if got := h.ch.invoke(t, cmd("outbox", nil)).answer(); !strings.Contains(got, "Nothing is stuck or parked") {
		t.Errorf("empty outbox: %q", got)
	}
}

func TestOutboxCommandStaysUnderDiscordsLimit(t *testing.T) {
	h := newHarness(t, true, nil)
	for i := range 100 {
		h.eng.outbox = append(h.eng.outbox, bridge.OutboxEntry{ID: int64(i + 1), SessionID: fmt.Sprint("s", i%7), ChannelID: fmt.Sprint(500 + i%7),
			Status: bridge.StatusParked, Reason: strings.Repeat("why ", 60), Summary: strings.Repeat("x", 200)})
	}
	got := h.ch.invoke(t, cmd("outbox", nil)).answer()
	if n := len([]rune(got)); n > 2000 || !strings.Contains(got, "more: `/outbox session:`") {
		t.Errorf("answer of %d characters:\n%s", n, got)
	}
}

func TestRetryAndSkipCommands(t *testing.T) {
	h := newHarness(t, true, nil)
	h.eng.sessions = []bridge.BridgedSession{{ID: "s1", ChannelID: "555"}}
	h.eng.actN = 1
	tests := []struct {
		name   string
		cmd    string
		opts   map[string]string
		action string // what the engine was asked, "" for nothing
		answer string
		public bool
	}{
		{"retry an entry", "retry", map[string]string{"entry": "7"}, "retry 7", "<@42> put delivery #7 back in its queue", true},
		{"retry a session", "retry", map[string]string{"session": "555"}, "retry-session s1", "<@42> put 1 parked delivery(ies) back", true},
		{"skip an entry", "skip", map[string]string{"entry": "8"}, "skip 8", "<@42> skipped delivery #8: it will never be delivered", true},
		{"skip a session", "skip", map[string]string{"session": "555"}, "skip-session s1", "1 being delivered right now were left alone", true},
		{"neither", "retry", nil, "", "Give either `entry:`", false},
		{"both", "skip", map[string]string{"entry": "8", "session": "555"}, "", "not both", false},
		{"bad number", "retry", map[string]string{"entry": "x1"}, "", "is not an entry number", false},
		{"not a session channel", "skip", map[string]string{"session": "999"}, "", "<#999> is not the channel of a bridged QQ Music session", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.eng.actions())
			r := h.ch.invoke(t, cmd(tc.cmd, tc.opts))
			acts := h.eng.actions()[before:]
			if tc.action == "" && len(acts) != 0 || tc.action != "" && (len(acts) != 1 || acts[0] != tc.action) {
				t.Errorf("engine asked %v, want %q", acts, tc.action)
			}
			if !strings.Contains(r.answer(), tc.answer) || r.ephemeral[0] == tc.public {
				t.Errorf("answer %q (ephemeral %v), want %q", r.answer(), r.ephemeral[0], tc.answer)
			}
		})
	}
	h.eng.actErr = fmt.Errorf("entry 7 is delivered, only a parked entry can be retried: %w", bridge.ErrEntryState)
	if got := h.ch.invoke(t, cmd("retry", map[string]string{"entry": "7"})).answer(); !strings.Contains(got, "cannot be retried: entry 7 is delivered") {
		t.Errorf("refused retry: %q", got)
	}
	h.eng.actErr = fmt.Errorf("outbox entry 70: %w", bridge.ErrNoEntry)
	if got := h.ch.invoke(t, cmd("skip", map[string]string{"entry": "70"})).answer(); !strings.Contains(got, "No delivery has that number") {
		t.Errorf("unknown entry: %q", got)
	}
}
