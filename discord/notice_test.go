package discord

import (
	"strings"
	"testing"
)

func TestPostNoticeAsBotWithoutPings(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	ref, err := a.EnsureChannel(ctx, session("s1", "1", "Alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.PostNotice(ctx, ref, "qmdb-p7.1", "⚠️ A QQ message from Alice could not be shown here: @everyone refused\nAn admin can /retry entry:7.")
	if err != nil {
		t.Fatal(err)
	}
	m, ok := srv.Message(ref.ChannelID, id)
	if !ok {
		t.Fatalf("notice %s not in the channel", id)
	}
	if m.WebhookID != "" || m.Author.ID != a.botID {
		t.Errorf("notice not posted as the bot: author %+v webhook %q", m.Author, m.WebhookID)
	}
	if !strings.Contains(m.Content, "could not be shown here") || !strings.Contains(m.Content, "\nAn admin can /retry entry:7.") || !m.Pinged.None() {
		t.Errorf("notice content %q pinged %+v", m.Content, m.Pinged)
	}

	for _, bad := range []string{"", strings.Repeat("n", 26)} {
		if _, err := a.PostNotice(ctx, ref, bad, "x"); err == nil {
			t.Errorf("nonce %q accepted", bad)
		}
	}
}
