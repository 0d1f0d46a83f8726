package admin

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/qrterm"
)

func TestQRLoginOneMessageThroughEveryState(t *testing.T) {
	h := newHarness(t, false, nil)
	if !h.c.LoginPending() {
		t.Fatal("no credential, yet no login pending")
	}
	l := h.qq.nextLogin(t)
	if l.method != "mobile" {
		t.Fatalf("method %q, want the default mobile", l.method)
	}
	img := qrPNG(t, "https://y.qq.com/login?id=1")
	l.send(t, LoginEvent{State: LoginWaiting, Image: img, MIME: "image/png"})
	m := h.msg(0, "Waiting for a scan")
	if !bytes.Equal(m.Image, img) || !m.Mention {
		t.Fatalf("first post: image %d bytes, mention %v", len(m.Image), m.Mention)
	}
	for _, want := range []string{"QQ Music login needed", "QQ Music app", "expires <t:"} {
		if !strings.Contains(m.Content, want) {
			t.Errorf("the login message lacks %q:\n%s", want, m.Content)
		}
	}
	l.send(t, LoginEvent{State: LoginScanned})
	h.msg(0, "Scanned")
	l.send(t, LoginEvent{State: LoginConfirmed})
	h.msg(0, "Confirmed")
	l.send(t, LoginEvent{State: LoginDone, Account: Account{UIN: "10001", Nick: "Alice"}})
	m = h.msg(0, "Logged in as **Alice (10001)**")
	if m.Image != nil {
		t.Error("the QR code is still shown after the login")
	}
	if n := len(h.ch.snapshot()); n != 1 {
		t.Fatalf("%d admin messages, want the one message edited in place", n)
	}
	if len(m.Versions) != 4 {
		t.Errorf("versions %q, want waiting, scanned, confirmed, done", m.Versions)
	}
	h.eventually("the engine to resume", func() bool { return h.eng.renewals() == 1 })
	if h.c.LoginPending() {
		t.Error("a login is still pending after success")
	}
	h.eventually("the keeper to start", func() bool {
		h.qq.mu.Lock()
		defer h.qq.mu.Unlock()
		return h.qq.keepers == 1
	})
}

func TestExpiredQRIsReplacedThenGivesUp(t *testing.T) {
	h := newHarness(t, false, func(c *Config) { c.QRRenewals = 2 })
	for i := 1; i <= 3; i++ {
		l := h.qq.nextLogin(t)
		img := qrPNG(t, fmt.Sprint("qr ", i))
		l.send(t, LoginEvent{State: LoginWaiting, Image: img})
		m := h.msg(0, "Waiting for a scan")
		h.eventually("the new QR code", func() bool { return bytes.Equal(h.ch.snapshot()[0].Image, img) })
		if i > 1 && !strings.Contains(m.Content, fmt.Sprintf("QR code %d of 3", i)) {
			t.Errorf("QR %d: the message does not count the codes:\n%s", i, m.Content)
		}
		l.send(t, LoginEvent{State: LoginExpired})
	}
	m := h.msg(0, "expired 3 times")
	if m.Image != nil {
		t.Error("the expired QR code is still shown")
	}
	if !strings.Contains(m.Content, "/login") {
		t.Errorf("the message does not say how to try again:\n%s", m.Content)
	}
	ms := h.ch.snapshot()
	if len(ms) != 1 {
		t.Fatalf("%d messages, want one edited in place", len(ms))
	}
	h.qq.noLogin(t, 50*time.Millisecond)
	if !h.c.LoginPending() {
		t.Error("no login pending after giving up")
	}
}

func TestRefusedAndFailedLogins(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   LoginEvent
		want string
	}{
		{"refused", LoginEvent{State: LoginRefused}, "refused on the phone"},
		{"failed", LoginEvent{State: LoginFailed, Err: errors.New("qq: too many devices logged in")}, "The login failed: qq: too many devices logged in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, false, nil)
			l := h.qq.nextLogin(t)
			l.send(t, LoginEvent{State: LoginWaiting, Image: qrPNG(t, "x")})
			h.msg(0, "Waiting")
			l.send(t, tc.ev)
			m := h.msg(0, tc.want)
			if m.Image != nil || !strings.Contains(m.Content, "/login") {
				t.Errorf("final message %+v", m)
			}
			if !h.c.LoginPending() || h.eng.renewals() != 0 {
				t.Error("a refused login counted as logged in")
			}
		})
	}
}

