package discord

import (
	"slices"
	"strings"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
)

func TestAdminPingCheckedAtStart(t *testing.T) {
	for _, tt := range []struct {
		name        string
		mentionable bool
		botPerms    int64 // 0: Administrator
		role        string
		wantNotice  string // "" none
		wantPing    bool
	}{
		{name: "mentionable role", mentionable: true, botPerms: invitePerms, wantPing: true},
		{name: "not mentionable", botPerms: invitePerms, wantNotice: "not mentionable"},
		{name: "not mentionable, bot may mention all roles", wantPing: true},
		{name: "no such role", role: "999", botPerms: invitePerms, wantNotice: "names no role"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			if tt.botPerms != 0 {
				srv.SetBotPermissions(tt.botPerms)
				// Nor through @everyone (Discord's default grants it).
				everyone := srv.Roles()[0]
				srv.SetRolePermissions(srv.GuildID, everyone.Permissions&^discordtest.PermMentionEveryone)
			}
			role := srv.AddRole("bridge admins", 0)
			srv.SetRoleMentionable(role, tt.mentionable)
			if tt.role != "" {
				role = tt.role
			}
			a, _ := start(t, srv, func(o *Options) { o.AdminRoleID = role })
			notes := srv.Messages(srv.AdminChannelID)
			switch {
			case tt.wantNotice == "" && len(notes) != 0:
				t.Errorf("unexpected notice %q", notes[0].Content)
			case tt.wantNotice != "" && (len(notes) != 1 || !strings.Contains(notes[0].Content, tt.wantNotice) || !notes[0].Pinged.None()):
				t.Fatalf("notices %+v, want one saying %q and pinging nobody", notes, tt.wantNotice)
			}
			// What the check foretold is what a login request does.
			id, err := a.PostAdmin(t.Context(), AdminMessage{Content: "Scan to log in", MentionRoleID: role})
			if err != nil {
				t.Fatal(err)
			}
			m, _ := srv.Message(srv.AdminChannelID, id)
			if got := slices.Contains(m.Pinged.Roles, role); got != tt.wantPing {
				t.Errorf("the login request pinged the role: %v, want %v", got, tt.wantPing)
			}
		})
	}
}
