package store

import (
	"context"
	"testing"
)

// TestDeletedBeforeSentIsCancelled: deleting a member's message cancels
// its parts no attempt started, and leaves those that may have been sent;
// a correction is queued once per key.
func TestDeletedBeforeSentIsCancelled(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if err := s.MarkChanged(ctx, []SessionChange{{ID: "s1", SortTime: 10}}, 10); err != nil {
		t.Fatal(err)
	}
	if err := s.SetChannel(ctx, "s1", Channel{ChannelID: "c1"}, "", ""); err != nil {
		t.Fatal(err)
	}
	parts := []ReplyPart{{ClientKey: "k0", Payload: []byte("p0")}, {ClientKey: "k1", Payload: []byte("p1")}}
	if _, err := s.QueueReply(ctx, "s1", "c1", "5000", parts, ""); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		ok, err := s.QueueCorrection(ctx, "s1", "c1", "5000", "5000#edit-1", ReplyPart{ClientKey: "ke", Payload: []byte("fix")})
		if err != nil || ok != (i == 0) {
			t.Fatalf("QueueCorrection #%d = %v, %v", i+1, ok, err)
		}
	}
	es, err := s.ReplyEntries(ctx, "c1", "5000")
	if err != nil || len(es) != 3 || es[2].Key != "5000#edit-1" {
		t.Fatalf("ReplyEntries = %+v, %v", es, err)
	}
	if err := s.MarkAttempt(ctx, es[0].ID); err != nil { // the first part may have been sent
		t.Fatal(err)
	}
	n, err := s.CancelUnsent(ctx, "c1", "5000", "deleted in Discord before it was sent")
	if err != nil || n != 2 {
		t.Fatalf("CancelUnsent = %d, %v; want 2", n, err)
	}
	es, _ = s.ReplyEntries(ctx, "c1", "5000")
	if es[0].State != StatePending || es[1].State != StateFailed || es[1].Status != StatusSkipped || es[1].LastError == "" || es[2].State != StateFailed {
		t.Errorf("after the deletion: %+v", es)
	}
	if acks, _ := s.PendingAcks(ctx); len(acks) != 0 {
		t.Errorf("a deleted message waits for a mark: %+v", acks)
	}
}
