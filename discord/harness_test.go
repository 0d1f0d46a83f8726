package discord

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
)

// recHandler records what the adapter hands to the engine.
type recHandler struct {
	mu      sync.Mutex
	replies []bridge.Reply
	resumed int
	// calls is every call, in order: "resumed" or "reply: <content>".
	calls []string
}

func (h *recHandler) HandleReply(_ context.Context, r bridge.Reply) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.replies = append(h.replies, r)
	h.calls = append(h.calls, "reply: "+r.Content)
	return nil
}

func (h *recHandler) Resumed(context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.resumed++
	h.calls = append(h.calls, "resumed")
}

func (h *recHandler) callLog() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.calls, " | ")
}

func (h *recHandler) snapshot() ([]bridge.Reply, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]bridge.Reply(nil), h.replies...), h.resumed
}

func newServer(t *testing.T) *discordtest.Server {
	t.Helper()
	srv := discordtest.New(discordtest.WithHeartbeatInterval(40 * time.Millisecond))
	t.Cleanup(srv.Close)
	return srv
}

func testOptions(srv *discordtest.Server) Options {
	return Options{
		Token:               srv.Token,
		GuildID:             srv.GuildID,
		AdminChannelID:      srv.AdminChannelID,
		APIURL:              srv.APIURL(),
		Logger:              slog.New(slog.NewTextHandler(io.Discard, nil)),
		WatchdogInterval:    25 * time.Millisecond,
		HeartbeatTimeout:    400 * time.Millisecond,
		OpenTimeout:         time.Second,
		ReconnectBackoff:    20 * time.Millisecond,
		MaxReconnectBackoff: 100 * time.Millisecond,
		CallTimeout:         3 * time.Second,
		MaxRetries:          3,
		MaxRetryAfter:       2 * time.Second,
		RetryBackoff:        5 * time.Millisecond,
	}
}

// start starts an adapter against srv; it is closed before srv.
func start(t *testing.T, srv *discordtest.Server, edit func(*Options)) (*Adapter, *recHandler) {
	t.Helper()
	opts := testOptions(srv)
	if edit != nil {
		edit(&opts)
	}
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h := &recHandler{}
	if err := a.Start(t.Context(), h); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(a.Close)
	return a, h
}

// letIn gives a member access to a (private) channel by a member
// overwrite, as a server admin would in the client.
func letIn(srv *discordtest.Server, channelID, userID string) {
	srv.UpdateChannel(channelID, func(c *discordtest.Channel) {
		c.PermissionOverwrites = append(c.PermissionOverwrites, discordtest.Overwrite{
			ID: userID, Type: discordtest.OverwriteMember,
			Allow: discordtest.PermViewChannel | discordtest.PermSendMessages | discordtest.PermReadMessageHistory,
		})
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func session(id, uin, nick string) bridge.Session {
	return bridge.Session{ID: id, Peer: bridge.Peer{UIN: uin, Nick: nick, AvatarURL: "https://qq.example/a/" + uin + ".png"}}
}

func textMsg(id, text string, from bridge.Peer) bridge.Message {
	return bridge.Message{ID: id, Kind: bridge.KindText, Text: text, Sender: from}
}

// mustRender records what a should post for m, as the engine does before
// the first attempt.
func mustRender(t *testing.T, a *Adapter, m bridge.Message) bridge.Rendered {
	t.Helper()
	r, err := a.Render(m)
	if err != nil {
		t.Fatalf("Render(%s): %v", m.ID, err)
	}
	return r
}
