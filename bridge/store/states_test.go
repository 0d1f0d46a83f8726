package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestMigrationGivesOldEntriesTheirStatus(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "bridge.db")
	if err := prepareFile(p); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", p)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := migrations()
	raw := &Store{db: db, path: p, now: time.Now}
	for _, m := range ms[:2] {
		if err := raw.migrate(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`INSERT INTO outbox (direction, session_id, key, payload, created_at) VALUES ('discord', 's1', 'new', x'', 1)`,
		`INSERT INTO outbox (direction, session_id, key, payload, attempts, created_at) VALUES ('discord', 's1', 'tried', x'', 2, 2)`,
		`INSERT INTO outbox (direction, session_id, key, payload, state, created_at) VALUES ('discord', 's1', 'gaveup', x'', 'failed', 3)`,
		`INSERT INTO outbox (direction, session_id, key, payload, state, created_at) VALUES ('discord', 's1', 'done', x'', 'delivered', 4)`,
		`INSERT INTO outbox (direction, session_id, key, channel_id, discord_msg_id, payload, state, created_at) VALUES ('qq', 's1', '9#0', 'c1', '9', x'', 'failed', 5)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := map[string]string{"new": StatusPending, "tried": StatusAmbiguous, "gaveup": StatusParked, "done": StatusDelivered}
	es, err := s.Entries(ctx, ToDiscord, "s1")
	if err != nil || len(es) != 4 {
		t.Fatalf("Entries = %+v, %v", es, err)
	}
	for _, e := range es {
		if e.Status != want[e.Key] {
			t.Errorf("entry %s: status %q, want %q", e.Key, e.Status, want[e.Key])
		}
	}
	if es, _ := s.Entries(ctx, ToQQ, "s1"); len(es) != 1 || es[0].Status != StatusRefused {
		t.Errorf("refused reply after migration = %+v", es)
	}
}

func TestRetryAndSkipTakeTheOtherPartsOfAReply(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if err := s.MarkChanged(ctx, []SessionChange{{ID: "s1", SortTime: 10}}, 10); err != nil {
		t.Fatal(err)
	}
	parts := []ReplyPart{{ClientKey: "k0", Payload: []byte("p0")}, {ClientKey: "k1", Payload: []byte("p1")}, {ClientKey: "k2", Payload: []byte("p2")}}
	if _, err := s.QueueReply(ctx, "s1", "c1", "500", parts, ""); err != nil {
		t.Fatal(err)
	}
	es, _ := s.Entries(ctx, ToQQ, "s1")
	if err := s.MarkAttempt(ctx, es[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordParked(ctx, es[0].ID, "refused"); err != nil {
		t.Fatal(err)
	}
	status := func() string {
		es, _ := s.Entries(ctx, ToQQ, "s1")
		out := ""
		for _, e := range es {
			out += e.Status + " "
		}
		return out
	}
	if got := status(); got != "parked parked parked " {
		t.Fatalf("after parking part 0: %s", got)
	}
	if stuck, _ := s.Stuck(ctx, "s1", 0); len(stuck) != 3 {
		t.Errorf("Stuck = %d entries, want 3", len(stuck))
	}
	// Retry of any part revives the three, in order; the part tried
	// before keeps one attempt, so it is reconciled first.
	if n, err := s.Retry(ctx, es[1].ID); err != nil || n != 3 {
		t.Fatalf("Retry = %d, %v", n, err)
	}
	if got := status(); got != "pending pending pending " {
		t.Fatalf("after retry: %s", got)
	}
	if e, _, _ := s.Entry(ctx, es[0].ID); e.Attempts != 1 || e.State != StatePending {
		t.Errorf("revived part 0 = %+v", e)
	}
	if heads, _ := s.Heads(ctx); len(heads) != 1 || heads[0].ID != es[0].ID {
		t.Errorf("heads after retry = %+v", heads)
	}
	if _, err := s.Retry(ctx, es[0].ID); !errors.Is(err, ErrEntryState) {
		t.Errorf("Retry of a pending entry = %v, want ErrEntryState", err)
	}
	// Part 0 delivered; skipping part 1 skips part 2 and asks for the mark.
	if err := s.RecordDelivered(ctx, es[0].ID, []string{"q0"}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Skip(ctx, es[1].ID, "skipped by an admin"); err != nil || n != 2 {
		t.Fatalf("Skip = %d, %v", n, err)
	}
	if got := status(); got != "delivered skipped skipped " {
		t.Fatalf("after skip: %s", got)
	}
	acks, _ := s.PendingAcks(ctx)
	if len(acks) != 1 || acks[0].Delivered || acks[0].Reason != "skipped by an admin" {
		t.Errorf("PendingAcks = %+v", acks)
	}
	if _, err := s.Skip(ctx, 9999, "x"); !errors.Is(err, ErrNoEntry) {
		t.Errorf("Skip of no entry = %v, want ErrNoEntry", err)
	}
}

func TestSkipSessionLeavesAnAttemptInFlight(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if err := s.MarkChanged(ctx, []SessionChange{{ID: "s1", SortTime: 10}}, 10); err != nil {
		t.Fatal(err)
	}
	if err := s.SetChannel(ctx, "s1", Channel{ChannelID: "c1"}, "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordObserved(ctx, "s1", []Observed{{ID: "a", Sequence: 1, Payload: []byte("{}")}, {ID: "b", Sequence: 2, Payload: []byte("{}")}, {ID: "c", Sequence: 3, Payload: []byte("{}")}}, Cursor{MsgID: "c", Seq: 3}, true); err != nil {
		t.Fatal(err)
	}
	es, _ := s.Entries(ctx, ToDiscord, "s1")
	if err := s.MarkAttempt(ctx, es[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordParked(ctx, es[1].ID, "400"); err != nil {
		t.Fatal(err)
	}
	skipped, busy, err := s.SkipSession(ctx, "s1", "skipped by an admin")
	if err != nil || skipped != 2 || busy != 1 {
		t.Fatalf("SkipSession = %d skipped, %d busy, %v", skipped, busy, err)
	}
	if _, err := s.Skip(ctx, es[0].ID, "x"); !errors.Is(err, ErrEntryState) {
		t.Errorf("Skip of an attempt in flight = %v, want ErrEntryState", err)
	}
	// A delivery skipped just before its attempt is not attempted.
	if err := s.MarkAttempt(ctx, es[2].ID); !errors.Is(err, ErrEntryState) {
		t.Errorf("MarkAttempt of a skipped entry = %v, want ErrEntryState", err)
	}
	if n, err := s.RetrySession(ctx, "s1"); err != nil || n != 0 {
		t.Errorf("RetrySession with nothing parked = %d, %v", n, err)
	}
}
