package qqport

import (
	"fmt"
	"strings"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

func posOf(msgs []bridge.Message) bridge.ReadPos {
	pos := bridge.ReadPos{MsgID: msgs[len(msgs)-1].ID}
	for _, m := range msgs {
		pos.Seq = max(pos.Seq, m.Sequence)
	}
	return pos
}

func deliverTexts(t *testing.T, s *qqtest.Server, sid string, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		deliver(t, s, sid, qqtest.Text(fmt.Sprintf("m%02d", i)))
	}
}

func wantTexts(from, to int) string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("m%02d", i))
	}
	return strings.Join(out, " ")
}

// Every read below must return exactly the messages delivered since the
// previous one, in delivery order, whatever the quirk.
func TestMessagesUnderQuirks(t *testing.T) {
	for _, tc := range []struct {
		name string
		q    qqtest.Quirks
	}{
		{"no sequence", qqtest.Quirks{NoSequenceEvery: 3}},
		{"sequence 0", qqtest.Quirks{ZeroSequenceEvery: 2}},
		{"both, and repeated page edges", qqtest.Quirks{NoSequenceEvery: 5, ZeroSequenceEvery: 3, RepeatPageEdge: true}},
	} {
		for _, newestFirst := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/newestFirst=%v", tc.name, newestFirst), func(t *testing.T) {
				s, p := newPort(t, qqtest.WithPageOrder(newestFirst), qqtest.WithMaxPageSizes(20, 3))
				s.SetQuirks(tc.q)
				ctx := ctxT(t)
				sid := s.AddSession(s.AddUser(qqtest.User{Nick: "Ann"}))
				deliverTexts(t, s, sid, 1, 12)
				got, err := p.Messages(ctx, sid, bridge.ReadPos{}, 0)
				if err != nil {
					t.Fatal(err)
				}
				if g := strings.Join(texts(got), " "); g != wantTexts(1, 12) {
					t.Fatalf("first read = %s, want %s", g, wantTexts(1, 12))
				}
				// A burst: the newest-first read must not stop at a message
				// without sequence, nor skip one.
				pos := posOf(got)
				deliverTexts(t, s, sid, 13, 19)
				got, err = p.Messages(ctx, sid, pos, 100)
				if err != nil {
					t.Fatal(err)
				}
				if g := strings.Join(texts(got), " "); g != wantTexts(13, 19) {
					t.Fatalf("after %+v = %s, want %s", pos, g, wantTexts(13, 19))
				}
				// Nothing new: nothing returned.
				got, err = p.Messages(ctx, sid, posOf(got), 100)
				if err != nil || len(got) != 0 {
					t.Fatalf("idle read = %v %v, want nothing", texts(got), err)
				}
			})
		}
	}
}

func TestMessagesOfARecreatedConversation(t *testing.T) {
	for _, tc := range []struct {
		newestFirst bool
		old, new    int // messages before the deletion, and after
	}{
		{true, 9, 4}, {false, 9, 4},
		// More new messages than the old ones: their sequences pass the
		// old position.
		{true, 3, 7}, {false, 3, 7},
	} {
		newestFirst := tc.newestFirst
		t.Run(fmt.Sprintf("newestFirst=%v/old=%d/new=%d", newestFirst, tc.old, tc.new), func(t *testing.T) {
			s, p := newPort(t, qqtest.WithPageOrder(newestFirst), qqtest.WithMaxPageSizes(20, 3))
			s.SetQuirks(qqtest.Quirks{RecreateResetsSequence: true})
			ctx := ctxT(t)
			sid := s.AddSession(s.AddUser(qqtest.User{Nick: "Ben"}))
			deliverTexts(t, s, sid, 1, tc.old)
			got, err := p.Messages(ctx, sid, bridge.ReadPos{}, 0)
			if err != nil || len(got) != tc.old {
				t.Fatalf("first read: %v %v", texts(got), err)
			}
			pos := posOf(got)
			if err := s.DeleteSession(sid); err != nil {
				t.Fatal(err)
			}
			from, to := tc.old+1, tc.old+tc.new
			deliverTexts(t, s, sid, from, to) // sequences from 1 again
			got, err = p.Messages(ctx, sid, pos, 100)
			if err != nil {
				t.Fatal(err)
			}
			if g := strings.Join(texts(got), " "); g != wantTexts(from, to) || got[0].Sequence != 1 {
				t.Fatalf("after re-creation = %s (first sequence %d), want %s from sequence 1", g, got[0].Sequence, wantTexts(from, to))
			}
		})
	}
}

