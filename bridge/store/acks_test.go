package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// queueDelivered gives each of sessions one channel and n replies
// delivered to QQ, whose marks wait; the first reply of each session has
// a second part that failed (its mark says why).
func queueDelivered(t *testing.T, s *Store, sessions, n int) {
	t.Helper()
	ctx := context.Background()
	var changes []SessionChange
	for i := range sessions {
		changes = append(changes, SessionChange{ID: fmt.Sprintf("s%d", i), SortTime: 10})
	}
	if err := s.MarkChanged(ctx, changes, 10); err != nil {
		t.Fatal(err)
	}
	for i := range sessions {
		sid, ch := fmt.Sprintf("s%d", i), fmt.Sprintf("c%d", i)
		if err := s.SetChannel(ctx, sid, Channel{ChannelID: ch}, "", ""); err != nil {
			t.Fatal(err)
		}
		for j := range n {
			msg := fmt.Sprintf("%d", 100000+i*1000+j)
			parts := []ReplyPart{{ClientKey: "k" + msg + "-0", Payload: []byte("p")}}
			if j == 0 {
				parts = append(parts, ReplyPart{ClientKey: "k" + msg + "-1", Payload: []byte("p")})
			}
			if _, err := s.QueueReply(ctx, sid, ch, msg, parts, ""); err != nil {
				t.Fatal(err)
			}
		}
		es, err := s.Entries(ctx, ToQQ, sid)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			var err error
			if e.Part == 1 {
				err = s.RecordParked(ctx, e.ID, "QQ refused it")
			} else {
				err = s.RecordDelivered(ctx, e.ID, []string{"q" + e.Key})
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestPendingAcksOfReadsOneSession(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	queueDelivered(t, s, 3, 2)
	all, err := s.PendingAcks(ctx)
	if err != nil || len(all) != 6 {
		t.Fatalf("PendingAcks = %d marks, %v; want 6", len(all), err)
	}
	tests := []struct {
		session string
		want    int
	}{
		{"s0", 2},
		{"s2", 2},
		{"nobody", 0},
		{"", 0},
	}
	for _, tt := range tests {
		got, err := s.PendingAcksOf(ctx, tt.session)
		if err != nil || len(got) != tt.want {
			t.Errorf("PendingAcksOf(%q) = %d marks, %v; want %d", tt.session, len(got), err, tt.want)
		}
		for _, a := range got {
			if a.SessionID != tt.session {
				t.Errorf("PendingAcksOf(%q) gave a mark of %s", tt.session, a.SessionID)
			}
		}
	}
	// The first reply of each session lost its second part: ❌ with QQ's
	// reason; the others are ✅.
	for _, a := range all {
		wantFailed := strings.HasSuffix(a.DiscordMsgID, "000")
		if a.Delivered == wantFailed || wantFailed && a.Reason != "QQ refused it" {
			t.Errorf("mark of %s/%s = delivered %v reason %q", a.SessionID, a.DiscordMsgID, a.Delivered, a.Reason)
		}
	}
}

// The marks waiting are read after every portal round, on the store's one
// connection. With a mark per reply waiting (a Discord slow to take
// reactions) and every reply ever kept in the outbox, finding whether a
// reply failed must be a look-up, not a scan of the outbox per mark: that
// made one read take seconds and stalled polls and deliveries (issue 13,
// the full-size applied-then-failed proof).
func TestPendingAcksLookUpFailedPartsByIndex(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	queueDelivered(t, s, 2, 3)
	for _, where := range []string{"o.ack = 1", "o.ack = 1 AND o.session_id = 's0'"} {
		rows, err := s.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+acksQuery(where))
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		subqueries := 0
		for _, d := range plan {
			if strings.HasPrefix(d, "SCAN f") {
				t.Errorf("the marks' query scans the outbox per mark (%s):\n%s", where, strings.Join(plan, "\n"))
			}
			if strings.Contains(d, "f USING") && strings.Contains(d, "outbox_reply") {
				subqueries++
			}
		}
		if subqueries != 2 {
			t.Errorf("the marks' query looks up failed parts through outbox_reply %d times, want 2 (%s):\n%s", subqueries, where, strings.Join(plan, "\n"))
		}
	}
}