func TestStartFailureIsRetriedThenExplained(t *testing.T) {
	h := newHarnessWith(t, false, func(c *Config) { c.StartRetries = 1 }, func(h *harness) {
		h.qq.startErr = []error{errors.New("CreateQRCode: HTTP 502"), errors.New("CreateQRCode: HTTP 503")}
	})
	m := h.msg(0, "could not be started: CreateQRCode: HTTP 503")
	if !strings.Contains(m.Content, "bridge login") || len(m.Versions) != 2 {
		t.Errorf("message %+v", m)
	}
}

func TestCredentialFileEndsPendingLogin(t *testing.T) {
	h := newHarness(t, false, nil)
	l := h.qq.nextLogin(t)
	l.send(t, LoginEvent{State: LoginWaiting, Image: qrPNG(t, "x")})
	h.msg(0, "Waiting")
	h.qq.set(func(q *fakeQQ) { q.reload, q.nick = true, "Bob" })
	m := h.msg(0, "A working login was found (a new credential file): logged in as **Bob (10003)**")
	if m.Image != nil {
		t.Error("the QR code is still shown")
	}
	h.eventually("the engine to resume", func() bool { return h.eng.renewals() == 1 })
	if h.c.LoginPending() {
		t.Error("still pending")
	}
	select {
	case <-l.ctx.Done():
	case <-time.After(time.Second):
		t.Error("the QR login goes on after the credential was found")
	}
}

func TestEngineExpiryStartsLoginAndOldCredentialRecovers(t *testing.T) {
	h := newHarness(t, true, func(c *Config) { c.RecoverMin, c.RecoverMax = 20*time.Millisecond, 40*time.Millisecond })
	h.qq.noLogin(t, 30*time.Millisecond)
	h.c.HandleEvent(bridge.Event{Kind: bridge.EventLoginNeeded})
	l := h.qq.nextLogin(t)
	l.send(t, LoginEvent{State: LoginWaiting, Image: qrPNG(t, "x")})
	h.msg(0, "QQ Music refused the login")
	l.send(t, LoginEvent{State: LoginRefused})
	h.msg(0, "refused")
	if !h.c.LoginPending() {
		t.Fatal("not pending")
	}
	// Checks keep going with back-off; when the old credential works again
	// the message says so and relaying resumes.
	h.eventually("a few checks", func() bool {
		h.qq.mu.Lock()
		defer h.qq.mu.Unlock()
		return h.qq.checks >= 2
	})
	h.qq.set(func(q *fakeQQ) { q.checkErr = nil })
	h.msg(0, "the old login works again")
	h.eventually("the engine to resume", func() bool { return h.eng.renewals() == 1 })
	if h.c.LoginPending() {
		t.Error("still pending")
	}
}

func TestKeeperExpiryStartsLogin(t *testing.T) {
	h := newHarness(t, true, nil)
	h.eventually("the keeper", func() bool {
		h.qq.mu.Lock()
		defer h.qq.mu.Unlock()
		return h.qq.keepers == 1
	})
	h.qq.keepErr <- fmt.Errorf("%w: refused", bridge.ErrLoginRequired)
	l := h.qq.nextLogin(t)
	l.send(t, LoginEvent{State: LoginWaiting, Image: qrPNG(t, "x")})
	h.msg(0, "refused to renew it")
	if !h.c.LoginPending() {
		t.Error("not pending")
	}
}

