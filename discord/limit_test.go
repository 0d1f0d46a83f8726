package discord

import (
	"errors"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
)

// Discord's own refusal of a new channel in a full guild (30013), where
// the adapter's count disagrees with Discord's, reads as "no room" (the
// engine archives a session and retries), not as a permanent refusal of
// the session's channel.
func TestGuildFullRefusedByDiscord(t *testing.T) {
	// The guild's own channels already fill a limit of 1.
	srv := discordtest.New(discordtest.WithHeartbeatInterval(40*time.Millisecond), discordtest.WithMaxChannels(1))
	t.Cleanup(srv.Close)
	a, _ := start(t, srv, nil)
	_, err := a.EnsureChannel(t.Context(), session("s1", "1", "Alice"), nil)
	if !errors.Is(err, ErrGuildFull) || !errors.Is(err, bridge.ErrNoRoom) {
		t.Fatalf("EnsureChannel refused with 30013: %v, want ErrGuildFull and bridge.ErrNoRoom", err)
	}
	if errors.Is(err, bridge.ErrPermanent) {
		t.Fatalf("EnsureChannel refused with 30013: %v; a full guild is not permanent (room is made by archiving)", err)
	}
}
