package discord

import (
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
)

// A member's first message in a session channel (or forum post) after the
// bridge started, or after the gateway came back, is handed over without a
// REST read of that channel: the gateway's GUILD_CREATE lists the guild's
// channels and active threads. Such a read would wait behind a catch-up's
// history reads once they meet Discord's global limit. A channel the list
// shows as not the bridge's is not read either, and its messages are not
// handed over.
func TestFirstReplyWithoutChannelRead(t *testing.T) {
	for _, mode := range []string{ModeChannels, ModeForum} {
		t.Run(mode, func(t *testing.T) {
			srv := newServer(t)
			edit := func(o *Options) { o.Mode = mode }
			// An earlier run of the bridge made s1's channel.
			earlier, _ := start(t, srv, edit)
			ref1, err := earlier.EnsureChannel(t.Context(), session("s1", "1", "Alice"), nil)
			if err != nil {
				t.Fatal(err)
			}
			general := srv.CreateChannel(discordtest.Channel{Type: discordtest.ChannelTypeText, Name: "general"})
			mark := len(srv.Requests())
			a, h := start(t, srv, edit)
			// s2's channel is made while this run's gateway session is open,
			// by another process: this run has not seen it.
			ref2, err := earlier.EnsureChannel(t.Context(), session("s2", "2", "Bob"), nil)
			if err != nil {
				t.Fatal(err)
			}
			earlier.Close()
			waitFor(t, "the first session", func() bool { _, n := h.snapshot(); return n == 1 && a.Connected() })
			ids := srv.Identifies()
			srv.DropGateway()
			waitFor(t, "a new session", func() bool { return srv.Identifies() > ids })

			srv.Type(general, srv.AdminUserID, "not for QQ")
			srv.Type(ref1.ChannelID, srv.AdminUserID, "to Alice")
			srv.Type(ref2.ChannelID, srv.AdminUserID, "to Bob")
			waitFor(t, "the replies", func() bool { r, _ := h.snapshot(); return len(r) == 2 })
			replies, _ := h.snapshot()
			if replies[0].ChannelID != ref1.ChannelID || replies[0].Content != "to Alice" ||
				replies[1].ChannelID != ref2.ChannelID || replies[1].Content != "to Bob" {
				t.Errorf("replies handed over: %+v; want \"to Alice\" in %s, then \"to Bob\" in %s", replies, ref1.ChannelID, ref2.ChannelID)
			}
			for _, rec := range srv.Requests()[mark:] {
				for _, id := range []string{ref1.ChannelID, ref2.ChannelID, general} {
					if rec.Method == "GET" && rec.Path == "/channels/"+id {
						t.Errorf("the adapter read channel %s (%s %s): GUILD_CREATE said what it is", id, rec.Method, rec.Path)
					}
				}
			}
		})
	}
}

// A session channel moved out of the bridge's categories while the
// gateway was down (its CHANNEL_UPDATE never came) is no longer taken for
// one once the new session's GUILD_CREATE shows where it is.
func TestChannelMovedOutWhileGatewayDown(t *testing.T) {
	srv := newServer(t)
	a, h := start(t, srv, nil)
	moved, err := a.EnsureChannel(t.Context(), session("s1", "1", "Alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := a.EnsureChannel(t.Context(), session("s2", "2", "Bob"), nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first session", func() bool { _, n := h.snapshot(); return n == 1 && a.Connected() })
	srv.HangGateway(true)
	srv.DropGateway()
	waitFor(t, "the gateway down", func() bool { return !a.Connected() })
	srv.UpdateChannel(moved.ChannelID, func(c *discordtest.Channel) { c.ParentID = "" })
	ids := srv.Identifies()
	srv.HangGateway(false)
	waitFor(t, "a new session", func() bool { return srv.Identifies() > ids })

	srv.Type(moved.ChannelID, srv.AdminUserID, "no longer a session channel")
	srv.Type(kept.ChannelID, srv.AdminUserID, "to Bob")
	waitFor(t, "the reply", func() bool { r, _ := h.snapshot(); return len(r) >= 1 })
	if got, want := h.callLog(), "resumed | resumed | reply: to Bob"; got != want {
		t.Errorf("handler calls: %s; want %s", got, want)
	}
}

// A role given Manage Server while the gateway was down (its
// GUILD_ROLE_UPDATE never came) lets its members reply as soon as the new
// session's GUILD_CREATE shows the role's permissions, without the adapter
// reading the guild again.
func TestRoleChangedWhileGatewayDown(t *testing.T) {
	srv := newServer(t)
	helpers := srv.AddRole("helpers", 0)
	carol := srv.AddMember("Carol", helpers)
	a, h := start(t, srv, nil)
	ref, err := a.EnsureChannel(t.Context(), session("s1", "1", "Alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	letIn(srv, ref.ChannelID, carol)
	waitFor(t, "the first session", func() bool { _, n := h.snapshot(); return n == 1 && a.Connected() })
	srv.HangGateway(true)
	srv.DropGateway()
	waitFor(t, "the gateway down", func() bool { return !a.Connected() })
	srv.SetRolePermissions(helpers, discordtest.PermManageGuild)
	ids := srv.Identifies()
	mark := len(srv.Requests())
	srv.HangGateway(false)
	waitFor(t, "a new session", func() bool { return srv.Identifies() > ids })

	srv.Type(ref.ChannelID, carol, "from a helper")
	waitFor(t, "the reply", func() bool { r, _ := h.snapshot(); return len(r) == 1 })
	for _, rec := range srv.Requests()[mark:] {
		if rec.Method == "GET" && rec.Path == "/guilds/"+srv.GuildID {
			t.Errorf("the adapter read the guild (%s %s): GUILD_CREATE said it all", rec.Method, rec.Path)
		}
	}
}
