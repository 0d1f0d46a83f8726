package discord

import (
	"errors"
	"strings"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
)

// invitePerms is what the invite link of docs/OPERATIONS.md grants: no
// Administrator, no Manage Roles, no Mention Everyone.
const invitePerms int64 = 326954503248

// hidden reports which of the ids a member can see.
func seen(srv *discordtest.Server, userID string, ids ...string) []string {
	var out []string
	for _, c := range srv.VisibleChannels(userID) {
		for _, id := range ids {
			if c.ID == id {
				out = append(out, c.Name)
			}
		}
	}
	return out
}

func TestSessionChannelsArePrivate(t *testing.T) {
	for _, mode := range []string{ModeChannels, ModeForum} {
		t.Run(mode, func(t *testing.T) {
			srv := newServer(t)
			srv.SetBotPermissions(invitePerms) // no Manage Roles needed to create private channels
			admins := srv.AddRole("bridge admins", 0)
			viewers := srv.AddRole("bridge viewers", 0)
			admin := srv.AddMember("alice-admin", admins)
			viewer := srv.AddMember("victor-viewer", viewers)
			a, h := start(t, srv, func(o *Options) {
				o.Mode, o.AdminRoleID, o.ViewerRoleID = mode, admins, viewers
			})
			ctx := t.Context()
			ref, err := a.EnsureChannel(ctx, session("s1", "10001", "Bob"), nil)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "gateway", a.Connected)
			if _, err := a.Post(ctx, ref, mustRender(t, a, textMsg("q1", "a private word", bridge.Peer{UIN: "10001", Nick: "Bob"}))); err != nil {
				t.Fatal(err)
			}

			// A member without the roles sees nothing of the bridge.
			if got := seen(srv, srv.PlainUserID, ref.ChannelID, ref.ParentID); len(got) > 0 {
				t.Errorf("a plain member sees %v", got)
			}
			if _, err := srv.ReadAs(srv.PlainUserID, ref.ChannelID); !errors.Is(err, discordtest.ErrNoAccess) {
				t.Errorf("a plain member reads the session: %v", err)
			}
			// The admin role sees, reads and replies.
			if got := seen(srv, admin, ref.ChannelID, ref.ParentID); len(got) != 2 {
				t.Errorf("the admin role sees %v, want the session and its parent", got)
			}
			sent, err := srv.Send(ref.ChannelID, admin, "hi Bob")
			if err != nil {
				t.Fatalf("the admin role may not reply: %v", err)
			}
			waitFor(t, "the admin's reply", func() bool { r, _ := h.snapshot(); return len(r) == 1 })
			// The viewer role reads but cannot reply.
			msgs, err := srv.ReadAs(viewer, ref.ChannelID)
			if err != nil || !containsText(msgs, "a private word") || !containsText(msgs, "hi Bob") {
				t.Errorf("the viewer reads %d messages, %v", len(msgs), err)
			}
			if _, err := srv.Send(ref.ChannelID, viewer, "me too"); !errors.Is(err, discordtest.ErrNoPermission) {
				t.Errorf("the viewer could write: %v", err)
			}
			// The bot works there without Administrator: it posted, and it
			// read the reply (gateway and history).
			got, err := a.RepliesAfter(ctx, ref.ChannelID, "0")
			if err != nil || len(got) != 1 || got[0].MessageID != sent.ID {
				t.Errorf("RepliesAfter = %+v, %v", got, err)
			}
			if r, _ := h.snapshot(); len(r) != 1 || r[0].MessageID != sent.ID {
				t.Errorf("replies %+v", r)
			}
		})
	}
}

func containsText(msgs []discordtest.Message, s string) bool {
	for _, m := range msgs {
		if strings.Contains(m.Content, s) {
			return true
		}
	}
	return false
}

func TestViewerIsNeverRelayed(t *testing.T) {
	srv := newServer(t)
	viewers := srv.AddRole("bridge viewers", 0)
	// Manage Server would admit them without an admin role; the viewer
	// role wins. They are let in to write by hand (a member overwrite).
	manager := srv.AddMember("manager-viewer", srv.ManagerRoleID, viewers)
	a, h := start(t, srv, func(o *Options) { o.ViewerRoleID = viewers })
	ctx := t.Context()
	ref, err := a.EnsureChannel(ctx, session("s1", "10001", "Bob"), nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "gateway", a.Connected)
	if ok, err := a.allowed(ctx, manager, nil); ok || err != nil {
		t.Errorf("allowed(viewer with Manage Server) = %v, %v", ok, err)
	}
	letIn(srv, ref.ChannelID, manager)
	before := len(srv.Messages(ref.ChannelID))
	srv.Type(ref.ChannelID, manager, "sneaky")
	last := srv.Type(ref.ChannelID, srv.AdminUserID, "from the owner")
	waitFor(t, "the owner's reply", func() bool { r, _ := h.snapshot(); return len(r) == 1 })
	if r, _ := h.snapshot(); r[0].MessageID != last.ID {
		t.Errorf("relayed %+v, want only the owner's", r)
	}
	got, err := a.RepliesAfter(ctx, ref.ChannelID, "0")
	if err != nil || len(got) != 1 || got[0].MessageID != last.ID {
		t.Errorf("catch-up = %+v, %v; want only the owner's", got, err)
	}
	waitFor(t, "the notice to the viewer", func() bool { return len(srv.Messages(ref.ChannelID)) == before+3 })
}

