package discord

import (
	"bytes"
	"strings"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
)

// sessionPlaces counts the channels and forum posts that carry a session
// (their topic or title ends with a tag).
func sessionPlaces(srv *discordtest.Server) int {
	n := 0
	for _, c := range srv.Channels() {
		if strings.Contains(c.Topic, " · #") || (c.IsThread() && strings.Contains(c.Name, " (#")) {
			n++
		}
	}
	return n
}

// A channel made just before a crash (never recorded) is found again by
// its tag after the operator reset the bot token: the tag is keyed with
// the bridge's tag key, not with the token, so no second channel is made.
// Channels tagged under the token (an earlier version, or made before the
// key existed) are found too, and get the keyed tag.
func TestAdoptionAfterTokenReset(t *testing.T) {
	key := bytes.Repeat([]byte{0x5a}, 32)
	for _, mode := range []string{ModeChannels, ModeForum} {
		t.Run(mode, func(t *testing.T) {
			srv := newServer(t)
			ctx := t.Context()
			alice := session("s1", "1001", "Alice")
			withKey := func(token string) func(*Options) {
				return func(o *Options) { o.Mode, o.TagKey, o.Token = mode, key, token }
			}

			// An earlier version tagged Bob's channel under the token.
			old, _ := start(t, srv, func(o *Options) { o.Mode = mode })
			bob, err := old.EnsureChannel(ctx, session("s2", "1002", "Bob"), nil)
			if err != nil {
				t.Fatal(err)
			}
			old.Close()

			a1, _ := start(t, srv, withKey(srv.Token))
			made, err := a1.EnsureChannel(ctx, alice, nil) // then the bridge dies before recording it
			if err != nil {
				t.Fatal(err)
			}
			again, err := a1.EnsureChannel(ctx, session("s2", "1002", "Bob"), nil)
			if err != nil || again.ChannelID != bob.ChannelID {
				t.Fatalf("the token-tagged channel: EnsureChannel = %+v, %v; want %s adopted", again, err, bob.ChannelID)
			}
			a1.Close()

			srv.ResetToken("MTAwMDAwMDAwMDAwMDAwMDAw.reset.new-token")
			a2, _ := start(t, srv, withKey(srv.Token))
			before := sessionPlaces(srv)
			for _, tc := range []struct {
				name string
				ref  string
				s    string
			}{{"Alice", made.ChannelID, "s1"}, {"Bob", bob.ChannelID, "s2"}} {
				got, err := a2.EnsureChannel(ctx, session(tc.s, "", tc.name), nil)
				if err != nil || got.ChannelID != tc.ref {
					t.Errorf("%s after the token reset: EnsureChannel = %+v, %v; want %s adopted", tc.name, got, err, tc.ref)
				}
			}
			if after := sessionPlaces(srv); after != before {
				t.Errorf("%d session channels after the token reset, %d before: a duplicate was made", after, before)
			}
			c, _ := srv.Channel(made.ChannelID)
			if tag := SessionTagKeyed(key, "s1"); !strings.Contains(c.Topic+c.Name, "#"+tag) {
				t.Errorf("Alice's channel %q / %q does not carry the keyed tag %s", c.Name, c.Topic, tag)
			}
		})
	}
}
