package discord

import "testing"

func TestLastMessageIDs(t *testing.T) {
	for _, mode := range []string{ModeChannels, ModeForum} {
		t.Run(mode, func(t *testing.T) {
			srv := newServer(t)
			a, _ := start(t, srv, func(o *Options) { o.Mode = mode })
			ctx := t.Context()
			quiet, err := a.EnsureChannel(ctx, session("s1", "1", "Alice"), nil)
			if err != nil {
				t.Fatal(err)
			}
			busy, err := a.EnsureChannel(ctx, session("s2", "2", "Bob"), nil)
			if err != nil {
				t.Fatal(err)
			}
			before, err := a.LastMessageIDs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			m := srv.Type(busy.ChannelID, srv.AdminUserID, "written while the bridge was away")
			after, err := a.LastMessageIDs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := after[quiet.ChannelID]; !ok || after[quiet.ChannelID] != before[quiet.ChannelID] {
				t.Errorf("quiet channel: %q then %q", before[quiet.ChannelID], after[quiet.ChannelID])
			}
			if after[busy.ChannelID] != m.ID {
				t.Errorf("busy channel's last message %q, want %q", after[busy.ChannelID], m.ID)
			}
		})
	}
}
