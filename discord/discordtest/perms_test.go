package discordtest

import (
	"errors"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"
)

func TestPermissionComputation(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	viewers := s.AddRole("viewers", 0)
	talkers := s.AddRole("talkers", 0)
	mods := s.AddRole("mods", PermManageGuild)
	viewer := s.AddMember("viewer", viewers)
	both := s.AddMember("both", viewers, talkers)
	mod := s.AddMember("mod", mods)
	special := s.AddMember("special")
	admin := s.AddMember("administrator", s.AdminRoleID)
	cat := s.AddChannel(Channel{Type: ChannelTypeCategory, Name: "private", PermissionOverwrites: []Overwrite{
		{ID: s.GuildID, Type: OverwriteRole, Deny: PermViewChannel},
		{ID: viewers, Type: OverwriteRole, Allow: PermViewChannel | PermReadMessageHistory, Deny: PermSendMessages},
		{ID: talkers, Type: OverwriteRole, Allow: PermViewChannel | PermSendMessages},
		{ID: special, Type: OverwriteMember, Allow: PermViewChannel | PermSendMessages},
	}})
	ch := s.AddChannel(Channel{Type: ChannelTypeText, Name: "c", ParentID: cat})
	s.mu.Lock()
	s.state.channels[ch].PermissionOverwrites = s.state.channels[cat].PermissionOverwrites
	s.mu.Unlock()
	forum := s.AddChannel(Channel{Type: ChannelTypeForum, Name: "f", PermissionOverwrites: []Overwrite{
		{ID: s.GuildID, Type: OverwriteRole, Deny: PermViewChannel},
	}})
	post := s.AddChannel(Channel{Type: ChannelTypePublicThread, Name: "p", ParentID: forum})
	for _, tt := range []struct {
		name       string
		user, chID string
		view, send bool
	}{
		{"plain member, private channel", s.PlainUserID, ch, false, false},
		{"plain member, category", s.PlainUserID, cat, false, false},
		{"plain member, public channel", s.PlainUserID, s.AdminChannelID, true, true},
		{"viewer reads, may not send", viewer, ch, true, false},
		{"a role's allow beats another role's deny", both, ch, true, true},
		{"member overwrite", special, ch, true, true},
		{"Manage Server does not bypass overwrites", mod, ch, false, false},
		{"Administrator bypasses overwrites", admin, ch, true, true},
		{"the owner sees everything", s.AdminUserID, ch, true, true},
		{"a forum post uses the forum's overwrites", s.PlainUserID, post, false, false},
		{"the bot (Administrator)", s.BotUserID, post, true, true},
		{"not a member", "42", s.AdminChannelID, false, false},
	} {
		p := s.Permissions(tt.user, tt.chID)
		if got := p&PermViewChannel != 0; got != tt.view {
			t.Errorf("%s: view = %v, want %v", tt.name, got, tt.view)
		}
		if got := p&PermSendMessages != 0; got != tt.send {
			t.Errorf("%s: send = %v, want %v", tt.name, got, tt.send)
		}
	}
	for _, c := range s.VisibleChannels(s.PlainUserID) {
		if c.ID == cat || c.ID == ch || c.ID == forum || c.ID == post {
			t.Errorf("a plain member sees %s", c.Name)
		}
	}

	s.Type(ch, admin, "for the eyes of a few")
	if _, err := s.ReadAs(s.PlainUserID, ch); !errors.Is(err, ErrNoAccess) {
		t.Errorf("ReadAs(plain) = %v, want ErrNoAccess", err)
	}
	if ms, err := s.ReadAs(viewer, ch); err != nil || len(ms) != 1 {
		t.Errorf("ReadAs(viewer) = %d messages, %v", len(ms), err)
	}
	if _, err := s.Send(ch, viewer, "may I?"); !errors.Is(err, ErrNoPermission) {
		t.Errorf("Send(viewer) = %v, want ErrNoPermission", err)
	}
	if _, err := s.Send(ch, s.PlainUserID, "hello?"); !errors.Is(err, ErrNoAccess) {
		t.Errorf("Send(plain) = %v, want ErrNoAccess", err)
	}
	if len(s.Messages(ch)) != 1 {
		t.Errorf("refused messages were stored: %d", len(s.Messages(ch)))
	}
}

