package store

import (
	"context"
	"fmt"
	"testing"
)

// The read position follows the newest message read, sequence or not,
// goes back only when told (a re-created conversation), and survives a
// read that found nothing.
func TestReadPositionMoves(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		cursors []Cursor
		wantID  string
		wantSeq int64
	}{
		{"newest with a sequence", []Cursor{{MsgID: "a", Seq: 3}, {MsgID: "b", Seq: 5}}, "b", 5},
		{"newest without sequence", []Cursor{{MsgID: "a", Seq: 3}, {MsgID: "n", Seq: 3}}, "n", 3},
		{"an older read does not move it back", []Cursor{{MsgID: "b", Seq: 5}, {MsgID: "a", Seq: 3}}, "b", 5},
		{"a re-created conversation moves it back", []Cursor{{MsgID: "b", Seq: 5}, {MsgID: "r", Seq: 2, Reset: true}}, "r", 2},
		{"an empty read keeps it", []Cursor{{MsgID: "n", Seq: 0}, {}}, "n", 0},
		{"an empty reset keeps it", []Cursor{{MsgID: "b", Seq: 5}, {Reset: true}}, "b", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openTemp(t)
			if err := s.MarkChanged(ctx, []SessionChange{{ID: "s1", SortTime: 1}}, 1); err != nil {
				t.Fatal(err)
			}
			for i, c := range tc.cursors {
				var obs []Observed
				if c.MsgID != "" {
					obs = []Observed{{ID: fmt.Sprintf("%s-%d", c.MsgID, i), Skip: true}}
				}
				if _, err := s.RecordObserved(ctx, "s1", obs, c, true); err != nil {
					t.Fatal(err)
				}
			}
			got, _, err := s.Session(ctx, "s1")
			if err != nil || got.LastMsgID != tc.wantID || got.LastSeq != tc.wantSeq {
				t.Errorf("position %q/%d (%v), want %q/%d", got.LastMsgID, got.LastSeq, err, tc.wantID, tc.wantSeq)
			}
		})
	}
}

// A dormant session is recorded without being dirty, with its newest
// message as its position; a later change makes it dirty. The sweep's
// list holds bridged, clean sessions, newest first.
func TestDormantSessionsAndSweepList(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if err := s.MarkChanged(ctx, []SessionChange{
		{ID: "old", SortTime: 5, Dormant: true, LastMsgID: "m9"},
		{ID: "a", SortTime: 7}, {ID: "b", SortTime: 9}, {ID: "c", SortTime: 8},
	}, 9); err != nil {
		t.Fatal(err)
	}
	old, _, _ := s.Session(ctx, "old")
	if old.Dirty || old.LastMsgID != "m9" || old.Backfilled {
		t.Errorf("dormant session %+v", old)
	}
	for _, id := range []string{"a", "b", "c"} {
		if err := s.SetChannel(ctx, id, Channel{ChannelID: "ch-" + id}, "", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RecordObserved(ctx, id, nil, Cursor{}, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.MarkDirty(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	ids, err := s.RecentSessions(ctx, 5)
	if err != nil || fmt.Sprint(ids) != "[b a]" {
		t.Errorf("RecentSessions = %v %v, want [b a] (c is dirty, old has no channel)", ids, err)
	}
	if err := s.MarkChanged(ctx, []SessionChange{{ID: "old", SortTime: 10}}, 10); err != nil {
		t.Fatal(err)
	}
	if old, _, _ = s.Session(ctx, "old"); !old.Dirty {
		t.Error("a dormant session that changed is not dirty")
	}
}
