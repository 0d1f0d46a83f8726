package qqtest_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// TestSetApplyThenFail: a share of the sends is applied (the peer gets the
// message) and then answered 502 or cut; every send reaches the peer;
// other methods are untouched; a rate of 0 turns it off.
func TestSetApplyThenFail(t *testing.T) {
	send := func(c *client, id string, n int) (lost bool) {
		resp, _, err := c.post(qqtest.PathMusicu, c.body([3]any{qqtest.ModuleWrite, "SendMessageAsync", map[string]any{
			"last_msg_seq": 0, "user_id": "777", "entrance": 0, "client_key": fmt.Sprintf("ck%d", n), "msg_type": 1, "session_id": id,
			"meta_data": map[string]any{"content": fmt.Sprintf("m%d", n)},
		}}))
		return err != nil || resp.StatusCode != http.StatusOK
	}
	tests := []struct {
		name             string
		rate             float64
		minLost, maxLost int
	}{
		{"off by default", -1, 0, 0},
		{"rate 0 is off", 0, 0, 0},
		{"half", 0.5, 5, 35},
		{"all", 1, 40, 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c, _ := newEnv(t)
			id := s.AddSession(qqtest.User{UIN: 777})
			if tt.rate >= 0 {
				s.SetApplyThenFail("SendMessageAsync", tt.rate, 3,
					qqtest.Fault{Kind: qqtest.HTTP5xx, Code: 502},
					qqtest.Fault{Kind: qqtest.Timeout, Delay: 20 * time.Millisecond, Cut: true},
					qqtest.Fault{Kind: qqtest.APIError, Code: 4242}) // not a whole fault: ignored
			}
			lost := 0
			for n := range 40 {
				if send(c, id, n) {
					lost++
				}
			}
			if lost < tt.minLost || lost > tt.maxLost {
				t.Errorf("%d of 40 answers lost, want %d to %d", lost, tt.minLost, tt.maxLost)
			}
			if n := s.AppliedThenFailed("SendMessageAsync"); n != lost {
				t.Errorf("the double counts %d lost answers, the client saw %d", n, lost)
			}
			if n := len(s.Sent()); n != 40 {
				t.Errorf("%d of 40 sends applied, want all", n)
			}
			if code := listSessions(c); code != 0 {
				t.Errorf("another method answered code %d", code)
			}
		})
	}
}
