package store

import (
	"context"
	"testing"
	"time"
)

// The placeholder step of a QQ message, as PendingAcks gives it, through
// its lives: parked (post it), posted (nothing to do), retried (nothing
// until settled), delivered (remove it), or skipped (reword it); a post
// whose answer was lost is still asked for once delivered.
func TestPlaceholderSteps(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if err := s.MarkChanged(ctx, []SessionChange{{ID: "s1", SortTime: 10}}, 10); err != nil {
		t.Fatal(err)
	}
	if err := s.SetChannel(ctx, "s1", Channel{ChannelID: "c1"}, "", ""); err != nil {
		t.Fatal(err)
	}
	obs := []Observed{{ID: "a", Sequence: 1, Payload: []byte("{}")}, {ID: "b", Sequence: 2, Payload: []byte("{}")}, {ID: "c", Sequence: 3, Payload: []byte("{}")}}
	if _, err := s.RecordObserved(ctx, "s1", obs, Cursor{MsgID: "c", Seq: 3}, true); err != nil {
		t.Fatal(err)
	}
	es, _ := s.Entries(ctx, ToDiscord, "s1")
	step := func(id int64) (Ack, bool) {
		t.Helper()
		acks, err := s.PendingAcks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range acks {
			if a.EntryID == id {
				return a, true
			}
		}
		return Ack{}, false
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	park := func(id int64) {
		t.Helper()
		must(s.MarkAttempt(ctx, id))
		must(s.RecordParked(ctx, id, "400"))
	}

	// a: parked, posted, retried, delivered: its removal is asked for.
	a := es[0].ID
	park(a)
	if st, ok := step(a); !ok || st.Status != StatusParked || st.Placeholder != "" || st.Reason != "400" {
		t.Fatalf("parked: step %+v, %v", st, ok)
	}
	must(s.PlaceholderPosting(ctx, a))
	must(s.PlaceholderPosted(ctx, a, "900"))
	if st, ok := step(a); ok {
		t.Fatalf("posted while parked: step %+v still asked", st)
	}
	if _, err := s.Retry(ctx, a); err != nil {
		t.Fatal(err)
	}
	if st, ok := step(a); ok {
		t.Fatalf("retried, not settled: step %+v asked", st)
	}
	must(s.RecordDelivered(ctx, a, []string{"901"}))
	if st, ok := step(a); !ok || st.Status != StatusDelivered || st.Placeholder != "900" {
		t.Fatalf("delivered: step %+v, %v", st, ok)
	}
	// The removal, once done, is not pruned away before.
	if n, _ := s.Prune(ctx, s.now().Add(time.Hour)); n != 0 {
		t.Errorf("Prune removed %d entries with a step pending", n)
	}
	must(s.PlaceholderDone(ctx, a, StatusDelivered))
	if _, ok := step(a); ok {
		t.Error("removal done, still asked")
	}

	// b: parked, its post's answer lost, retried and delivered: the post
	// is asked for again (to learn its id, then remove it).
	b := es[1].ID
	park(b)
	must(s.PlaceholderPosting(ctx, b))
	if _, err := s.Retry(ctx, b); err != nil {
		t.Fatal(err)
	}
	must(s.RecordDelivered(ctx, b, []string{"902"}))
	if st, ok := step(b); !ok || st.Placeholder != PlaceholderUnknown {
		t.Fatalf("delivered after a lost post: step %+v, %v", st, ok)
	}
	must(s.PlaceholderPosted(ctx, b, "903"))
	if st, ok := step(b); !ok || st.Placeholder != "903" || st.Status != StatusDelivered {
		t.Fatalf("its id learnt: step %+v, %v", st, ok)
	}

	// c: parked, posted, then skipped: reword it; a step done for the
	// status it had before the skip does not cancel that.
	c := es[2].ID
	park(c)
	must(s.PlaceholderPosting(ctx, c))
	must(s.PlaceholderPosted(ctx, c, "904"))
	if _, err := s.Skip(ctx, c, "skipped by an admin"); err != nil {
		t.Fatal(err)
	}
	must(s.PlaceholderDone(ctx, c, StatusParked))
	if st, ok := step(c); !ok || st.Status != StatusSkipped || st.Placeholder != "904" {
		t.Fatalf("skipped: step %+v, %v", st, ok)
	}
	must(s.PlaceholderDone(ctx, c, StatusSkipped))
	if _, ok := step(c); ok {
		t.Error("rewording done, still asked")
	}
}