func TestRefusedOverwritesCreateNothingPublic(t *testing.T) {
	for _, mode := range []string{ModeChannels, ModeForum} {
		t.Run(mode, func(t *testing.T) {
			srv := newServer(t)
			srv.RefuseOverwrites(true)
			a, _ := start(t, srv, func(o *Options) { o.Mode = mode })
			before := len(srv.Channels())
			_, err := a.EnsureChannel(t.Context(), session("s1", "10001", "Bob"), nil)
			if err == nil || !errors.Is(err, bridge.ErrPermanent) || !strings.Contains(err.Error(), "nothing public was created") {
				t.Fatalf("EnsureChannel = %v; want a permanent refusal saying why", err)
			}
			if n := len(srv.Channels()); n != before {
				t.Errorf("%d channels created", n-before)
			}
			notes := srv.Messages(srv.AdminChannelID)
			if len(notes) != 1 || !strings.Contains(notes[0].Content, "overwrites") {
				t.Errorf("admin channel: %+v", notes)
			}
			// The next session meets the same refusal; the admin channel
			// is not told again at once.
			if _, err := a.EnsureChannel(t.Context(), session("s2", "10002", "Carol"), nil); !errors.Is(err, bridge.ErrPermanent) {
				t.Errorf("second EnsureChannel = %v", err)
			}
			if n := len(srv.Messages(srv.AdminChannelID)); n != 1 {
				t.Errorf("the admin channel was told %d times", n)
			}
			if n := len(srv.Channels()); n != before {
				t.Errorf("%d channels created", n-before)
			}
		})
	}
}

// legacyLayout seeds what an earlier version made: a category and a
// session channel without overwrites (readable by all), with its old topic.
func legacyLayout(srv *discordtest.Server) (cat, ch string) {
	cat = srv.AddChannel(discordtest.Channel{Type: discordtest.ChannelTypeCategory, Name: "QQ Music"})
	ch = srv.AddChannel(discordtest.Channel{Type: discordtest.ChannelTypeText, Name: "bob", ParentID: cat,
		Topic: "QQ Music chat with Bob · QQ uin 10001 · session s1"})
	srv.AddChannel(discordtest.Channel{Type: discordtest.ChannelTypeText, Name: "qq-10003", ParentID: cat,
		Topic: "QQ Music chat with (no nick) · QQ uin 10003 · session s3"})
	return cat, ch
}

func TestEarlierChannelsMadePrivateAtStart(t *testing.T) {
	srv := newServer(t)
	cat, ch := legacyLayout(srv)
	if !srv.CanView(srv.PlainUserID, ch) {
		t.Fatal("the legacy channel should start public")
	}
	a, _ := start(t, srv, nil) // the bot has Administrator, so Manage Roles
	if got := seen(srv, srv.PlainUserID, cat, ch); len(got) > 0 {
		t.Errorf("after start a plain member still sees %v", got)
	}
	manager := srv.AddMember("manager", srv.ManagerRoleID)
	if got := seen(srv, manager, cat, ch); len(got) != 2 {
		t.Errorf("a Manage Server member sees %v, want both (no admin role set)", got)
	}
	notes := srv.Messages(srv.AdminChannelID)
	if len(notes) != 1 || !strings.Contains(notes[0].Content, "private") {
		t.Errorf("admin channel: %+v", notes)
	}
	// Its topic no longer shows the uin and the session id, and it is
	// adopted all the same.
	if c, _ := srv.Channel(ch); strings.Contains(c.Topic, "10001") || strings.Contains(c.Topic, "s1") || !strings.Contains(c.Topic, "Bob") {
		t.Errorf("topic after start: %q", c.Topic)
	}
	if _, ok := srv.ChannelByName("qq-10003"); ok {
		t.Error("a channel is still named after a QQ uin")
	}
	if _, ok := srv.ChannelByName("qq-" + SessionTag(srv.Token, "s3")); !ok {
		t.Error("the channel named after a uin was not renamed to its tag")
	}
	ref, err := a.EnsureChannel(t.Context(), session("s1", "10001", "Bob"), nil)
	if err != nil || ref.ChannelID != ch {
		t.Fatalf("EnsureChannel = %+v, %v; want the legacy channel adopted", ref, err)
	}
}

