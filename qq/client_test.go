package qq

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestCallSendsAndroidCommAndUAWithoutCookies(t *testing.T) {
	f := newFakeQQ(t)
	f.handle("m.M", func(p map[string]any) fakeItem {
		return fakeItem{Data: map[string]any{"ok": 1, "echo": p}}
	})
	c := newTestClient(t, f, nil)
	data, err := c.Call(bg(), Request{Module: "m", Method: "M", Param: map[string]any{
		"flag": true, "off": false, "nested": map[string]any{"b": true, "list": []any{true, "x"}}, "n": 3,
	}})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		OK   int            `json:"ok"`
		Echo map[string]any `json:"echo"`
	}
	if err := json.Unmarshal(data, &got); err != nil || got.OK != 1 {
		t.Fatalf("data = %s (%v)", data, err)
	}
	want := map[string]any{"flag": 1.0, "off": 0.0, "nested": map[string]any{"b": 1.0, "list": []any{1.0, "x"}}, "n": 3.0}
	if !jsonEqual(got.Echo, want) {
		t.Errorf("param sent = %v, want booleans as 0/1: %v", got.Echo, want)
	}

	r := f.last(t, "M")
	if len(r.Decoded) != 2 || r.Decoded["comm"] == nil || r.Decoded["req_0"] == nil {
		t.Errorf("body keys: %s, want exactly comm and req_0", r.Body)
	}
	var keys map[string]json.RawMessage
	json.Unmarshal(r.Decoded["req_0"], &keys)
	if len(keys) != 3 || keys["module"] == nil || keys["method"] == nil || keys["param"] == nil {
		t.Errorf("req_0 = %s, want exactly module, method and param", r.Decoded["req_0"])
	}
	if r.Path != "/cgi-bin/musicu.fcg" {
		t.Errorf("path = %s", r.Path)
	}
	if ua := r.Header.Get("User-Agent"); ua != "QQMusic 14090008(android 10)" {
		t.Errorf("User-Agent = %q", ua)
	}
	// The reference sends no cookies on the gateway: the credential
	// travels in comm.qq and comm.authst only.
	if cks := (&http.Request{Header: r.Header}).Cookies(); len(cks) != 0 {
		t.Errorf("a logged-in musicu call sent cookies %v, want none", cks)
	}
	comm := r.comm(t)
	for k, v := range map[string]any{
		"ct": 11.0, "cv": 14090008.0, "v": 14090008.0, "chid": "10003505", "qq": "123456789",
		"authst": testCred.MusicKey, "tmeAppID": "qqmusic", "tmeLoginType": 2.0, "QIMEI": "Q16", "QIMEI36": "Q36",
		"OpenUDID": "0123456789abcdef0123456789abcdef", "uid": "u-1", "sid": "s-1", "aid": "0123456789abcdef",
		"os_ver": "10", "phonetype": "MI 6", "devicelevel": "29", "newdevicelevel": "29",
		"rom": "xiaomi/iarim/sagit:10/eomam.200122.001/1234567:user/release-keys",
	} {
		if !jsonEqual(comm[k], v) {
			t.Errorf("comm[%s] = %v, want %v", k, comm[k], v)
		}
	}
	var item struct{ Module, Method string }
	json.Unmarshal(r.Decoded["req_0"], &item)
	if item.Module != "m" || item.Method != "M" {
		t.Errorf("req_0 = %+v", item)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestCallCommOverrides(t *testing.T) {
	f := newFakeQQ(t)
	f.handle("m.M", func(map[string]any) fakeItem { return fakeItem{} })
	c := newTestClient(t, f, nil)
	_, err := c.Call(bg(), Request{Module: "m", Method: "M", Comm: Object{{"ct", 23}, {"cv", 0}, {"tmeLoginType", 6}, {"QIMEI", nil}}})
	if err != nil {
		t.Fatal(err)
	}
	comm := f.last(t, "M").comm(t)
	if comm["ct"] != 23.0 || comm["cv"] != 0.0 || comm["tmeLoginType"] != 6.0 {
		t.Errorf("overrides not applied: %v", comm)
	}
	if _, ok := comm["QIMEI"]; ok {
		t.Error("nil override did not remove QIMEI")
	}
	if comm["chid"] != "10003505" {
		t.Error("other comm keys lost")
	}
}

func TestCallWithoutCredentialSendsNoCookies(t *testing.T) {
	f := newFakeQQ(t)
	f.handle("music.login.LoginServer.CreateQRCode", func(map[string]any) fakeItem {
		return fakeItem{Data: map[string]any{"qrcodeID": "id-1"}}
	})
	c := newTestClient(t, f, func(o *Options) { o.Credential = &Credential{} })
	if _, err := c.Call(bg(), Request{Module: "music.login.LoginServer", Method: "CreateQRCode", Param: map[string]any{"tmeAppID": "qqmusic"}}); err != nil {
		t.Fatal(err)
	}
	r := f.last(t, "CreateQRCode")
	if ck := r.Header.Get("Cookie"); ck != "" {
		t.Errorf("cookies sent without a credential: %q", ck)
	}
	comm := r.comm(t)
	for _, k := range []string{"qq", "authst", "tmeLoginType"} {
		if _, ok := comm[k]; ok {
			t.Errorf("comm has %s without a credential", k)
		}
	}
}

func TestSignedCall(t *testing.T) {
	f := newFakeQQ(t)
	f.handle("m.M", func(map[string]any) fakeItem { return fakeItem{Data: map[string]any{}} })
	c := newTestClient(t, f, nil)
	if _, err := c.Call(bg(), Request{Module: "m", Method: "M", Signed: true}); err != nil {
		t.Fatal(err)
	}
	r := f.last(t, "M")
	if r.Path != "/cgi-bin/musics.fcg" {
		t.Errorf("signed call went to %s", r.Path)
	}
	if r.Query["_"] != "1763800000000" {
		t.Errorf("_ = %q", r.Query["_"])
	}
	if got, want := r.Query["sign"], Sign(r.Body); got != want {
		t.Errorf("sign = %q, but the body received signs as %q", got, want)
	}
}

func TestCallBatch(t *testing.T) {
	f := newFakeQQ(t)
	f.handle("m.A", func(p map[string]any) fakeItem { return fakeItem{Data: map[string]any{"n": p["n"]}} })
	f.handle("m.B", func(map[string]any) fakeItem { return fakeItem{Code: 1000} })
	c := newTestClient(t, f, nil)
	var reqs []Request
	for i := range 25 {
		m := "A"
		if i == 3 {
			m = "B"
		}
		reqs = append(reqs, Request{Module: "m", Method: m, Param: map[string]any{"n": i}})
	}
	if err := c.RefreshSession(bg()); err != nil {
		t.Fatal(err)
	}
	before := len(f.musicuRequests(""))
	res, err := c.CallBatch(bg(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.musicuRequests("")) - before; n != 2 {
		t.Errorf("25 calls took %d HTTP requests, want 2 (20 + 5)", n)
	}
	if len(res) != 25 {
		t.Fatalf("%d results", len(res))
	}
	for i, r := range res {
		if i == 3 {
			if !errors.Is(r.Err, ErrCredentialExpired) || r.Code != 1000 {
				t.Errorf("result 3: code %d err %v", r.Code, r.Err)
			}
			continue
		}
		var d struct{ N int }
		if r.Err != nil || json.Unmarshal(r.Data, &d) != nil || d.N != i {
			t.Errorf("result %d: %s %v", i, r.Data, r.Err)
		}
	}
}

func TestCallBatchConflictingComm(t *testing.T) {
	f := newFakeQQ(t)
	c := newTestClient(t, f, nil)
	_, err := c.CallBatch(bg(), []Request{{Module: "m", Method: "A", Comm: Object{{"ct", 1}}}, {Module: "m", Method: "B", Comm: Object{{"ct", 2}}}})
	if err == nil || !strings.Contains(err.Error(), "comm") {
		t.Errorf("err = %v", err)
	}
}

func TestErrorPaths(t *testing.T) {
	secret := testCred.MusicKey
	cases := []struct {
		name   string
		status int
		body   string
		item   *fakeItem
		check  func(t *testing.T, err error)
	}{
		{name: "expired 1000", item: &fakeItem{Code: 1000}, check: isErr(ErrCredentialExpired)},
		{name: "expired 104400", item: &fakeItem{Code: 104400}, check: isErr(ErrCredentialExpired)},
		{name: "expired 104401", item: &fakeItem{Code: 104401}, check: isErr(ErrCredentialExpired)},
		{name: "signature", item: &fakeItem{Code: 2000}, check: isErr(ErrSignatureRequired)},
		{name: "rate limited", item: &fakeItem{Code: 2001, Data: map[string]any{"feedbackURL": "https://feedback.example/x"}}, check: func(t *testing.T, err error) {
			var rl *RateLimitError
			if !errors.Is(err, ErrRateLimited) || !errors.As(err, &rl) || rl.FeedbackURL != "https://feedback.example/x" {
				t.Errorf("err = %v", err)
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.Code != 2001 {
				t.Errorf("rate limit error is not an *APIError: %v", err)
			}
		}},
		{name: "api error", item: &fakeItem{Code: 20261, Data: map[string]any{"msg": "bad"}}, check: func(t *testing.T, err error) {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Code != 20261 || ae.Module != "m" || ae.Method != "M" || !strings.Contains(string(ae.Data), "bad") {
				t.Errorf("err = %#v", err)
			}
			if errors.Is(err, ErrCredentialExpired) || errors.Is(err, ErrRateLimited) {
				t.Error("plain API error matches a sentinel")
			}
		}},
		{name: "gateway", status: 200, body: `{"code":500001}`, check: func(t *testing.T, err error) {
			var ge *GatewayError
			if !errors.As(err, &ge) || ge.Code != 500001 {
				t.Errorf("err = %v", err)
			}
		}},
		{name: "http status", status: 502, body: "bad gateway", check: func(t *testing.T, err error) {
			var he *HTTPStatusError
			if !errors.As(err, &he) || he.Status != 502 {
				t.Errorf("err = %v", err)
			}
		}},
		{name: "not json", status: 200, body: `<html>` + `"musickey":"` + secret + `"` + strings.Repeat("x", 400), check: func(t *testing.T, err error) {
			var me *MalformedResponseError
			if !errors.As(err, &me) || me.Excerpt == "" {
				t.Fatalf("err = %v", err)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(me.Excerpt, secret) {
				t.Errorf("error leaks the musickey: %v", err)
			}
			if len(me.Excerpt) > excerptLen+4 {
				t.Errorf("excerpt is %d bytes", len(me.Excerpt))
			}
		}},
		{name: "secret echoed in malformed item", status: 200, body: `{"code":0,"req_0":"` + secret + `"}`, check: func(t *testing.T, err error) {
			var me *MalformedResponseError
			if !errors.As(err, &me) || strings.Contains(err.Error(), secret) {
				t.Errorf("err = %v", err)
			}
		}},
		{name: "missing item", status: 200, body: `{"code":0}`, check: func(t *testing.T, err error) {
			var me *MalformedResponseError
			if !errors.As(err, &me) {
				t.Errorf("err = %v", err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeQQ(t)
			c := newTestClient(t, f, nil)
			if err := c.RefreshSession(bg()); err != nil { // bootstrap before faults
				t.Fatal(err)
			}
			if tc.item != nil {
				it := *tc.item
				f.handle("m.M", func(map[string]any) fakeItem { return it })
			} else {
				f.rawStatus, f.rawBody = tc.status, tc.body
			}
			_, err := c.Call(bg(), Request{Module: "m", Method: "M"})
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "rk-secret") {
				t.Errorf("error string leaks a secret: %v", err)
			}
			tc.check(t, err)
		})
	}
}

func isErr(target error) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Errorf("err = %v, want errors.Is %v", err, target)
		}
		var ae *APIError
		if !errors.As(err, &ae) {
			t.Errorf("err %v is not an *APIError", err)
		}
	}
}

func TestNetworkError(t *testing.T) {
	f := newFakeQQ(t)
	c := newTestClient(t, f, nil)
	c.RefreshSession(bg())
	f.srv.Close()
	_, err := c.Call(bg(), Request{Module: "m", Method: "M"})
	var ne *NetworkError
	if !errors.As(err, &ne) {
		t.Fatalf("err = %v, want *NetworkError", err)
	}
}

func TestContextCancelled(t *testing.T) {
	f := newFakeQQ(t)
	c := newTestClient(t, f, nil)
	ctx, cancel := context.WithCancel(bg())
	cancel()
	_, err := c.Call(ctx, Request{Module: "m", Method: "M"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestThrottle(t *testing.T) {
	f := newFakeQQ(t)
	f.handle("m.M", func(map[string]any) fakeItem { return fakeItem{} })
	c := newTestClient(t, f, func(o *Options) { o.RateLimit = rate.Every(time.Hour); o.Burst = 3 })
	// The burst of 3 is spent by QIMEI, GetSession and the first call.
	if _, err := c.Call(bg(), Request{Module: "m", Method: "M"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Call(ctx, Request{Module: "m", Method: "M"})
	if err == nil {
		t.Fatal("a fourth request within the hour went through")
	}
	if n := len(f.musicuRequests("M")); n != 1 {
		t.Errorf("%d requests reached the server, want 1", n)
	}
}

func TestEndpointsRewrite(t *testing.T) {
	e := Endpoints{"u.y.qq.com": "http://127.0.0.1:9", "mu.y.qq.com": "https://mq.example:8443/base/", "graph.qq.com": "http://h/p"}
	for in, want := range map[string]string{
		"https://u.y.qq.com/cgi-bin/musicu.fcg?a=1":   "http://127.0.0.1:9/cgi-bin/musicu.fcg?a=1",
		"https://U.Y.QQ.COM/x":                        "http://127.0.0.1:9/x",
		"wss://mu.y.qq.com:443/ws/handshake":          "wss://mq.example:8443/base/ws/handshake",
		"https://graph.qq.com/oauth2.0/authorize?x=y": "http://h/p/oauth2.0/authorize?x=y",
		"https://y.qq.com/":                           "https://y.qq.com/",
		"::bad":                                       "::bad",
	} {
		if got := e.Rewrite(in); got != want {
			t.Errorf("Rewrite(%s) = %s, want %s", in, got, want)
		}
	}
	if got := (Endpoints{"mu.y.qq.com": "http://127.0.0.1:1"}).Rewrite("wss://mu.y.qq.com:443/ws"); got != "ws://127.0.0.1:1/ws" {
		t.Errorf("http base for mu.y.qq.com gave %s, want ws", got)
	}
	for _, bad := range []Endpoints{{"u.y.qq.com": "ftp://x"}, {"u.y.qq.com": "127.0.0.1:8080"}, {"https://u.y.qq.com": "http://x"}, {"u.y.qq.com": "http://x/?q=1"}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("Validate(%v) accepted", bad)
		}
		if _, err := New(Options{Endpoints: bad}); err == nil {
			t.Errorf("New accepted endpoints %v", bad)
		}
	}
}

func TestDeviceGeneratedOnceAndPersisted(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "device.json")
	f := newFakeQQ(t)
	opts := Options{HTTPClient: f.srv.Client(), Endpoints: f.endpoints(), DeviceFile: path, Credential: testCred, RateLimit: rate.Inf}
	c1, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	d1 := c1.Device()
	if !LuhnValid(d1.IMEI) || len(d1.AndroidID) != 16 || len(d1.OpenUDID) != 32 || !strings.HasPrefix(d1.Fingerprint, "xiaomi/iarim/sagit:10/eomam.200122.001/") {
		t.Errorf("generated device looks wrong: %+v", d1)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("device file: %v %v", st, err)
	}
	if _, err := c1.Call(bg(), Request{Module: "music.getSession.session", Method: "GetSession"}); err != nil {
		t.Fatal(err)
	}
	c2, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	d2 := c2.Device()
	if d2.OpenUDID != d1.OpenUDID || d2.IMEI != d1.IMEI || d2.AndroidID != d1.AndroidID {
		t.Error("a second client generated a new device instead of loading the file")
	}
	if deref(d2.QIMEI) != "Q16" || deref(d2.SessionUID) != "u-1" || deref(d2.SessionSID) != "s-1" || d2.SessionSaveTime == nil {
		t.Errorf("QIMEI/session not persisted: %+v", d2)
	}
	os.WriteFile(path, []byte("{not json"), 0o600)
	if _, err := New(opts); err == nil || !strings.Contains(err.Error(), "device file") {
		t.Errorf("corrupt device file: err = %v", err)
	}
}

func TestSessionAndQIMEICached24h(t *testing.T) {
	f := newFakeQQ(t)
	f.handle("m.M", func(map[string]any) fakeItem { return fakeItem{} })
	now := time.Unix(1763800000, 0)
	c := newTestClient(t, f, func(o *Options) { o.Now = func() time.Time { return now } })
	call := func() {
		t.Helper()
		if _, err := c.Call(bg(), Request{Module: "m", Method: "M"}); err != nil {
			t.Fatal(err)
		}
	}
	call()
	call()
	now = now.Add(23 * time.Hour)
	call()
	if n := len(f.musicuRequests("GetSession")); n != 1 {
		t.Errorf("GetSession called %d times within 24 h, want 1", n)
	}
	if f.qimeiHits != 1 {
		t.Errorf("QIMEI requested %d times within 24 h, want 1", f.qimeiHits)
	}
	gs := f.last(t, "GetSession").param(t, 0)
	if !jsonEqual(gs, map[string]any{"caller": 0, "uid": "", "vkey": 0}) {
		t.Errorf("GetSession param = %v", gs)
	}
	now = now.Add(2 * time.Hour)
	call()
	if n := len(f.musicuRequests("GetSession")); n != 2 {
		t.Errorf("GetSession not refreshed after 24 h (%d calls)", n)
	}
	if p := f.last(t, "GetSession").param(t, 0); p["uid"] != "u-1" {
		t.Errorf("second GetSession does not pass the cached uid: %v", p)
	}
	if f.qimeiHits != 2 {
		t.Errorf("QIMEI not refreshed after 24 h (%d)", f.qimeiHits)
	}
}

func TestQIMEIFailureIsNotFatal(t *testing.T) {
	f := newFakeQQ(t)
	f.handle("m.M", func(map[string]any) fakeItem { return fakeItem{} })
	f.qimeiFail = 100
	now := time.Unix(1763800000, 0)
	c := newTestClient(t, f, func(o *Options) {
		o.Now = func() time.Time { return now }
		o.QIMEIAttempts = 2
		o.RetryAfter = time.Minute
	})
	if _, err := c.Call(bg(), Request{Module: "m", Method: "M"}); err != nil {
		t.Fatalf("a QIMEI failure stopped the call: %v", err)
	}
	if f.qimeiHits != 2 {
		t.Errorf("QIMEI tried %d times, want 2 attempts", f.qimeiHits)
	}
	if comm := f.last(t, "M").comm(t); comm["QIMEI"] != "" {
		t.Errorf("QIMEI = %v without one", comm["QIMEI"])
	}
	c.Call(bg(), Request{Module: "m", Method: "M"})
	if f.qimeiHits != 2 {
		t.Errorf("QIMEI retried before the back-off (%d)", f.qimeiHits)
	}
	f.qimeiFail = 0
	now = now.Add(61 * time.Second)
	c.Call(bg(), Request{Module: "m", Method: "M"})
	if comm := f.last(t, "M").comm(t); comm["QIMEI"] != "Q16" || comm["QIMEI36"] != "Q36" {
		t.Errorf("QIMEI not acquired after the back-off: %v", comm["QIMEI"])
	}
}

func TestSessionBootstrapFailureIsNotFatal(t *testing.T) {
	f := newFakeQQ(t)
	f.handle("m.M", func(map[string]any) fakeItem { return fakeItem{} })
	f.handle("music.getSession.session.GetSession", func(map[string]any) fakeItem { return fakeItem{Code: 500} })
	c := newTestClient(t, f, nil)
	if _, err := c.Call(bg(), Request{Module: "m", Method: "M"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.last(t, "M").comm(t)["sid"]; ok {
		t.Error("sid sent without a session")
	}
}

func TestReferenceDeviceFileLoadsAsIs(t *testing.T) {
	g := loadCommGolden(t)
	path := filepath.Join(t.TempDir(), "device.json")
	if err := os.WriteFile(path, g.Device, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{DeviceFile: path})
	if err != nil {
		t.Fatal(err)
	}
	d := c.Device()
	if d.OpenUDID != "0123456789abcdef0123456789abcdef" || d.AndroidID != "0123456789abcdef" || deref(d.SessionUID) != "9876543210" || d.QIMEI != nil {
		t.Errorf("device = %+v", d)
	}
	if c.UserAgent() != g.UserAgentAndroid {
		t.Errorf("UA = %s", c.UserAgent())
	}
}

func TestGeneratedDevicesAreValid(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		d, err := NewDevice(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Validate(); err != nil || !LuhnValid(d.IMEI) || len(d.IMEI) != 15 || len(d.IMSIMD5) != 16 || seen[d.OpenUDID] {
			t.Fatalf("bad device %+v (%v)", d, err)
		}
		seen[d.OpenUDID] = true
	}
	if _, err := NewDevice(strings.NewReader("short")); err == nil {
		t.Error("a failing random source gave a device")
	}
}

func TestOversizedReplyIsMalformed(t *testing.T) {
	f := newFakeQQ(t)
	c := newTestClient(t, f, nil)
	c.RefreshSession(bg())
	f.rawStatus, f.rawBody = 200, `{"code":0,"req_0":{"code":0,"data":"`+strings.Repeat("x", maxBodyLen)+`"}}`
	_, err := c.Call(bg(), Request{Module: "m", Method: "M"})
	var me *MalformedResponseError
	if !errors.As(err, &me) {
		t.Errorf("err = %v", err)
	}
}
