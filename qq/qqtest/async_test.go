package qqtest_test

import (
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// TestAsyncSend: with asynchronous sends on, a send is accepted but shows
// nowhere (GetMessage, Sent, Messages) until the test releases it; then it
// shows once, in order. Off by default.
func TestAsyncSend(t *testing.T) {
	s, c, clk := newEnv(t)
	peer := s.AddUser(qqtest.User{UIN: 777, Nick: "friend"})
	id := s.AddSession(peer)
	if _, err := s.Deliver(id, qqtest.Text("hi")); err != nil {
		t.Fatal(err)
	}
	send := func(key, text string) map[string]any {
		t.Helper()
		code, data := c.call(qqtest.ModuleWrite, "SendMessageAsync", map[string]any{
			"last_msg_seq": 1, "user_id": "777", "entrance": 0, "client_key": key, "msg_type": qqtest.MsgTypeText,
			"session_id": id, "meta_data": map[string]any{"content": text}, "super_msg_flag": 0,
		})
		if code != 0 {
			t.Fatalf("SendMessageAsync %s: code %d %v", key, code, data)
		}
		return data
	}
	keys := func() []string {
		_, data := c.call(qqtest.ModuleRead, "GetMessage", map[string]any{"order": 1, "size": 50, "flag": 0, "session_id": id})
		var out []string
		for _, m := range list(data["messages"]) {
			if k := str(m["client_key"]); k != "" {
				out = append(out, k)
			}
		}
		return out
	}

	// Off by default: the message is there at once.
	if data := send("k0", "sync"); len(list(data["messages"])) != 1 {
		t.Fatalf("synchronous reply %v", data)
	}
	s.SetAsyncSend(true)
	clk.Advance(time.Second)
	for _, k := range []string{"k1", "k2"} {
		if data := send(k, "async "+k); len(list(data["messages"])) != 0 {
			t.Errorf("asynchronous reply names a message: %v", data["messages"])
		}
	}
	if got := keys(); len(got) != 1 || got[0] != "k0" {
		t.Errorf("before release GetMessage shows %v, want only k0", got)
	}
	if n := len(s.Sent()); n != 1 || s.HeldSends() != 2 {
		t.Errorf("before release: %d sent, %d held; want 1 and 2", n, s.HeldSends())
	}
	if n := s.ReleaseSends(); n != 2 {
		t.Errorf("released %d, want 2", n)
	}
	// Pages come newest first.
	if got := keys(); len(got) != 3 || got[0] != "k2" || got[1] != "k1" || got[2] != "k0" {
		t.Errorf("after release GetMessage shows %v, want k2 k1 k0", got)
	}
	if s.HeldSends() != 0 || s.ReleaseSends() != 0 || len(s.Messages(id)) != 4 {
		t.Errorf("after release: %d held, %d messages", s.HeldSends(), len(s.Messages(id)))
	}
	s.SetAsyncSend(false)
	if data := send("k3", "sync again"); len(list(data["messages"])) != 1 {
		t.Errorf("off again: reply %v", data)
	}
}
