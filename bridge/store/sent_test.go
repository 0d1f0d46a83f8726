package store

import (
	"testing"
)

// TestSentRecordedWithFirstAttempt: the rendering recorded with the first
// attempt is the one kept; later attempts count but do not replace it, and
// it survives a reopen.
func TestSentRecordedWithFirstAttempt(t *testing.T) {
	s, path := openTemp(t)
	ctx := t.Context()
	if _, err := s.QueueReply(ctx, "s1", "c1", "5000", []ReplyPart{{ClientKey: "k1", Payload: []byte(`{}`)}}, ""); err != nil {
		t.Fatal(err)
	}
	es, err := s.Entries(ctx, ToQQ, "s1")
	if err != nil || len(es) != 1 {
		t.Fatalf("entries %v, %v", es, err)
	}
	id := es[0].ID
	if b, err := s.Sent(ctx, id); err != nil || b != nil {
		t.Fatalf("before any attempt: %q, %v; want nothing", b, err)
	}
	if err := s.MarkAttemptSent(ctx, id, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkAttemptSent(ctx, id, []byte("second")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if b, err := s.Sent(ctx, id); err != nil || string(b) != "first" {
		t.Errorf("recorded: %q, %v; want the first attempt's", b, err)
	}
	if e, ok, err := s.Entry(ctx, id); err != nil || !ok || e.Attempts != 2 {
		t.Errorf("entry %+v, %v, %v; want 2 attempts", e, ok, err)
	}
	if b, err := s.Sent(ctx, 999); err != nil || b != nil {
		t.Errorf("unknown entry: %q, %v", b, err)
	}
}
