package qqtest_test

import (
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

func TestTimeoutCutClosesWithoutAnswer(t *testing.T) {
	for _, after := range []bool{false, true} {
		s, c, _ := newEnv(t)
		id := s.AddSession(qqtest.User{UIN: 777})
		s.Fail("SendMessageAsync", qqtest.Fault{Kind: qqtest.Timeout, Delay: 80 * time.Millisecond, Cut: true, AfterApply: after, Times: 1})
		start := time.Now()
		_, _, err := c.post(qqtest.PathMusicu, c.body([3]any{qqtest.ModuleWrite, "SendMessageAsync", map[string]any{
			"last_msg_seq": 0, "user_id": "777", "entrance": 0, "client_key": "ck", "msg_type": 1, "session_id": id,
			"meta_data": map[string]any{"content": "x"},
		}}))
		if err == nil {
			t.Errorf("after apply %v: the cut request got an answer", after)
		}
		if el := time.Since(start); el < 80*time.Millisecond || el > 4*time.Second {
			t.Errorf("after apply %v: cut after %v, want the 80ms delay", after, el)
		}
		if n := len(s.Sent()); (n == 1) != after {
			t.Errorf("after apply %v: %d sends applied", after, n)
		}
	}
}

func TestRandomFaultMix(t *testing.T) {
	run := func() []int {
		s, c, _ := newEnv(t)
		s.SetRandomFaultMix(0.5, 7, qqtest.Fault{Kind: qqtest.APIError, Code: 4242, Times: 1}, qqtest.Fault{Kind: qqtest.RateLimited})
		var codes []int
		for range 40 {
			codes = append(codes, listSessions(c))
		}
		return codes
	}
	a, b := run(), run()
	if !equalInts(a, b) {
		t.Errorf("same seed, different faults:\n%v\n%v", a, b)
	}
	seen := map[int]int{}
	for _, c := range a {
		seen[c]++
	}
	// Times is ignored: the APIError template keeps being drawn.
	if seen[0] == 0 || seen[4242] < 2 || seen[2001] == 0 || len(seen) != 3 {
		t.Errorf("codes drawn: %v", seen)
	}
	s, c, _ := newEnv(t)
	s.SetRandomFaultMix(1, 1)
	if code := listSessions(c); code != 0 {
		t.Errorf("an empty mix still faults: code %d", code)
	}
}
