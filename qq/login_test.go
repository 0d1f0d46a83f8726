package qq_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

const testMusicID = 2000000001

type loginEnv struct {
	c        *qq.Client
	s        *qqtest.Server
	l        *qqtest.Login
	credFile string
}

func newLoginEnv(t *testing.T) *loginEnv {
	t.Helper()
	s := qqtest.NewTLS()
	l := qqtest.AttachLogin(s)
	t.Cleanup(func() { l.Close(); s.Close() })
	dir := t.TempDir()
	credFile := filepath.Join(dir, "credential.json")
	c, err := qq.New(qq.Options{
		HTTPClient:     s.Client(),
		Endpoints:      s.Endpoints(),
		RateLimit:      rate.Inf,
		CredentialFile: credFile,
		DeviceFile:     filepath.Join(dir, "device.json"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &loginEnv{c: c, s: s, l: l, credFile: credFile}
}

// checkClean fails on any deviation either double recorded.
func (e *loginEnv) checkClean(t *testing.T) {
	t.Helper()
	if d := e.s.Deviations(); len(d) > 0 {
		t.Errorf("gateway deviations: %q", d)
	}
	if p := e.l.Problems(); len(p) > 0 {
		t.Errorf("login double problems: %q", p)
	}
	if b := e.l.Broker(); b != nil {
		if p := b.Problems(); len(p) > 0 {
			t.Errorf("broker problems: %q", p)
		}
	}
}

// next reads one event or fails.
func next(t *testing.T, ch <-chan qq.LoginEvent) qq.LoginEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("event channel closed early")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no login event within 10s")
	}
	return qq.LoginEvent{}
}

func expectState(t *testing.T, ch <-chan qq.LoginEvent, want qq.LoginState) qq.LoginEvent {
	t.Helper()
	ev := next(t, ch)
	if ev.State != want {
		t.Fatalf("state %v (err %v), want %v", ev.State, ev.Err, want)
	}
	return ev
}

func expectClosed(t *testing.T, ch <-chan qq.LoginEvent) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if ok {
			t.Fatalf("extra event %v after the end", ev.State)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed after the terminal event")
	}
}

var (
	pngMagic  = []byte("\x89PNG\r\n\x1a\n")
	jpegMagic = []byte{0xFF, 0xD8, 0xFF}
)

// qrCase drives one QR login to one outcome.
type qrCase struct {
	name  string
	drive func(t *testing.T, e *loginEnv, q *qqtest.LoginQR, ch <-chan qq.LoginEvent)
}

func driveDone(t *testing.T, e *loginEnv, q *qqtest.LoginQR, ch <-chan qq.LoginEvent) {
	if err := q.Scan(); err != nil {
		t.Fatal(err)
	}
	expectState(t, ch, qq.LoginScanned)
	if err := q.Confirm(); err != nil {
		t.Fatal(err)
	}
	expectState(t, ch, qq.LoginConfirmed)
	ev := expectState(t, ch, qq.LoginDone)
	cred := ev.Credential
	if cred == nil || cred.MusicID != testMusicID || cred.MusicKey == "" {
		t.Fatalf("credential %v", cred)
	}
	if cred.MusicKey != e.s.Account().MusicKey {
		t.Fatal("the credential is not the one the server issued")
	}
	if err := e.c.AdoptCredential(cred); err != nil {
		t.Fatal(err)
	}
	// The new credential works, and was saved with mode 0600.
	if err := e.c.CheckCredential(context.Background()); err != nil {
		t.Fatalf("CheckCredential after login: %v", err)
	}
	fi, err := os.Stat(e.credFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("credential file mode %v, want 0600", fi.Mode().Perm())
	}
	saved, err := qq.LoadCredential(e.credFile)
	if err != nil || saved.MusicKey != cred.MusicKey {
		t.Fatalf("saved credential %v, %v", saved, err)
	}
}

func driveRefused(t *testing.T, e *loginEnv, q *qqtest.LoginQR, ch <-chan qq.LoginEvent) {
	if err := q.Scan(); err != nil {
		t.Fatal(err)
	}
	expectState(t, ch, qq.LoginScanned)
	if err := q.Refuse(); err != nil {
		t.Fatal(err)
	}
	expectState(t, ch, qq.LoginRefused)
}

func driveExpired(t *testing.T, e *loginEnv, q *qqtest.LoginQR, ch <-chan qq.LoginEvent) {
	if err := q.Expire(); err != nil {
		t.Fatal(err)
	}
	expectState(t, ch, qq.LoginExpired)
}

