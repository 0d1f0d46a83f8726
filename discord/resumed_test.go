package discord

import (
	"context"
	"sync"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// After the gateway is lost, the new session's READY asks for a catch-up
// before any of its messages is handed over: what was written while no
// session was open is only in the history, and a message written after
// the reconnection must wait for it.
func TestResumedBeforeTheNewSessionsMessages(t *testing.T) {
	srv := newServer(t)
	a, h := start(t, srv, nil)
	ref, err := a.EnsureChannel(t.Context(), session("s1", "1", "Alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first Resumed", func() bool { _, n := h.snapshot(); return n == 1 && a.Connected() })
	ids := srv.Identifies()
	srv.DropGateway()
	waitFor(t, "a new session", func() bool { return srv.Identifies() > ids })
	srv.Type(ref.ChannelID, srv.AdminUserID, "after the reconnection")
	waitFor(t, "the reply", func() bool { r, _ := h.snapshot(); return len(r) == 1 })
	if got, want := h.callLog(), "resumed | resumed | reply: after the reconnection"; got != want {
		t.Errorf("handler calls: %s; want %s", got, want)
	}
}

// blockedHandler holds its first reply until released.
type blockedHandler struct {
	recHandler
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (h *blockedHandler) HandleReply(ctx context.Context, r bridge.Reply) error {
	h.once.Do(func() {
		close(h.entered)
		<-h.release
	})
	return h.recHandler.HandleReply(ctx, r)
}

// A message the full reply queue cannot take asks for a catch-up at once:
// it is in the history, and the newer messages wait for that catch-up.
func TestQueueFullAsksForCatchUp(t *testing.T) {
	srv := newServer(t)
	a, err := New(testOptions(srv))
	if err != nil {
		t.Fatal(err)
	}
	a.queue = make(chan memberEvent, 1)
	h := &blockedHandler{entered: make(chan struct{}), release: make(chan struct{})}
	if err := a.Start(t.Context(), h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	ref, err := a.EnsureChannel(t.Context(), session("s1", "1", "Alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first Resumed", func() bool { _, n := h.snapshot(); return n == 1 && a.Connected() })
	srv.Type(ref.ChannelID, srv.AdminUserID, "one")
	<-h.entered                                       // "one" is being handled
	srv.Type(ref.ChannelID, srv.AdminUserID, "two")   // queued
	srv.Type(ref.ChannelID, srv.AdminUserID, "three") // the queue is full
	waitFor(t, "a catch-up asked for", func() bool { _, n := h.snapshot(); return n == 2 })
	close(h.release)
	waitFor(t, "the queued reply", func() bool { r, _ := h.snapshot(); return len(r) == 2 })
	if got, want := h.callLog(), "resumed | resumed | reply: one | reply: two"; got != want {
		t.Errorf("handler calls: %s; want %s", got, want)
	}
}

// missHandler fails its first reply and catches up single channels.
type missHandler struct {
	failingHandler
}

func (h *missHandler) Missed(_ context.Context, channelID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, "missed "+channelID)
}
