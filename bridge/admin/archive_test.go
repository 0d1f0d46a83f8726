package admin

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

func TestArchiveCommand(t *testing.T) {
	h := newHarness(t, true, nil)
	h.eng.sessions = []bridge.BridgedSession{{ID: "sess-1", ChannelID: "555", Peer: bridge.Peer{Nick: "Bea"}}}
	for _, tc := range []struct {
		name, channel string
		err           error
		want          string
	}{
		{"archived", "555", nil, "Archived the chat with Bea: its transcript (12 messages) is in the archive"},
		{"not a session", "777", nil, "<#777> is not the channel of a bridged QQ Music session"},
		{"login needed", "555", fmt.Errorf("read: %w", bridge.ErrLoginRequired), "needs a login first"},
		{"failed", "555", errors.New("archive session sess-1: posting the transcript: HTTP 403"), "The archive is not finished: archive session sess-1: posting the transcript: HTTP 403"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.eng.mu.Lock()
			h.eng.archiveE, h.eng.archived = tc.err, nil
			h.eng.mu.Unlock()
			if got := h.ch.invoke(t, cmd("archive", map[string]string{"session": tc.channel})).answer(); !strings.Contains(got, tc.want) {
				t.Errorf("answer %q; want %q", got, tc.want)
			}
		})
	}
	h.eng.mu.Lock()
	defer h.eng.mu.Unlock()
	if len(h.eng.archived) != 0 {
		t.Errorf("archived %v after the failures", h.eng.archived)
	}
}

func TestArchivedSessionIsAnnounced(t *testing.T) {
	h := newHarness(t, true, nil)
	h.c.HandleEvent(bridge.Event{Kind: bridge.EventSessionArchived, SessionID: "s1", Detail: "the chat with Bea (the server nears Discord's channel limit); its transcript is in the archive"})
	h.eventually("the notice", func() bool {
		for _, m := range h.ch.snapshot() {
			if strings.Contains(m.Content, "🗄️ Archived the chat with Bea (the server nears Discord's channel limit)") {
				return true
			}
		}
		return false
	})
}

func TestOpenCommand(t *testing.T) {
	h := newHarness(t, true, nil)
	h.eng.sessions = []bridge.BridgedSession{{ID: "sess-1", ChannelID: "555", Peer: bridge.Peer{Nick: "Bea", UIN: "222"}}}
	if got := h.ch.invoke(t, cmd("open", map[string]string{"who": "222"})).answer(); !strings.Contains(got, "The chat with Bea is in <#555>") {
		t.Errorf("answer %q", got)
	}
	if got := h.ch.invoke(t, cmd("open", map[string]string{"who": "999"})).answer(); !strings.Contains(got, `no QQ Music session with "999"`) {
		t.Errorf("unknown: %q", got)
	}
}