// A restart against an oldest-first server starts at the stored read
// position: a 5,000-message session costs 2 pages (one to tell the order,
// one from the position), not the 100 of its whole history.
func TestRestartOldestFirstReadsFromThePosition(t *testing.T) {
	s, p := newPort(t, qqtest.WithPageOrder(false))
	ctx := ctxT(t)
	sid := s.AddSession(s.AddUser(qqtest.User{Nick: "Cy"}))
	for i := range 5000 {
		deliver(t, s, sid, qqtest.Text(fmt.Sprintf("h%d", i)))
	}
	all := s.Messages(sid)
	pos := bridge.ReadPos{Seq: all[len(all)-1].Sequence, MsgID: all[len(all)-1].ID}
	deliverTexts(t, s, sid, 1, 3)

	restarted := New(p.c) // a new process: no memory of the order or the tail
	s.ResetCounts()
	got, err := restarted.Messages(ctx, sid, pos, 500)
	if err != nil {
		t.Fatal(err)
	}
	if g := strings.Join(texts(got), " "); g != wantTexts(1, 3) {
		t.Fatalf("after restart = %s, want %s", g, wantTexts(1, 3))
	}
	if n := s.Count("GetMessage"); n != 2 {
		t.Errorf("restart read %d pages, want 2", n)
	}
	// A position that is gone costs at most ScanPages, and says so rather
	// than return the oldest history as new.
	restarted = New(p.c)
	s.ResetCounts()
	_, err = restarted.Messages(ctx, sid, bridge.ReadPos{Seq: 9999, MsgID: "gone"}, 500)
	if n := s.Count("GetMessage"); n > ScanPages+2 {
		t.Errorf("a lost position read %d pages, want at most %d", n, ScanPages+2)
	}
	if err == nil {
		t.Error("a lost position on a history longer than the scan cap: no error")
	}
}

func TestFindSentIsCapped(t *testing.T) {
	for _, newestFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("newestFirst=%v", newestFirst), func(t *testing.T) {
			s, p := newPort(t, qqtest.WithPageOrder(newestFirst))
			ctx := ctxT(t)
			di := s.AddUser(qqtest.User{Nick: "Di"})
			sid := s.AddSession(di)
			for i := range 1000 {
				deliver(t, s, sid, qqtest.Text(fmt.Sprintf("h%d", i)))
			}
			s.ResetCounts()
			_, found, err := p.FindSent(ctx, sid, "never-sent")
			pages := s.Count("GetMessage")
			if pages > findSentScan/50+2 {
				t.Errorf("FindSent read %d pages, want at most %d", pages, findSentScan/50+2)
			}
			if found {
				t.Error("found a key never sent")
			}
			if !newestFirst && err == nil {
				t.Error("oldest first, cut short before the newest: FindSent claims not found")
			}
			if newestFirst && err != nil {
				t.Errorf("newest first: %v", err)
			}
			// Once the session was read, an oldest-first FindSent starts at
			// the newest message read and finds a fresh send.
			if _, err := p.Messages(ctx, sid, bridge.ReadPos{Seq: 999, MsgID: s.Messages(sid)[998].ID}, 10); err != nil {
				t.Fatal(err)
			}
			if _, err := p.SendText(ctx, bridge.OutgoingText{SessionID: sid, PeerUIN: fmt.Sprint(di.UIN), Text: "hi", ClientKey: "dc-9"}); err != nil {
				t.Fatal(err)
			}
			if _, found, err := p.FindSent(ctx, sid, "dc-9"); err != nil || !found {
				t.Errorf("FindSent of a fresh send = %v %v", found, err)
			}
		})
	}
}
