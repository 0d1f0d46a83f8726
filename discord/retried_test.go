package discord

import "testing"

// A reply marked ❌ and later delivered by an admin's /retry shows ✅ only;
// marking it delivered again changes nothing.
func TestMarkDeliveredAfterFailureTakesTheCrossOff(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	ref, err := a.EnsureChannel(ctx, session("s1", "1", "Alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := srv.Type(ref.ChannelID, srv.AdminUserID, "hello")
	if err := a.MarkFailed(ctx, ref.ChannelID, msg.ID, "QQ refused it"); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := a.MarkDelivered(ctx, ref.ChannelID, msg.ID); err != nil {
			t.Fatalf("mark delivered (%d): %v", i+1, err)
		}
		m, _ := srv.Message(ref.ChannelID, msg.ID)
		if len(m.Reactions) != 1 || m.Reactions[0].Emoji.Name != "✅" || !m.Reactions[0].Me {
			t.Errorf("after mark %d, reactions %+v; want ✅ only", i+1, m.Reactions)
		}
	}
}
