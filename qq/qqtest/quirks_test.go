package qqtest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// readPage reads one message page of a session.
func readPage(t *testing.T, c *client, id, lastID string, size int) []map[string]any {
	t.Helper()
	param := map[string]any{"order": 1, "size": size, "flag": 0, "session_id": id}
	if lastID != "" {
		param["last_id"] = lastID
	}
	code, data := c.call(qqtest.ModuleRead, "GetMessage", param)
	if code != 0 {
		t.Fatalf("GetMessage: code %d", code)
	}
	return list(data["messages"])
}

func TestQuirksOffByDefault(t *testing.T) {
	s, c, clk := newEnv(t)
	id := s.AddSession(qqtest.User{})
	for range 4 {
		clk.Advance(time.Millisecond)
		if _, err := s.Deliver(id, qqtest.Text("x")); err != nil {
			t.Fatal(err)
		}
	}
	msgs := readPage(t, c, id, "", 10)
	last := int64(0)
	for _, m := range msgs {
		if _, ok := m["sequence"]; !ok || num(m["sequence"]) <= 0 {
			t.Errorf("message %v: sequence %v, want one above 0", m["id"], m["sequence"])
		}
		st := int64(num(m["sort_time"]))
		if last != 0 && st >= last {
			t.Errorf("sort_time %d not below the newer message's %d", st, last)
		}
		last = st
	}
}

func TestQuirkSequences(t *testing.T) {
	for _, tc := range []struct {
		name   string
		q      qqtest.Quirks
		absent []int // indexes (oldest first) without "sequence"
		zero   []int
	}{
		{"no sequence every 3rd", qqtest.Quirks{NoSequenceEvery: 3}, []int{2, 5}, nil},
		{"sequence 0 every 2nd", qqtest.Quirks{ZeroSequenceEvery: 2}, nil, []int{1, 3, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c, _ := newEnv(t, qqtest.WithPageOrder(false))
			s.SetQuirks(tc.q)
			id := s.AddSession(qqtest.User{})
			for range 6 {
				if _, err := s.Deliver(id, qqtest.Text("x")); err != nil {
					t.Fatal(err)
				}
			}
			var absent, zero []int
			for i, m := range readPage(t, c, id, "", 10) {
				v, ok := m["sequence"]
				switch {
				case !ok:
					absent = append(absent, i)
				case num(v) == 0:
					zero = append(zero, i)
				}
			}
			if fmt.Sprint(absent) != fmt.Sprint(tc.absent) || fmt.Sprint(zero) != fmt.Sprint(tc.zero) {
				t.Errorf("without sequence %v, with 0 %v; want %v and %v", absent, zero, tc.absent, tc.zero)
			}
		})
	}
}

func TestQuirkSortTimes(t *testing.T) {
	s, c, clk := newEnv(t)
	s.SetQuirks(qqtest.Quirks{CoarseSortTime: true, LazySortTimeEvery: 3})
	a := s.AddSession(qqtest.User{Nick: "a"})
	b := s.AddSession(qqtest.User{Nick: "b"})
	clk.Advance(time.Second)
	for _, id := range []string{a, b} { // the 1st and 2nd messages: both bump, same second
		if _, err := s.Deliver(id, qqtest.Text("x")); err != nil {
			t.Fatal(err)
		}
	}
	sa, _ := s.Session(a)
	sb, _ := s.Session(b)
	if sa.SortTime != sb.SortTime || sa.SortTime != clk.Now().Unix() {
		t.Errorf("sort_times %d and %d, want both %d (whole seconds, tied)", sa.SortTime, sb.SortTime, clk.Now().Unix())
	}
	clk.Advance(5 * time.Second)
	if _, err := s.Deliver(a, qqtest.Text("lazy")); err != nil { // the 3rd: not bumped
		t.Fatal(err)
	}
	if got, _ := s.Session(a); got.SortTime != sa.SortTime {
		t.Errorf("sort_time moved to %d on a lazy message, want %d", got.SortTime, sa.SortTime)
	}
	code, data := c.call(qqtest.ModuleRead, "GetSessionList", sessionListParam("", 0, 20))
	if code != 0 || len(list(data["sessions"])) != 2 {
		t.Fatalf("GetSessionList: code %d, %v", code, data)
	}
}

func TestQuirkRecreatedSession(t *testing.T) {
	for _, reset := range []bool{false, true} {
		t.Run(fmt.Sprint("reset=", reset), func(t *testing.T) {
			s, c, _ := newEnv(t)
			s.SetQuirks(qqtest.Quirks{RecreateResetsSequence: reset})
			id := s.AddSession(qqtest.User{})
			for range 3 {
				if _, err := s.Deliver(id, qqtest.Text("old")); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.DeleteSession(id); err != nil {
				t.Fatal(err)
			}
			if got := s.Sessions(); len(got) != 0 {
				t.Fatalf("deleted session still listed: %v", got)
			}
			m, err := s.Deliver(id, qqtest.Text("new"))
			if err != nil {
				t.Fatal(err)
			}
			want := int64(4)
			if reset {
				want = 1
			}
			if m.Sequence != want || m.SessionID != id {
				t.Errorf("new message in session %s with sequence %d, want %s and %d", m.SessionID, m.Sequence, id, want)
			}
			if msgs := readPage(t, c, id, "", 10); len(msgs) != 1 {
				t.Errorf("re-created session shows %d messages, want only the new one", len(msgs))
			}
		})
	}
}

func TestQuirkRepeatPageEdge(t *testing.T) {
	for _, newestFirst := range []bool{true, false} {
		t.Run(fmt.Sprint("newestFirst=", newestFirst), func(t *testing.T) {
			s, c, _ := newEnv(t, qqtest.WithPageOrder(newestFirst))
			s.SetQuirks(qqtest.Quirks{RepeatPageEdge: true})
			id := s.AddSession(qqtest.User{})
			for range 5 {
				if _, err := s.Deliver(id, qqtest.Text("x")); err != nil {
					t.Fatal(err)
				}
			}
			p1 := readPage(t, c, id, "", 2)
			p2 := readPage(t, c, id, str(p1[1]["id"]), 2)
			if str(p2[0]["id"]) != str(p1[1]["id"]) {
				t.Errorf("second page starts with %v, want the first page's last %v", p2[0]["id"], p1[1]["id"])
			}
			// The session list repeats its edge too.
			for range 3 {
				s.AddSession(qqtest.User{})
			}
			code, d1 := c.call(qqtest.ModuleRead, "GetSessionList", sessionListParam("", 0, 2))
			last := list(d1["sessions"])[1]
			code2, d2 := c.call(qqtest.ModuleRead, "GetSessionList", sessionListParam(str(last["session_id"]), int64(num(last["sort_time"])), 2))
			if code != 0 || code2 != 0 || str(list(d2["sessions"])[0]["session_id"]) != str(last["session_id"]) {
				t.Errorf("session list page 2 %v does not start with page 1's last %v", d2["sessions"], last["session_id"])
			}
		})
	}
}
