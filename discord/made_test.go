package discord

import (
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
)

// TestCreatesWhoseAnswerIsLostAreNotDuplicated: a channel, category,
// webhook, forum or forum post Discord made though its answer was lost is
// found and used; none is made twice.
func TestCreatesWhoseAnswerIsLostAreNotDuplicated(t *testing.T) {
	tests := []struct {
		name    string
		mode    string
		pattern string
		// hasCategory: the category exists already, so that the first
		// channel create is the session channel's.
		hasCategory bool
	}{
		{"category", ModeChannels, "/guilds/*/channels", false},
		{"session channel", ModeChannels, "/guilds/*/channels", true},
		{"webhook", ModeChannels, "/channels/*/webhooks", false},
		{"forum", ModeForum, "/guilds/*/channels", false},
		{"forum post", ModeForum, "/channels/*/threads", false},
		{"forum webhook", ModeForum, "/channels/*/webhooks", false},
	}
	for _, tc := range tests {
		for _, how := range []discordtest.Lost{discordtest.Lost502, discordtest.LostDrop} {
			t.Run(tc.name+"/"+how.String(), func(t *testing.T) {
				srv := newServer(t)
				a, _ := start(t, srv, func(o *Options) { o.Mode = tc.mode })
				ctx := t.Context()
				want := 2 // a category and a channel, or a forum and a post
				if tc.hasCategory {
					srv.AddChannel(discordtest.Channel{Type: discordtest.ChannelTypeCategory, Name: CategoryName(a.opts.CategoryName, 1)})
					want = 1
				}
				before := len(srv.Channels())
				srv.ApplyThenFail("POST", tc.pattern, 1, how)
				s := session("s1", "1", "Alice")
				// The double shows the effect at once, so the lookup right
				// after the lost answer finds it.
				ref, err := a.EnsureChannel(ctx, s, nil)
				if err != nil {
					t.Fatalf("EnsureChannel with a lost answer: %v", err)
				}
				// And a later call finds the same.
				if again, err := a.EnsureChannel(ctx, s, nil); err != nil || again.ChannelID != ref.ChannelID {
					t.Fatalf("EnsureChannel again: %+v, %v; want %s", again, err, ref.ChannelID)
				}
				if got := len(srv.Channels()) - before; got != want {
					t.Errorf("%d channels made, want %d", got, want)
				}
				hookChan := ref.ChannelID
				if tc.mode == ModeForum {
					hookChan = ref.ParentID
				}
				if n := len(srv.Webhooks(hookChan)); n != 1 {
					t.Errorf("%d webhooks, want 1", n)
				}
				if _, err := a.Post(ctx, ref, mustRender(t, a, textMsg("m1", "hello", s.Peer))); err != nil {
					t.Errorf("post into the channel found: %v", err)
				}
			})
		}
	}
}
