package discord

import (
	"errors"
	"strings"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/admin"
)

func TestAdminChannelPort(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, func(o *Options) { o.AdminRoleID = srv.AdminRoleID })
	ctx := t.Context()
	ch := a.AdminChannel()
	id, err := ch.Post(ctx, admin.Message{Content: "login needed @everyone", Image: pngBytes, ImageName: "qr.png", MentionAdmins: true})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := srv.Message(srv.AdminChannelID, id)
	if len(m.Attachments) != 1 || m.Pinged.Everyone || len(m.Pinged.Roles) != 1 || m.Pinged.Roles[0] != srv.AdminRoleID {
		t.Fatalf("posted %+v, pinged %+v", m.Attachments, m.Pinged)
	}
	if err := ch.Edit(ctx, id, admin.Edit{Content: "done", RemoveImage: true}); err != nil {
		t.Fatal(err)
	}
	m, _ = srv.Message(srv.AdminChannelID, id)
	if m.Content != "done" || len(m.Attachments) != 0 {
		t.Fatalf("edited %q %+v", m.Content, m.Attachments)
	}
	// Without the flag nobody is pinged, whatever the text says.
	id, err = ch.Post(ctx, admin.Message{Content: "<@&" + srv.AdminRoleID + "> hi"})
	if err != nil {
		t.Fatal(err)
	}
	if m, _ = srv.Message(srv.AdminChannelID, id); len(m.Pinged.Roles) != 0 {
		t.Errorf("an unflagged post pinged %+v", m.Pinged)
	}
	if err := ch.RegisterCommands(ctx, admin.Commands()); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range srv.Commands() {
		names = append(names, c.Name)
	}
	if len(names) != len(admin.Commands()) {
		t.Errorf("registered %v", names)
	}
}

func TestAdminChannelUnusable(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(srv *Options, s string)
		gone bool // the admin channel is deleted after the start
	}{
		{"channel deleted after the start", func(*Options, string) {}, true},
		{"no channel configured", func(o *Options, _ string) { o.AdminChannelID = "" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t)
			a, _ := start(t, srv, func(o *Options) { tc.edit(o, "") })
			if tc.gone {
				srv.DeleteChannel(srv.AdminChannelID)
			}
			_, err := a.AdminChannel().Post(t.Context(), admin.Message{Content: "x", Image: pngBytes})
			if !errors.Is(err, admin.ErrChannelUnusable) {
				t.Fatalf("err %v, want ErrChannelUnusable", err)
			}
		})
	}
	t.Run("no permission", func(t *testing.T) {
		srv := newServer(t)
		a, _ := start(t, srv, nil)
		srv.SetBotPermissions(0x400) // view channels only
		srv.SetRolePermissions(srv.EveryoneRoleID, 0x400)
		_, err := a.AdminChannel().Post(t.Context(), admin.Message{Content: "x", Image: pngBytes})
		if !errors.Is(err, admin.ErrChannelUnusable) || !strings.Contains(err.Error(), "50013") && !strings.Contains(strings.ToLower(err.Error()), "permission") {
			t.Fatalf("err %v, want ErrChannelUnusable for missing permissions", err)
		}
	})
}

var pngBytes = []byte("\x89PNG\r\n\x1a\nqr")
