package store

import (
	"context"
	"slices"
	"testing"
)

// The earlier messages of a re-opened session are those settled: relayed
// and delivered, recorded as history, or parked; never one still to be
// delivered, nor one never recorded.
func TestShownBefore(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if err := s.MarkChanged(ctx, []SessionChange{{ID: "s1", SortTime: 1}, {ID: "s2", SortTime: 1}}, 1); err != nil {
		t.Fatal(err)
	}
	res, err := s.RecordObserved(ctx, "s1", []Observed{
		{ID: "old", Skip: true},
		{ID: "done", Payload: []byte("{}")},
		{ID: "parked", Payload: []byte("{}")},
		{ID: "pending", Payload: []byte("{}")},
	}, Cursor{MsgID: "pending"}, true)
	if err != nil || len(res.Queued) != 3 {
		t.Fatal(res, err)
	}
	if _, err := s.RecordObserved(ctx, "s2", []Observed{{ID: "other", Skip: true}}, Cursor{MsgID: "other"}, true); err != nil {
		t.Fatal(err)
	}
	entries, err := s.Entries(ctx, ToDiscord, "s1")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch e.Key {
		case "done":
			err = s.RecordDelivered(ctx, e.ID, []string{"d1"})
		case "parked":
			err = s.RecordParked(ctx, e.ID, "refused")
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ShownBefore(ctx, "s1", []string{"old", "done", "parked", "pending", "unknown", "other"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for id := range got {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if want := []string{"done", "old", "parked"}; !slices.Equal(ids, want) {
		t.Errorf("shown before: %v, want %v", ids, want)
	}
}
