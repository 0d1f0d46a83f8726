package qqtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

func TestFaultKinds(t *testing.T) {
	type result struct {
		status  int
		body    []byte
		err     error
		elapsed time.Duration
	}
	for _, tc := range []struct {
		name  string
		fault qqtest.Fault
		check func(t *testing.T, r result)
	}{
		{"expired 104400", qqtest.Fault{Kind: qqtest.Expired, Code: 104400}, func(t *testing.T, r result) {
			itemCode(t, r.body, 104400)
		}},
		{"expired default", qqtest.Fault{Kind: qqtest.Expired}, func(t *testing.T, r result) { itemCode(t, r.body, 1000) }},
		{"rate limited", qqtest.Fault{Kind: qqtest.RateLimited, FeedbackURL: "https://fb.example/x"}, func(t *testing.T, r result) {
			item := itemCode(t, r.body, 2001)
			if str(item["data"].(map[string]any)["feedbackURL"]) != "https://fb.example/x" {
				t.Errorf("feedbackURL: %v", item)
			}
		}},
		{"signature", qqtest.Fault{Kind: qqtest.Signature}, func(t *testing.T, r result) { itemCode(t, r.body, 2000) }},
		{"api error", qqtest.Fault{Kind: qqtest.APIError, Code: 31337, Data: map[string]any{"msg": "boom"}}, func(t *testing.T, r result) {
			item := itemCode(t, r.body, 31337)
			if str(item["data"].(map[string]any)["msg"]) != "boom" {
				t.Errorf("data %v", item)
			}
		}},
		{"http 503", qqtest.Fault{Kind: qqtest.HTTP5xx, Code: 503}, func(t *testing.T, r result) {
			if r.status != 503 {
				t.Errorf("status %d, want 503", r.status)
			}
		}},
		{"malformed", qqtest.Fault{Kind: qqtest.Malformed}, func(t *testing.T, r result) {
			var v any
			if r.status != 200 || json.Unmarshal(r.body, &v) == nil {
				t.Errorf("status %d, body %q decodes", r.status, r.body)
			}
		}},
		{"gateway", qqtest.Fault{Kind: qqtest.Gateway, Code: 500003}, func(t *testing.T, r result) {
			top := decode(t, r.body)
			if num(top["code"]) != 500003 || top["req_0"] != nil {
				t.Errorf("reply %v", top)
			}
		}},
		{"timeout until the client gives up", qqtest.Fault{Kind: qqtest.Timeout}, func(t *testing.T, r result) {
			if r.err == nil || !errors.Is(r.err, context.DeadlineExceeded) && !strings.Contains(r.err.Error(), "Timeout") {
				t.Errorf("err %v, want the client's time-out", r.err)
			}
		}},
		{"slow reply", qqtest.Fault{Kind: qqtest.Timeout, Delay: 50 * time.Millisecond}, func(t *testing.T, r result) {
			itemCode(t, r.body, 0)
			if r.elapsed < 50*time.Millisecond {
				t.Errorf("answered after %v, want >= 50ms", r.elapsed)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c, _ := newEnv(t)
			c.hc.Timeout = 300 * time.Millisecond
			s.Fail("GetSessionList", tc.fault)
			start := time.Now()
			resp, body, err := c.post(qqtest.PathMusicu, c.body([3]any{qqtest.ModuleRead, "GetSessionList", sessionListParam("", 0, 20)}))
			r := result{body: body, err: err, elapsed: time.Since(start)}
			if resp != nil {
				r.status = resp.StatusCode
			}
			tc.check(t, r)
			if n := s.Count("GetSessionList"); n != 1 {
				t.Errorf("Count = %d, want 1", n)
			}
			// A fault without Times stays until cleared; then the method works.
			if tc.fault.Kind != qqtest.Timeout {
				_, body2, _ := c.post(qqtest.PathMusicu, c.body([3]any{qqtest.ModuleRead, "GetSessionList", sessionListParam("", 0, 20)}))
				if !sameReply(body, body2) {
					t.Errorf("second reply differs: %s vs %s", body2, body)
				}
			}
			s.ClearFaults()
			if code := listSessions(c); code != 0 {
				t.Errorf("after ClearFaults: code %d", code)
			}
		})
	}
}

func itemCode(t *testing.T, body []byte, want int) map[string]any {
	t.Helper()
	top := decode(t, body)
	item, _ := top["req_0"].(map[string]any)
	if num(top["code"]) != 0 || num(item["code"]) != want {
		t.Errorf("reply %s: want item code %d", body, want)
	}
	return item
}

func TestFaultTimesAndWildcard(t *testing.T) {
	s, c, _ := newEnv(t)
	s.Fail("GetSessionList", qqtest.Fault{Kind: qqtest.RateLimited, Times: 2})
	s.Fail("*", qqtest.Fault{Kind: qqtest.APIError, Code: 7, Times: 1})
	var codes []int
	for range 4 {
		codes = append(codes, listSessions(c))
	}
	if want := []int{2001, 2001, 7, 0}; !equalInts(codes, want) {
		t.Errorf("codes %v, want %v", codes, want)
	}
	if n := s.Count("GetSessionList"); n != 4 {
		t.Errorf("Count = %d, want 4", n)
	}
	s.ResetCounts()
	if n := len(s.Counts()); n != 0 {
		t.Errorf("Counts after reset: %v", s.Counts())
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLostReplyAfterApply(t *testing.T) {
	s, c, _ := newEnv(t)
	id := s.AddSession(qqtest.User{UIN: 777})
	s.Fail("SendMessageAsync", qqtest.Fault{Kind: qqtest.HTTP5xx, Times: 1, AfterApply: true})
	resp, _, err := c.post(qqtest.PathMusicu, c.body([3]any{qqtest.ModuleWrite, "SendMessageAsync", map[string]any{
		"last_msg_seq": 0, "user_id": "777", "entrance": 0, "client_key": "ck", "msg_type": 1, "session_id": id,
		"meta_data": map[string]any{"content": "x"},
	}}))
	if err != nil || resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %v err %v, want 502", resp, err)
	}
	if sent := s.Sent(); len(sent) != 1 || sent[0].ClientKey != "ck" {
		t.Errorf("the send was not applied: %+v", sent)
	}
}

func TestRandomFaultsAreSeeded(t *testing.T) {
	run := func() []int {
		s, c, _ := newEnv(t)
		s.SetRandomFaults(0.5, 42, qqtest.RateLimited, qqtest.Expired, qqtest.APIError)
		var codes []int
		for range 30 {
			codes = append(codes, listSessions(c))
		}
		return codes
	}
	a, b := run(), run()
	if !equalInts(a, b) {
		t.Errorf("same seed, different faults:\n%v\n%v", a, b)
	}
	ok, failed := 0, 0
	for _, c := range a {
		if c == 0 {
			ok++
		} else {
			failed++
		}
	}
	if ok == 0 || failed == 0 {
		t.Errorf("rate 0.5 gave %d ok, %d failed", ok, failed)
	}
}

func TestRateLimit(t *testing.T) {
	s, c, clk := newEnv(t)
	s.SetRateLimit(1, 3)
	var codes []int
	for range 4 {
		codes = append(codes, listSessions(c))
	}
	if want := []int{0, 0, 0, 2001}; !equalInts(codes, want) {
		t.Errorf("codes %v, want %v", codes, want)
	}
	// A batch of items spends one token each.
	clk.Advance(2 * time.Second)
	top := c.batch(
		[3]any{qqtest.ModuleRead, "GetSessionList", sessionListParam("", 0, 20)},
		[3]any{qqtest.ModuleRead, "GetSessionList", sessionListParam("", 0, 20)},
		[3]any{qqtest.ModuleRead, "GetSessionList", sessionListParam("", 0, 20)},
	)
	got := []int{num(top["req_0"].(map[string]any)["code"]), num(top["req_1"].(map[string]any)["code"]), num(top["req_2"].(map[string]any)["code"])}
	if want := []int{0, 0, 2001}; !equalInts(got, want) {
		t.Errorf("batch after 2s: %v, want %v", got, want)
	}
	item := top["req_2"].(map[string]any)
	if str(item["data"].(map[string]any)["feedbackURL"]) == "" {
		t.Errorf("2001 without feedbackURL: %v", item)
	}
	s.SetRateLimit(0, 0)
	if code := listSessions(c); code != 0 {
		t.Errorf("limit removed: code %d", code)
	}
}

func TestCloseReleasesHeldRequests(t *testing.T) {
	s, c, _ := newEnv(t)
	c.hc.Timeout = 0
	s.Fail("GetSessionList", qqtest.Fault{Kind: qqtest.Timeout})
	done := make(chan error, 1)
	go func() {
		_, _, err := c.post(qqtest.PathMusicu, c.body([3]any{qqtest.ModuleRead, "GetSessionList", sessionListParam("", 0, 20)}))
		done <- err
	}()
	for s.Count("GetSessionList") == 0 {
		time.Sleep(time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return while a request was held")
	}
	if err := <-done; err == nil {
		t.Error("the held request got a reply")
	}
}

func TestConcurrentUse(t *testing.T) {
	s, c, _ := newEnv(t)
	id := s.AddSession(qqtest.User{UIN: 777})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 10 {
				if _, err := s.Deliver(id, qqtest.Text("in")); err != nil {
					t.Error(err)
				}
			}
		}()
		go func() {
			defer wg.Done()
			for j := range 10 {
				// Not c.call: t.Fatal must not run on this goroutine.
				_, b, err := c.post(qqtest.PathMusicu, c.body([3]any{qqtest.ModuleWrite, "SendMessageAsync", map[string]any{
					"last_msg_seq": 0, "user_id": "777", "entrance": 0, "client_key": string(rune('a'+i)) + string(rune('a'+j)),
					"msg_type": 1, "meta_data": map[string]any{"content": "out"},
				}}))
				if err != nil || !strings.Contains(string(b), `"req_0":{"code":0,`) {
					t.Errorf("send: %v %s", err, b)
				}
			}
		}()
	}
	wg.Wait()
	msgs := s.Messages(id)
	if len(msgs) != 160 || len(s.Sent()) != 80 {
		t.Fatalf("%d messages, %d sent; want 160, 80", len(msgs), len(s.Sent()))
	}
	for i, m := range msgs {
		if m.Sequence != int64(i+1) {
			t.Fatalf("message %d has sequence %d", i, m.Sequence)
		}
	}
}

// sameReply compares two replies' code and items (ts, start_ts and
// traceid differ per request).
func sameReply(a, b []byte) bool {
	var ma, mb map[string]any
	if json.Unmarshal(a, &ma) != nil || json.Unmarshal(b, &mb) != nil {
		return string(a) == string(b)
	}
	for _, m := range []map[string]any{ma, mb} {
		delete(m, "ts")
		delete(m, "start_ts")
		delete(m, "traceid")
	}
	x, _ := json.Marshal(ma)
	y, _ := json.Marshal(mb)
	return string(x) == string(y)
}
