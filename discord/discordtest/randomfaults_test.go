package discordtest

import (
	"net/http"
	"testing"
	"time"
)

func TestRandomFaults(t *testing.T) {
	t.Parallel()
	run := func() []int {
		s := newServer(t)
		s.SetRandomFaults(0.4, 11, 300*time.Millisecond, http.StatusTooManyRequests, http.StatusBadGateway)
		var codes []int
		for range 40 {
			resp := rawDo(t, s, "GET", "/api/v9/users/@me", "", "Bot "+s.Token)
			if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("X-RateLimit-Reset-After") != "0.300" {
				t.Errorf("429 headers: %v", resp.Header)
			}
			resp.Body.Close()
			codes = append(codes, resp.StatusCode)
		}
		s.SetRandomFaults(0, 0, 0)
		resp := rawDo(t, s, "GET", "/api/v9/users/@me", "", "Bot "+s.Token)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("random faults off: status %d", resp.StatusCode)
		}
		return codes
	}
	a, b := run(), run()
	seen := map[int]int{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different faults:\n%v\n%v", a, b)
		}
		seen[a[i]]++
	}
	if seen[200] == 0 || seen[429] == 0 || seen[502] == 0 || len(seen) != 3 {
		t.Errorf("statuses drawn: %v", seen)
	}

	// Nothing is stored for a faulted request; queued faults go first.
	s := newServer(t)
	s.SetRandomFaults(1, 1, 0, http.StatusServiceUnavailable)
	s.FailNext(1, http.StatusInternalServerError)
	for _, want := range []int{500, 503} {
		resp := rawDo(t, s, "POST", "/api/v9/channels/"+s.AdminChannelID+"/messages", `{"content":"x"}`, "Bot "+s.Token)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("status %d, want %d", resp.StatusCode, want)
		}
	}
	if n := len(s.Messages(s.AdminChannelID)); n != 0 {
		t.Errorf("%d messages stored by faulted requests", n)
	}
}