func TestEarlierChannelsWithoutManageRoles(t *testing.T) {
	srv := newServer(t)
	srv.SetBotPermissions(invitePerms)
	cat, ch := legacyLayout(srv)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	notes := srv.Messages(srv.AdminChannelID)
	if len(notes) != 1 || !strings.Contains(notes[0].Content, "Manage Roles") || !strings.Contains(notes[0].Content, "#bob") {
		t.Fatalf("admin channel: %+v; want what to grant and which channels", notes)
	}
	before := len(srv.Channels())
	_, err := a.EnsureChannel(ctx, session("s2", "10002", "Carol"), nil)
	if !errors.Is(err, ErrNotPrivate) || !strings.Contains(err.Error(), "Manage Roles") {
		t.Fatalf("EnsureChannel while public = %v; want ErrNotPrivate naming Manage Roles", err)
	}
	if bridge.OutcomeOf(err) != bridge.CallTransient {
		t.Errorf("outcome %v: the session must get its channel once the permission is granted", bridge.OutcomeOf(err))
	}
	if n := len(srv.Channels()); n != before {
		t.Errorf("%d channels created while the old ones are public", n-before)
	}
	if len(srv.Messages(srv.AdminChannelID)) != 1 {
		t.Error("the admin channel was told twice")
	}

	waitFor(t, "gateway", a.Connected)
	srv.SetBotPermissions(invitePerms | discordtest.PermManageRoles)
	var ref bridge.ChannelRef
	waitFor(t, "a channel once Manage Roles is granted", func() bool {
		ref, err = a.EnsureChannel(ctx, session("s2", "10002", "Carol"), nil)
		return err == nil
	})
	if got := seen(srv, srv.PlainUserID, cat, ch, ref.ChannelID); len(got) > 0 {
		t.Errorf("a plain member still sees %v", got)
	}
	if !srv.CanView(srv.BotUserID, ch) || !srv.CanView(srv.AdminUserID, ref.ChannelID) {
		t.Error("the bot or the owner lost access")
	}
}

func TestEarlierForumWithoutManageRoles(t *testing.T) {
	srv := newServer(t)
	srv.SetBotPermissions(invitePerms)
	forum := srv.AddChannel(discordtest.Channel{Type: discordtest.ChannelTypeForum, Name: "qq-music"})
	old := srv.AddChannel(discordtest.Channel{Type: discordtest.ChannelTypePublicThread, Name: "Bob (10001)", ParentID: forum})
	a, _ := start(t, srv, func(o *Options) { o.Mode = ModeForum })
	ctx := t.Context()
	if notes := srv.Messages(srv.AdminChannelID); len(notes) != 1 || !strings.Contains(notes[0].Content, "Manage Roles") {
		t.Fatalf("admin channel: %+v", notes)
	}
	before := len(srv.Channels())
	if _, err := a.EnsureChannel(ctx, session("s2", "10002", "Carol"), nil); !errors.Is(err, ErrNotPrivate) {
		t.Fatalf("EnsureChannel while the forum is public = %v", err)
	}
	if n := len(srv.Channels()); n != before {
		t.Errorf("%d posts created in a public forum", n-before)
	}
	waitFor(t, "gateway", a.Connected)
	srv.SetBotPermissions(invitePerms | discordtest.PermManageRoles)
	var ref bridge.ChannelRef
	var err error
	waitFor(t, "a post once Manage Roles is granted", func() bool {
		ref, err = a.EnsureChannel(ctx, session("s2", "10002", "Carol"), nil)
		return err == nil
	})
	if got := seen(srv, srv.PlainUserID, forum, old, ref.ChannelID); len(got) > 0 {
		t.Errorf("a plain member still sees %v", got)
	}
	// The earlier version's post (named with the uin) is adopted and
	// renamed to the nick and tag.
	ref, err = a.EnsureChannel(ctx, session("s1", "10001", "Bob"), nil)
	if err != nil || ref.ChannelID != old {
		t.Fatalf("EnsureChannel = %+v, %v; want the old post adopted", ref, err)
	}
	if c, _ := srv.Channel(old); c.Name != "Bob (#"+SessionTag(srv.Token, "s1")+")" {
		t.Errorf("old post named %q", c.Name)
	}
}
