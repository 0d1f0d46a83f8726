package main

import (
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// Started while Discord and QQ Music both fail, the bridge keeps running,
// says why in /healthz, and recovers by itself once they answer again.
func TestE2EStartsWhileRemotesAreDown(t *testing.T) {
	e := newE2E(t)
	alice := e.qq.AddUser(qqtest.User{Nick: "Alice"})
	sid := e.qq.AddSession(alice)
	if _, err := e.qq.Deliver(sid, qqtest.Text("sent while everything was down")); err != nil {
		t.Fatal(err)
	}
	// Discord answers 503 to the first 15 requests: three start attempts.
	e.dc.FailNext(15, http.StatusServiceUnavailable)
	e.qq.Fail("*", qqtest.Fault{Kind: qqtest.HTTP5xx, Code: http.StatusBadGateway})
	e.start()

	e.eventually("/healthz to answer 503 with a reason", 30*time.Second, func() bool {
		code, body := e.get("/healthz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, `"discord"`) && strings.Contains(body, "reason")
	})
	time.Sleep(2 * time.Second)
	select {
	case <-e.exited:
		t.Fatalf("the bridge exited while the remotes were down: %v", e.proc.ProcessState)
	default:
	}

	e.qq.ClearFaults()
	e.eventually("recovery: the message relayed", 90*time.Second, func() bool {
		ch, ok := e.sessionChannel(sid)
		return ok && len(e.webhookContents(ch.ID)) == 1
	})
	e.eventually("a healthy /healthz", 30*time.Second, func() bool {
		code, _ := e.get("/healthz")
		return code == http.StatusOK
	})
}

// SIGTERM while deliveries are in flight: a clean exit, and after a
// restart every message is in Discord exactly once, in order.
func TestE2ESigtermMidDelivery(t *testing.T) {
	e := newE2E(t)
	alice := e.qq.AddUser(qqtest.User{Nick: "Alice"})
	sid := e.qq.AddSession(alice)
	e.start()
	e.eventually("a healthy bridge", 30*time.Second, func() bool {
		code, _ := e.get("/healthz")
		return code == http.StatusOK
	})
	const n = 40
	for i := range n {
		if _, err := e.qq.Deliver(sid, qqtest.Text(fmt.Sprintf("msg %02d", i))); err != nil {
			t.Fatal(err)
		}
	}
	e.eventually("the first deliveries", 30*time.Second, func() bool {
		ch, ok := e.sessionChannel(sid)
		return ok && len(e.webhookContents(ch.ID)) >= 1
	})
	if code := e.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit code after SIGTERM mid-delivery = %d, want 0", code)
	}
	ch, _ := e.sessionChannel(sid)
	before := len(e.webhookContents(ch.ID))
	t.Logf("%d of %d messages were in Discord at the SIGTERM", before, n)

	e.start()
	e.eventually("every message after the restart", 60*time.Second, func() bool {
		return len(e.webhookContents(ch.ID)) >= n
	})
	time.Sleep(time.Second)
	got := e.webhookContents(ch.ID)
	if len(got) != n {
		t.Fatalf("Discord shows %d messages, want %d exactly once", len(got), n)
	}
	for i, c := range got {
		if want := fmt.Sprintf("msg %02d", i); c != want {
			t.Fatalf("message %d is %q, want %q (order or duplicates)", i, c, want)
		}
	}
}