func TestRefreshFailuresReportedOnlyWhenTheyPersist(t *testing.T) {
	h := newHarness(t, true, func(c *Config) { c.RefreshFailures = 3 })
	h.eventually("the keeper", func() bool {
		h.qq.mu.Lock()
		defer h.qq.mu.Unlock()
		return h.qq.onError != nil
	})
	h.qq.mu.Lock()
	onError, onRefresh := h.qq.onError, h.qq.onRefresh
	h.qq.mu.Unlock()
	onError(errors.New("Login: HTTP 502"))
	onError(errors.New("Login: HTTP 502"))
	if n := len(h.ch.snapshot()); n != 0 {
		t.Fatalf("%d admin messages after 2 failures, want none", n)
	}
	onError(errors.New("Login: HTTP 503"))
	m := h.msg(0, "failed 3 times in a row (latest: Login: HTTP 503)")
	if !strings.Contains(m.Content, "expires <t:2000000000:R>") || m.Mention {
		t.Errorf("report %+v", m)
	}
	onError(errors.New("again"))
	if n := len(h.ch.snapshot()); n != 1 {
		t.Fatalf("%d admin messages, want one report per streak", n)
	}
	onRefresh(Account{UIN: "10001", Expires: time.Unix(2100000000, 0)})
	h.msg(1, "refreshed again; it expires <t:2100000000:R>")
	onRefresh(Account{UIN: "10001"})
	time.Sleep(20 * time.Millisecond)
	if n := len(h.ch.snapshot()); n != 2 {
		t.Fatalf("%d admin messages, want no news for an ordinary refresh", n)
	}
}

