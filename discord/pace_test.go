package discord

import (
	"errors"
	"testing"
	"time"
)

// TestDiscordgoOwnRequestsWaitForTheGlobalLimit: requests discordgo makes
// by itself (the gateway URL, on every reconnect) wait for a global rate
// limit like the adapter's own calls; one longer than the adapter allows
// fails at once, without reaching Discord.
func TestDiscordgoOwnRequestsWaitForTheGlobalLimit(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	n := srv.Count("GET", "/gateway")
	a.pauseAll(time.Hour)
	if _, err := a.rest.Gateway(); !errors.Is(err, ErrRateLimited) {
		t.Errorf("gateway URL during an hour-long global limit: %v, want ErrRateLimited", err)
	}
	if got := srv.Count("GET", "/gateway"); got != n {
		t.Errorf("%d requests reached Discord during the global limit", got-n)
	}
}
