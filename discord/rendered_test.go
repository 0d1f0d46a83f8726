package discord

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// TestFindPostedComparesTheRecordedParts: a message is found by what was
// recorded and posted, even when rendering it again would give something
// else (the sender renamed, the text changed, a new rendering).
func TestFindPostedComparesTheRecordedParts(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	s := session("s1", "1", "Alice")
	ref, err := a.EnsureChannel(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := textMsg("m1", "hello", s.Peer)
	r := mustRender(t, a, m)
	var rec recorded
	if err := json.Unmarshal(r, &rec); err != nil || rec.V != renderedVersion || rec.Username != "Alice" || len(rec.Parts) != 1 || rec.Parts[0].Content != "hello" {
		t.Fatalf("recorded rendering %s (%v)", r, err)
	}
	ids, err := a.Post(ctx, ref, r)
	if err != nil {
		t.Fatal(err)
	}
	m.Sender.Nick = "Alicia"
	m.Text = "hello, edited"
	if _, found, err := a.FindPosted(ctx, ref, "", mustRender(t, a, m)); err != nil || found {
		t.Errorf("a different rendering found: %v, %v", found, err)
	}
	got, found, err := a.FindPosted(ctx, ref, "", r)
	if err != nil || !found || !slices.Equal(got, ids) {
		t.Errorf("FindPosted(recorded) = %v, %v, %v; want %v", got, found, err, ids)
	}
	if _, _, err := a.FindPosted(ctx, ref, "", bridge.Rendered("not json")); bridge.OutcomeOf(err) != bridge.CallPermanent {
		t.Errorf("unreadable rendering: %v, want permanent", err)
	}
}
