package discord

import (
	"errors"
	"strings"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
)

// TestStartRefusesWhatWaitingWillNotHeal: a guild the bot cannot see and
// an admin channel that is not a text channel of the guild end Start with
// a typed error naming the key to fix, so the caller does not retry.
func TestStartRefusesWhatWaitingWillNotHeal(t *testing.T) {
	tests := []struct {
		name string
		edit func(srv *discordtest.Server, o *Options)
		want error
		says []string
	}{
		{"unknown guild", func(_ *discordtest.Server, o *Options) { o.GuildID = "424242424242" },
			ErrUnknownGuild, []string{"424242424242", "discord.guild_id"}},
		{"unknown admin channel", func(_ *discordtest.Server, o *Options) { o.AdminChannelID = "424242424242" },
			ErrUnknownAdminChannel, []string{"424242424242", "discord.admin_channel_id"}},
		{"admin channel is a category", func(srv *discordtest.Server, o *Options) {
			o.AdminChannelID = srv.AddChannel(discordtest.Channel{Type: 4, Name: "admin things"})
		}, ErrUnknownAdminChannel, []string{"not a text channel", "discord.admin_channel_id"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t)
			opts := testOptions(srv)
			tc.edit(srv, &opts)
			a, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(a.Close)
			err = a.Start(t.Context(), &recHandler{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Start: %v, want %v", err, tc.want)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("the error lacks %q: %v", s, err)
				}
			}
			if strings.Contains(err.Error(), srv.Token) {
				t.Error("the error shows the token")
			}
		})
	}
}
