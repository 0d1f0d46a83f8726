package discord

import (
	"errors"
	"strings"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
)

// denyEveryone makes a channel private by hand, as an admin would.
func denyEveryone(srv *discordtest.Server, id string) {
	srv.UpdateChannel(id, func(c *discordtest.Channel) {
		c.PermissionOverwrites = append(c.PermissionOverwrites, discordtest.Overwrite{ID: srv.GuildID, Type: 0, Deny: discordtest.PermViewChannel})
	})
}

func TestPostsIntoPublicChannelAreHeld(t *testing.T) {
	for _, tc := range []struct {
		name string
		fix  func(srv *discordtest.Server, ch string)
	}{
		{"manage roles granted", func(srv *discordtest.Server, _ string) {
			srv.SetBotPermissions(invitePerms | discordtest.PermManageRoles)
		}},
		{"made private by hand", denyEveryone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t)
			srv.SetBotPermissions(invitePerms) // no Manage Roles
			_, ch := legacyLayout(srv)
			a, _ := start(t, srv, nil)
			ctx := t.Context()
			waitFor(t, "gateway", a.Connected)
			ref, err := a.EnsureChannel(ctx, session("s1", "10001", "Bob"), nil)
			if err != nil || ref.ChannelID != ch {
				t.Fatalf("EnsureChannel = %+v, %v; want the earlier version's channel", ref, err)
			}
			bob := bridge.Peer{UIN: "10001", Nick: "Bob"}
			_, err = a.Post(ctx, ref, mustRender(t, a, textMsg("q1", "a private word", bob)))
			if !errors.Is(err, bridge.ErrHeld) || !errors.Is(err, ErrNotPrivate) || !strings.Contains(err.Error(), "Manage Roles") {
				t.Fatalf("Post into a public channel = %v; want it held, naming Manage Roles", err)
			}
			if o := bridge.OutcomeOf(err); o != bridge.CallTransient {
				t.Errorf("outcome %v; want transient (the message waits)", o)
			}
			if _, err := a.PostNotice(ctx, ref, "n1", "a placeholder"); !errors.Is(err, bridge.ErrHeld) {
				t.Errorf("PostNotice into a public channel = %v; want it held", err)
			}
			if msgs, _ := srv.ReadAs(srv.PlainUserID, ch); len(msgs) != 0 {
				t.Fatalf("a plain member reads %d messages in the public channel", len(msgs))
			}
			if n := len(srv.Messages(srv.AdminChannelID)); n != 1 {
				t.Errorf("the admin channel was told %d times; want once, at start", n)
			}

			tc.fix(srv, ch)
			waitFor(t, "the held message posted once the channel is private", func() bool {
				_, err := a.Post(ctx, ref, mustRender(t, a, textMsg("q1", "a private word", bob)))
				return err == nil
			})
			if got := len(srv.Messages(ch)); got != 1 {
				t.Errorf("%d messages in the channel; want the held one once", got)
			}
			if srv.CanView(srv.PlainUserID, ch) {
				t.Error("a plain member sees the channel")
			}
			if msgs, err := srv.ReadAs(srv.AdminUserID, ch); err != nil || !containsText(msgs, "a private word") {
				t.Errorf("the owner reads %d messages, %v", len(msgs), err)
			}
		})
	}
}

// A session channel opened up by hand later is held as soon as the
// adapter hears of it.
func TestChannelOpenedUpByHandIsHeld(t *testing.T) {
	srv := newServer(t)
	srv.SetBotPermissions(invitePerms)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	waitFor(t, "gateway", a.Connected)
	ref, err := a.EnsureChannel(ctx, session("s1", "10001", "Bob"), nil)
	if err != nil {
		t.Fatal(err)
	}
	bob := bridge.Peer{UIN: "10001", Nick: "Bob"}
	if _, err := a.Post(ctx, ref, mustRender(t, a, textMsg("q1", "one", bob))); err != nil {
		t.Fatal(err)
	}
	srv.UpdateChannel(ref.ChannelID, func(c *discordtest.Channel) { c.PermissionOverwrites = nil })
	waitFor(t, "the channel update", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		_, held := a.notPrivate[ref.ChannelID]
		return held
	})
	if _, err := a.Post(ctx, ref, mustRender(t, a, textMsg("q2", "two", bob))); !errors.Is(err, bridge.ErrHeld) {
		t.Fatalf("Post into a channel opened up by hand = %v; want it held", err)
	}
	if got := len(srv.Messages(ref.ChannelID)); got != 1 {
		t.Errorf("%d messages in the public channel; want only the one before", got)
	}
	denyEveryone(srv, ref.ChannelID)
	waitFor(t, "the held message posted", func() bool {
		_, err := a.Post(ctx, ref, mustRender(t, a, textMsg("q2", "two", bob)))
		return err == nil
	})
	if got := len(srv.Messages(ref.ChannelID)); got != 2 {
		t.Errorf("%d messages; want 2", got)
	}
}
