package discord

import (
	"strings"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
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

// A notice is reworded and deleted; one deleted already (by a moderator)
// is done, Discord failing for a moment is retried, and Discord refusing
// for good is a permanent outcome.
func TestEditAndDeleteNotice(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	ref, err := a.EnsureChannel(ctx, session("s1", "1", "Alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	post := func(nonce string) string {
		t.Helper()
		id, err := a.PostNotice(ctx, ref, nonce, "⚠️ A QQ message could not be shown here: refused")
		if err != nil {
			t.Fatal(err)
		}
		return id
	}

	id := post("qmdb-p1")
	if err := a.EditNotice(ctx, ref.ChannelID, id, "⚠️ skipped by an admin, @everyone"); err != nil {
		t.Fatal(err)
	}
	if m, _ := srv.Message(ref.ChannelID, id); !strings.HasPrefix(m.Content, "⚠️ skipped by an admin, @") {
		t.Errorf("reworded notice = %q", m.Content)
	} else if !m.Pinged.None() {
		t.Errorf("the reworded notice pinged %+v", m.Pinged)
	}
	srv.FailRoute("DELETE", "/channels/*/messages/*", 2, 502)
	if err := a.DeleteNotice(ctx, ref.ChannelID, id); err != nil {
		t.Fatalf("DeleteNotice with Discord failing twice: %v", err)
	}
	if _, ok := srv.Message(ref.ChannelID, id); ok {
		t.Error("the notice is still in the channel")
	}
	if err := a.DeleteNotice(ctx, ref.ChannelID, id); err != nil {
		t.Errorf("deleting a notice deleted already: %v", err)
	}
	if err := a.EditNotice(ctx, ref.ChannelID, id, "x"); err != nil {
		t.Errorf("rewording a notice deleted by someone: %v", err)
	}

	id = post("qmdb-p2")
	srv.FailRoute("DELETE", "/channels/*/messages/*", 1, 403)
	err = a.DeleteNotice(ctx, ref.ChannelID, id)
	if bridge.OutcomeOf(err) != bridge.CallPermanent {
		t.Errorf("DeleteNotice refused with 403: %v, want a permanent outcome", err)
	}
	if _, ok := srv.Message(ref.ChannelID, id); !ok {
		t.Error("a refused deletion deleted the notice")
	}
	for _, bad := range [][2]string{{"", id}, {ref.ChannelID, ""}} {
		if err := a.DeleteNotice(ctx, bad[0], bad[1]); err == nil {
			t.Errorf("DeleteNotice(%q, %q) accepted", bad[0], bad[1])
		}
	}
}