func TestBotBoundByOverwrites(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.SetBotPermissions(PermViewChannel | PermSendMessages | PermReadMessageHistory | PermManageChannels)
	hidden := s.AddChannel(Channel{Type: ChannelTypeText, Name: "hidden", PermissionOverwrites: []Overwrite{
		{ID: s.GuildID, Type: OverwriteRole, Deny: PermViewChannel},
	}})
	dg := s.NewSession()
	if _, err := dg.Channel(hidden); restErr(t, err).Message.Code != 50001 {
		t.Errorf("GET a hidden channel: %v", err)
	}
	if _, err := dg.ChannelMessages(hidden, 10, "", "", ""); restErr(t, err).Message.Code != 50001 {
		t.Errorf("GET a hidden channel's messages: %v", err)
	}
	if _, err := dg.ChannelMessageSend(hidden, "x"); restErr(t, err).Message.Code != 50001 {
		t.Errorf("POST in a hidden channel: %v", err)
	}

	// Gateway: a message in a channel the bot cannot view is not sent.
	if err := dg.Open(); err != nil {
		t.Fatal(err)
	}
	defer dg.Close()
	got := collect[*discordgo.MessageCreate](dg)
	s.Type(hidden, s.AdminUserID, "secret")
	s.Type(s.AdminChannelID, s.AdminUserID, "visible")
	evs := got.wait(t, 1)
	if evs[0].ChannelID != s.AdminChannelID {
		t.Errorf("first event from %s, want the visible channel", evs[0].ChannelID)
	}

	// Creation: overwrites of permissions the bot lacks are refused (no
	// Manage Roles needed for its own); none given in a category copies
	// the category's; changing overwrites needs Manage Roles.
	private := []*discordgo.PermissionOverwrite{
		{ID: s.GuildID, Type: discordgo.PermissionOverwriteTypeRole, Deny: PermViewChannel},
		{ID: s.BotUserID, Type: discordgo.PermissionOverwriteTypeMember, Allow: PermViewChannel | PermSendMessages},
	}
	cat, err := dg.GuildChannelCreateComplex(s.GuildID, discordgo.GuildChannelCreateData{
		Name: "cat", Type: discordgo.ChannelTypeGuildCategory, PermissionOverwrites: private,
	})
	if err != nil {
		t.Fatalf("create with own permissions: %v", err)
	}
	_, err = dg.GuildChannelCreateComplex(s.GuildID, discordgo.GuildChannelCreateData{
		Name: "x", Type: discordgo.ChannelTypeGuildText, PermissionOverwrites: []*discordgo.PermissionOverwrite{
			{ID: s.GuildID, Type: discordgo.PermissionOverwriteTypeRole, Deny: PermViewChannel | PermManageWebhooks},
		},
	})
	if restErr(t, err).Message.Code != 50013 {
		t.Errorf("an overwrite of a permission the bot lacks: %v", err)
	}
	child, err := dg.GuildChannelCreateComplex(s.GuildID, discordgo.GuildChannelCreateData{
		Name: "child", Type: discordgo.ChannelTypeGuildText, ParentID: cat.ID,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(child.PermissionOverwrites) != 2 || s.CanView(s.PlainUserID, child.ID) || !s.CanView(s.BotUserID, child.ID) {
		t.Errorf("child not synced to its category: %+v", child.PermissionOverwrites)
	}
	_, err = dg.ChannelEdit(child.ID, &discordgo.ChannelEdit{PermissionOverwrites: private[:1]})
	if restErr(t, err).Message.Code != 50013 {
		t.Errorf("changing overwrites without Manage Roles: %v", err)
	}
	if err := dg.ChannelPermissionSet(child.ID, s.GuildID, discordgo.PermissionOverwriteTypeRole, PermViewChannel, 0); restErr(t, err).Message.Code != 50013 {
		t.Errorf("PUT an overwrite without Manage Roles: %v", err)
	}
	if s.CanView(s.PlainUserID, child.ID) {
		t.Error("a refused change was applied")
	}
}

func TestTypeRefusesWhatTheClientWould(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	hidden := s.AddChannel(Channel{Type: ChannelTypeText, Name: "hidden", PermissionOverwrites: []Overwrite{
		{ID: s.GuildID, Type: OverwriteRole, Deny: PermViewChannel},
	}})
	defer func() {
		if r, _ := recover().(string); !strings.Contains(r, "cannot view") {
			t.Errorf("panic %q", r)
		}
	}()
	s.Type(hidden, s.PlainUserID, "x")
}