func TestTerminalFallbackWithoutAdminChannel(t *testing.T) {
	h := newHarnessWith(t, false, nil, func(h *harness) {
		h.ch.postErr = fmt.Errorf("%w: HTTP 404 Unknown Channel", ErrChannelUnusable)
	})
	l := h.qq.nextLogin(t)
	l.send(t, LoginEvent{State: LoginWaiting, Image: qrPNG(t, "https://y.qq.com/qr/xyz"), MIME: "image/png"})
	path := filepath.Join(h.dir, QRFileName)
	h.eventually("the QR file", func() bool { _, err := os.Stat(path); return err == nil })
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("QR file mode %v", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if text, err := qrterm.Decode(b); err != nil || text != "https://y.qq.com/qr/xyz" {
		t.Errorf("the saved QR code reads %q, %v", text, err)
	}
	h.eventually("the terminal QR", func() bool { return strings.Contains(h.term.String(), "The QR code is also saved as "+path) })
	out := h.term.String()
	if !strings.Contains(out, "▀") && !strings.Contains(out, "█") {
		t.Errorf("no QR code drawn on the terminal:\n%s", out)
	}
	if !strings.Contains(out, "This code expires at ") || !strings.Contains(out, " UTC (in ") || strings.Contains(out, "<t:") {
		t.Errorf("the terminal lacks a plain countdown, or shows Discord markup:\n%s", out)
	}
	l.send(t, LoginEvent{State: LoginScanned})
	h.eventually("the scanned state on the terminal", func() bool { return strings.Contains(h.term.String(), "Scanned") })
	l.send(t, LoginEvent{State: LoginDone, Account: Account{UIN: "7"}})
	h.eventually("the done state on the terminal", func() bool { return strings.Contains(h.term.String(), "Logged in as 7") })
	h.eventually("the QR file removed", func() bool { _, err := os.Stat(path); return os.IsNotExist(err) })
}

func TestWeChatJPEGBecomesPNG(t *testing.T) {
	png := qrPNG(t, "wx")
	jpg := jpegOf(t, png)
	out, err := toPNG(jpg)
	if err != nil || !bytes.HasPrefix(out, []byte("\x89PNG")) {
		t.Fatalf("toPNG: %v", err)
	}
	if text, err := qrterm.Decode(out); err != nil || text != "wx" {
		t.Errorf("decoded %q, %v", text, err)
	}
	if _, err := toPNG([]byte("not an image")); err == nil {
		t.Error("garbage decoded")
	}
}

func jpegOf(t *testing.T, pngBytes []byte) []byte {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestShutdownLeavesNoDeadQRCode(t *testing.T) {
	h := newHarness(t, false, nil)
	l := h.qq.nextLogin(t)
	l.send(t, LoginEvent{State: LoginWaiting, Image: qrPNG(t, "x")})
	h.msg(0, "Waiting")
	h.stop()
	ms := h.ch.snapshot()
	if len(ms) != 1 || ms[0].Image != nil || !strings.Contains(ms[0].Content, "The bridge stopped before this login finished") {
		t.Fatalf("after shutdown the admin channel shows %+v", ms)
	}
}

func TestEngineFalseAlarmResumesWithoutQR(t *testing.T) {
	h := newHarness(t, true, nil)
	h.qq.set(func(q *fakeQQ) { q.checkErr = nil })
	h.c.HandleEvent(bridge.Event{Kind: bridge.EventLoginNeeded})
	h.eventually("the engine to resume", func() bool { return h.eng.renewals() == 1 })
	h.qq.noLogin(t, 50*time.Millisecond)
	if h.c.LoginPending() || len(h.ch.snapshot()) != 0 {
		t.Fatal("a refusal the server did not confirm asked for a login")
	}
	// Again moments later: the credential works for the check but not for
	// the calls that matter, so a login is asked for after all.
	h.c.HandleEvent(bridge.Event{Kind: bridge.EventLoginNeeded})
	h.qq.nextLogin(t)
	if !h.c.LoginPending() {
		t.Error("not pending")
	}
}

func TestUnclearExpiryIsCheckedBeforeAskingForALogin(t *testing.T) {
	h := newHarness(t, true, func(c *Config) { c.RecoverMin, c.RecoverMax = 20*time.Millisecond, 40*time.Millisecond })
	h.qq.set(func(q *fakeQQ) { q.checkErr = errors.New("GetLoginUserInfo: connection refused") })
	h.c.HandleEvent(bridge.Event{Kind: bridge.EventLoginNeeded})
	h.eventually("pending", h.c.LoginPending)
	h.qq.noLogin(t, 60*time.Millisecond)
	// The server answers at last, and refuses: now a QR code is posted.
	h.qq.set(func(q *fakeQQ) { q.checkErr = fmt.Errorf("%w: refused", bridge.ErrLoginRequired) })
	l := h.qq.nextLogin(t)
	l.send(t, LoginEvent{State: LoginWaiting, Image: qrPNG(t, "x")})
	h.msg(0, "Waiting")
	l.send(t, LoginEvent{State: LoginRefused})
	h.msg(0, "refused")
	// The checks go on, but never post another code by themselves.
	h.eventually("more checks", func() bool {
		h.qq.mu.Lock()
		defer h.qq.mu.Unlock()
		return h.qq.checks >= 5
	})
	h.qq.noLogin(t, 50*time.Millisecond)
}

func TestKeeperCheckEndsFailureStreak(t *testing.T) {
	h := newHarness(t, true, func(c *Config) { c.RefreshFailures = 2 })
	h.eventually("the keeper", func() bool {
		h.qq.mu.Lock()
		defer h.qq.mu.Unlock()
		return h.qq.onOK != nil
	})
	h.qq.mu.Lock()
	onError, onOK := h.qq.onError, h.qq.onOK
	h.qq.mu.Unlock()
	onError(errors.New("a"))
	onOK() // a success in between: no streak
	onError(errors.New("b"))
	time.Sleep(20 * time.Millisecond)
	if n := len(h.ch.snapshot()); n != 0 {
		t.Fatalf("%d reports for failures that were not in a row", n)
	}
	onError(errors.New("c"))
	h.msg(0, "failed 2 times in a row")
	onOK()
	h.msg(1, "The QQ Music login works again.")
}

func TestDeletedLoginMessageIsPostedAgain(t *testing.T) {
	h := newHarness(t, false, nil)
	l := h.qq.nextLogin(t)
	l.send(t, LoginEvent{State: LoginWaiting, Image: qrPNG(t, "x")})
	h.msg(0, "Waiting")
	h.ch.mu.Lock()
	h.ch.editErr = fmt.Errorf("%w: 10008 Unknown Message", ErrMessageGone)
	h.ch.mu.Unlock()
	l.send(t, LoginEvent{State: LoginScanned})
	m := h.msg(1, "Scanned")
	if m.Mention {
		t.Error("the re-posted message pinged again")
	}
}

func TestHugeImageRefused(t *testing.T) {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 5000, 8)), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := toPNG(b.Bytes()); err == nil || !strings.Contains(err.Error(), "5000x8") {
		t.Errorf("a 5000-pixel-wide image: %v", err)
	}
}