// driveLoginRefused: the phone confirms, the final musicu login call is
// refused (device limit).
func driveLoginRefused(method string) func(t *testing.T, e *loginEnv, q *qqtest.LoginQR, ch <-chan qq.LoginEvent) {
	return func(t *testing.T, e *loginEnv, q *qqtest.LoginQR, ch <-chan qq.LoginEvent) {
		e.s.Fail(method, qqtest.Fault{Kind: qqtest.APIError, Code: 20279, Times: 1})
		if err := q.Confirm(); err != nil {
			t.Fatal(err)
		}
		expectState(t, ch, qq.LoginConfirmed)
		ev := expectState(t, ch, qq.LoginFailed)
		if !errors.Is(ev.Err, qq.ErrLoginDeviceLimit) {
			t.Fatalf("err %v, want ErrLoginDeviceLimit", ev.Err)
		}
		var le *qq.LoginError
		if !errors.As(ev.Err, &le) || le.Code != 20279 || le.Step != method {
			t.Fatalf("LoginError %+v", le)
		}
	}
}

func runQRLogin(t *testing.T, m qq.LoginMethod, kind qqtest.QRKind, magic []byte, mime string, tc qrCase, opts ...qq.QROption) {
	e := newLoginEnv(t)
	e.l.SetLongPoll(5 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	opts = append([]qq.QROption{qq.WithPollInterval(5 * time.Millisecond)}, opts...)
	ch, err := e.c.StartQRLogin(ctx, m, opts...)
	if err != nil {
		t.Fatal(err)
	}
	first := expectState(t, ch, qq.LoginWaiting)
	if !bytes.HasPrefix(first.Image, magic) || first.MIME != mime {
		t.Fatalf("first event image %q... MIME %q, want %s", first.Image[:min(8, len(first.Image))], first.MIME, mime)
	}
	q, err := e.l.NextQR(ctx, kind)
	if err != nil {
		t.Fatal(err)
	}
	tc.drive(t, e, q, ch)
	expectClosed(t, ch)
	e.checkClean(t)
}

func TestQQQRLogin(t *testing.T) {
	cases := []qrCase{
		{"done", driveDone},
		{"refused", driveRefused},
		{"expired", driveExpired},
		{"QQLogin refused", driveLoginRefused("QQLogin")},
		{"ptqrlogin server error", func(t *testing.T, e *loginEnv, q *qqtest.LoginQR, ch <-chan qq.LoginEvent) {
			e.l.FailHTTP(qqtest.PathPtqrLogin, 502)
			ev := expectState(t, ch, qq.LoginFailed)
			var hs *qq.HTTPStatusError
			if !errors.As(ev.Err, &hs) || hs.Status != 502 {
				t.Fatalf("err %v, want HTTP 502", ev.Err)
			}
		}},
		{"check_sig server error", func(t *testing.T, e *loginEnv, q *qqtest.LoginQR, ch <-chan qq.LoginEvent) {
			e.l.FailHTTP(qqtest.PathCheckSig, 500)
			_ = q.Confirm()
			expectState(t, ch, qq.LoginConfirmed)
			ev := expectState(t, ch, qq.LoginFailed)
			if !errors.Is(ev.Err, qq.ErrLoginProtocol) {
				t.Fatalf("err %v", ev.Err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runQRLogin(t, qq.LoginQQ, qqtest.QRKindQQ, pngMagic, "image/png", tc)
		})
	}
}

func TestWeChatQRLogin(t *testing.T) {
	cases := []qrCase{
		{"done", driveDone},
		{"refused", driveRefused},
		{"expired", driveExpired},
		{"Login refused", driveLoginRefused("Login")},
		{"long poll server error", func(t *testing.T, e *loginEnv, q *qqtest.LoginQR, ch <-chan qq.LoginEvent) {
			e.l.FailHTTP(qqtest.PathWxLongPoll, 503)
			_ = q.Scan() // wakes the held poll; the next one fails
			ev := next(t, ch)
			if ev.State == qq.LoginScanned {
				ev = next(t, ch)
			}
			if ev.State != qq.LoginFailed || !errors.Is(ev.Err, qq.ErrLoginProtocol) {
				t.Fatalf("event %v err %v", ev.State, ev.Err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runQRLogin(t, qq.LoginWeChat, qqtest.QRKindWeChat, jpegMagic, "image/jpeg", tc)
		})
	}
}

// A long poll that times out on the client means "still waiting".
func TestWeChatLongPollTimeoutMeansWaiting(t *testing.T) {
	e := newLoginEnv(t)
	e.l.SetLongPoll(0) // hold every poll until the client gives up
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ch, err := e.c.StartQRLogin(ctx, qq.LoginWeChat, qq.WithLongPoll(30*time.Millisecond), qq.WithPollInterval(4*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	expectState(t, ch, qq.LoginWaiting)
	q, err := e.l.NextQR(ctx, qqtest.QRKindWeChat)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond) // several timed-out polls
	select {
	case ev := <-ch:
		t.Fatalf("unexpected event %v (%v) while nothing happened", ev.State, ev.Err)
	default:
	}
	e.l.SetLongPoll(5 * time.Second)
	driveDone(t, e, q, ch)
	expectClosed(t, ch)
	e.checkClean(t)
}

func TestMobileQRLogin(t *testing.T) {
	cases := []qrCase{
		{"done", driveDone},
		{"refused", driveRefused},
		{"expired", driveExpired},
		{"Login refused", driveLoginRefused("Login")},
		{"loginFailed event", func(t *testing.T, e *loginEnv, q *qqtest.LoginQR, ch <-chan qq.LoginEvent) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := e.l.Broker().WaitSubscribed(ctx, q.ID); err != nil {
				t.Fatal(err)
			}
			if err := e.l.Broker().LoginFailed(q.ID, "risk"); err != nil {
				t.Fatal(err)
			}
			ev := expectState(t, ch, qq.LoginFailed)
			if !errors.Is(ev.Err, qq.ErrLoginRejected) {
				t.Fatalf("err %v", ev.Err)
			}
		}},
		{"broker drops the connection: reconnect", func(t *testing.T, e *loginEnv, q *qqtest.LoginQR, ch <-chan qq.LoginEvent) {
			if err := q.Scan(); err != nil {
				t.Fatal(err)
			}
			expectState(t, ch, qq.LoginScanned)
			if err := e.l.Broker().Drop(q.ID); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := e.l.Broker().WaitSubscriptions(ctx, q.ID, 2); err != nil {
				t.Fatal(err)
			}
			if err := q.Confirm(); err != nil {
				t.Fatal(err)
			}
			expectState(t, ch, qq.LoginConfirmed)
			expectState(t, ch, qq.LoginDone)
			if n := len(e.l.Broker().Connects()); n != 2 {
				t.Fatalf("%d CONNECTs, want 2", n)
			}
		}},
		{"broker drops the connection and stays down", func(t *testing.T, e *loginEnv, q *qqtest.LoginQR, ch <-chan qq.LoginEvent) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := e.l.Broker().WaitSubscribed(ctx, q.ID); err != nil {
				t.Fatal(err)
			}
			e.l.Broker().RefuseConnections(true)
			if err := e.l.Broker().Drop(q.ID); err != nil {
				t.Fatal(err)
			}
			ev := expectState(t, ch, qq.LoginFailed)
			if !errors.Is(ev.Err, qq.ErrMQTTConnectionLost) {
				t.Fatalf("err %v, want ErrMQTTConnectionLost", ev.Err)
			}
		}},
		{"broker sends DISCONNECT", func(t *testing.T, e *loginEnv, q *qqtest.LoginQR, ch <-chan qq.LoginEvent) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := e.l.Broker().WaitSubscribed(ctx, q.ID); err != nil {
				t.Fatal(err)
			}
			if err := e.l.Broker().Disconnect(q.ID, 0x8B); err != nil { // server shutting down
				t.Fatal(err)
			}
			if err := e.l.Broker().WaitSubscriptions(ctx, q.ID, 2); err != nil {
				t.Fatal(err)
			}
			if err := q.Refuse(); err != nil {
				t.Fatal(err)
			}
			expectState(t, ch, qq.LoginRefused)
		}},
		{"user properties on CONNECT and SUBSCRIBE", func(t *testing.T, e *loginEnv, q *qqtest.LoginQR, ch <-chan qq.LoginEvent) {
			driveDone(t, e, q, ch)
			b := e.l.Broker()
			cs := b.Connects()
			if len(cs) != 1 {
				t.Fatalf("connects %+v", cs)
			}
			c := cs[0]
			want := map[string]string{"tmeAppID": "qqmusic", "business": "management", "hashTag": q.ID, "clientTag": "management.user", "userID": q.ID}
			for k, v := range want {
				if c.User[k] != v {
					t.Errorf("CONNECT user property %s = %q, want %q", k, c.User[k], v)
				}
			}
			if c.AuthMethod != "pass" || c.KeepAlive != 45 || !c.Clean || len(c.ClientID) != 17 {
				t.Errorf("CONNECT %+v", c)
			}
			if c.Path != qqtest.HandshakePath || c.Header.Get("Origin") != "https://y.qq.com" || c.Header.Get("Referer") != "https://y.qq.com/" {
				t.Errorf("handshake %s %v", c.Path, c.Header)
			}
			ss := b.Subscribes()
			if len(ss) != 1 || ss[0].User["authorization"] != "tmelogin" || ss[0].User["pubsub"] != "unicast" ||
				len(ss[0].Topics) != 1 || ss[0].Topics[0] != qqtest.LoginTopic(q.ID) {
				t.Fatalf("subscribes %+v", ss)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runQRLogin(t, qq.LoginMobile, qqtest.QRKindMobile, pngMagic, "image/png", tc)
		})
	}
}

func TestMobileQRLoginRedirect(t *testing.T) {
	e := newLoginEnv(t)
	b := e.l.Broker()
	b.RedirectNext("node-7:443")
	b.UseAnotherServerNext("node-8:443")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ch, err := e.c.StartQRLogin(ctx, qq.LoginMobile)
	if err != nil {
		t.Fatal(err)
	}
	expectState(t, ch, qq.LoginWaiting)
	q, err := e.l.NextQR(ctx, qqtest.QRKindMobile)
	if err != nil {
		t.Fatal(err)
	}
	driveDone(t, e, q, ch)
	expectClosed(t, ch)
	var paths []string
	for _, c := range b.Connects() {
		paths = append(paths, c.Path)
	}
	want := []string{"/ws/handshake", "/ws/handshake/node-7:443", "/ws/handshake/node-8:443"}
	if len(paths) != 3 || paths[0] != want[0] || paths[1] != want[1] || paths[2] != want[2] {
		t.Fatalf("handshake paths %q, want %q", paths, want)
	}
	e.checkClean(t)
}

func TestMobileQRLoginTooManyRedirects(t *testing.T) {
	e := newLoginEnv(t)
	for _, r := range []string{"a:1", "b:2", "c:3", "d:4"} {
		e.l.Broker().RedirectNext(r)
	}
	_, err := e.c.StartQRLogin(context.Background(), qq.LoginMobile)
	if !errors.Is(err, qq.ErrMQTTRedirects) {
		t.Fatalf("err %v, want ErrMQTTRedirects", err)
	}
}

func TestMobileQRLoginCreateQRCodeError(t *testing.T) {
	e := newLoginEnv(t)
	e.s.Fail("CreateQRCode", qqtest.Fault{Kind: qqtest.HTTP5xx, Code: 502, Times: 1})
	_, err := e.c.StartQRLogin(context.Background(), qq.LoginMobile)
	var hs *qq.HTTPStatusError
	if !errors.As(err, &hs) || hs.Status != 502 {
		t.Fatalf("err %v, want HTTP 502", err)
	}
}

func TestQRLoginStartErrors(t *testing.T) {
	e := newLoginEnv(t)
	e.l.FailHTTP(qqtest.PathPtqrShow, 500)
	if _, err := e.c.StartQRLogin(context.Background(), qq.LoginQQ); err == nil {
		t.Fatal("QQ login started although ptqrshow failed")
	}
	e.l.FailHTTP(qqtest.PathWxQRConnect, 500)
	if _, err := e.c.StartQRLogin(context.Background(), qq.LoginWeChat); err == nil {
		t.Fatal("WeChat login started although qrconnect failed")
	}
	if _, err := e.c.StartQRLogin(context.Background(), "fax"); err == nil {
		t.Fatal("unknown method accepted")
	}
}

func TestQRLoginDeadlineExpires(t *testing.T) {
	for _, m := range []qq.LoginMethod{qq.LoginQQ, qq.LoginWeChat, qq.LoginMobile} {
		t.Run(string(m), func(t *testing.T) {
			e := newLoginEnv(t)
			ch, err := e.c.StartQRLogin(context.Background(), m, qq.WithQRTimeout(300*time.Millisecond), qq.WithPollInterval(5*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			expectState(t, ch, qq.LoginWaiting)
			expectState(t, ch, qq.LoginExpired)
			expectClosed(t, ch)
		})
	}
}

func TestQRLoginCancel(t *testing.T) {
	for _, m := range []qq.LoginMethod{qq.LoginQQ, qq.LoginWeChat, qq.LoginMobile} {
		t.Run(string(m), func(t *testing.T) {
			e := newLoginEnv(t)
			ctx, cancel := context.WithCancel(context.Background())
			ch, err := e.c.StartQRLogin(ctx, m, qq.WithPollInterval(5*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			expectState(t, ch, qq.LoginWaiting)
			cancel()
			expectClosed(t, ch)
		})
	}
}

func TestMobileQRLoginNoReconnect(t *testing.T) {
	e := newLoginEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch, err := e.c.StartQRLogin(ctx, qq.LoginMobile, qq.WithMQTTReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	expectState(t, ch, qq.LoginWaiting)
	q, err := e.l.NextQR(ctx, qqtest.QRKindMobile)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.l.Broker().WaitSubscribed(ctx, q.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.l.Broker().Drop(q.ID); err != nil {
		t.Fatal(err)
	}
	ev := expectState(t, ch, qq.LoginFailed)
	if !errors.Is(ev.Err, qq.ErrMQTTConnectionLost) {
		t.Fatalf("err %v", ev.Err)
	}
	expectClosed(t, ch)
}
