package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// TestProofBurstIntoNewSession: a new conversation receives more messages
// than the bridge's first read of a session takes (50) while Discord
// cannot make its channel; once Discord can, every message is relayed
// once, in order. (The first read used to take only the newest 50 and
// skip the rest for good.)
func TestProofBurstIntoNewSession(t *testing.T) {
	t.Parallel()
	p := newProof(t, 5)
	first := p.qq.AddSession(p.qq.AddUser(qqtest.User{Nick: "First"}))
	if _, err := p.qq.Deliver(first, qqtest.Text("hello")); err != nil {
		t.Fatal(err)
	}
	p.launch()
	p.channelOf(first, 60*time.Second)

	// The next channel creations fail (one EnsureChannel with its retries).
	p.dc.FailRoute("POST", "/guilds/*/channels", 5, http.StatusServiceUnavailable)
	burst := p.qq.AddSession(p.qq.AddUser(qqtest.User{Nick: "Burst"}))
	var want []string
	for i := range 120 {
		text := fmt.Sprintf("burst %03d", i)
		if _, err := p.qq.Deliver(burst, qqtest.Text(text)); err != nil {
			t.Fatal(err)
		}
		want = append(want, text)
	}
	ch := p.channelOf(burst, 60*time.Second)
	p.waitFor("the burst in Discord", 60*time.Second, func() bool { return len(p.posted(ch)) >= len(want) }, func() string {
		return fmt.Sprintf("%d of %d posted", len(p.posted(ch)), len(want))
	})
	time.Sleep(time.Second)
	if err := diffLists(want, contents(p.posted(ch))); err != nil {
		t.Errorf("the burst in Discord: %v", err)
	}
	if n := p.dc.Count("POST", "/guilds/*/channels"); n < 6 {
		t.Errorf("%d channel creations: the failure was not exercised", n)
	}
}
