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

// SIGTERM while a Discord post hangs: the bridge waits for it at most the
// shutdown grace; a second SIGTERM exits at once. Either way the message
// that was in flight is delivered once after a restart.
func TestE2ESecondSignalExitsAtOnce(t *testing.T) {
	e := newE2E(t)
	alice := e.qq.AddUser(qqtest.User{Nick: "Alice"})
	sid := e.qq.AddSession(alice)
	if _, err := e.qq.Deliver(sid, qqtest.Text("first")); err != nil {
		t.Fatal(err)
	}
	e.start()
	var chID string
	e.eventually("the first message relayed", 30*time.Second, func() bool {
		ch, ok := e.sessionChannel(sid)
		chID = ch.ID
		return ok && len(e.webhookContents(ch.ID)) == 1
	})

	// The next webhook post is held far longer than the shutdown grace.
	// (discordtest records a request when it ends, so the test waits for
	// the bridge to read the message, then a little.)
	e.dc.DelayRoute("POST", "/webhooks/*/*", 1, 5*time.Minute)
	reads := e.qq.Count("GetMessage")
	if _, err := e.qq.Deliver(sid, qqtest.Text("in flight")); err != nil {
		t.Fatal(err)
	}
	e.eventually("the bridge to read the new message", 20*time.Second, func() bool {
		return e.qq.Count("GetMessage") > reads
	})
	time.Sleep(time.Second)
	if n := len(e.webhookContents(chID)); n != 1 {
		t.Fatalf("%d messages posted, want the second one held", n)
	}

	_ = e.proc.Process.Signal(syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	select {
	case <-e.exited:
		t.Fatal("the bridge exited at the first signal with a delivery in flight")
	default:
	}
	sent := time.Now()
	_ = e.proc.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.exited:
	case <-time.After(3 * time.Second):
		t.Fatal("the bridge did not exit within 3 s of the second signal")
	}
	if took := time.Since(sent); took > 3*time.Second {
		t.Errorf("exit took %v after the second signal", took)
	}
	if code := e.proc.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit code after a second signal = %d, want 1", code)
	}
	if !strings.Contains(e.logs.String(), "second signal") {
		t.Errorf("the log does not say why it exited at once:\n%s", e.logs.String())
	}

	e.start()
	e.eventually("the message in flight, after the restart", 30*time.Second, func() bool {
		return len(e.webhookContents(chID)) >= 2
	})
	time.Sleep(time.Second)
	if got := e.webhookContents(chID); len(got) != 2 || got[1] != "in flight" {
		t.Errorf("the channel shows %q, want first, in flight", got)
	}
}
