package qq_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// anonComm is the start of the Android comm without a credential (login
// calls send none), keys in the reference's order, up to rom.
const anonComm = `^\{"comm":\{"ct":11,"cv":14090008,"v":14090008,"tmeAppID":"qqmusic","chid":"10003505",` +
	`"QIMEI":"[^"]*","QIMEI36":"[^"]*","OpenUDID":"[0-9a-f]{32}","OpenUDID2":"[0-9a-f]{32}","udid":"[0-9a-f]{32}","aid":"[0-9a-f]{16}",` +
	`"uid":"[^"]+","sid":"[^"]+","os_ver":"10","phonetype":"MI 6","devicelevel":"29","newdevicelevel":"29","rom":"[^"]+",`

// recorder keeps every request that goes through it.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen []*http.Request
	body map[*http.Request][]byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var b []byte
	if req.Body != nil {
		b, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	r.mu.Lock()
	r.seen = append(r.seen, req)
	r.body[req] = b
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

func (r *recorder) byPath(path string) []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*http.Request
	for _, q := range r.seen {
		if q.URL.Path == path {
			out = append(out, q)
		}
	}
	return out
}

// The login pages go out as the reference sends them: its query keys in
// its order, its Android User-Agent, and its cookies (the held
// credential's, then the page's own); the WeChat long poll goes bare.
func TestLoginPagesOnTheWireGolden(t *testing.T) {
	held := &qq.Credential{MusicID: 123456789, MusicKey: "Q_H_L_heldkey0001", LoginType: 2}
	credCookies := "uin=123456789; qqmusic_uin=123456789; qm_keyst=Q_H_L_heldkey0001; qqmusic_key=Q_H_L_heldkey0001"
	const ua = "QQMusic 14090008(android 10)"
	type want struct {
		path, query, ua, referer, cookie string // query and cookie are regexps
	}
	for _, tc := range []struct {
		name   string
		method qq.LoginMethod
		kind   qqtest.QRKind
		// login is the body of the musicu call that completes the login.
		login string
		want  []want
	}{
		{"QQ", qq.LoginQQ, qqtest.QRKindQQ, anonComm + `"tmeLoginType":2\},"req_0":\{"module":"QQConnectLogin\.LoginServer","method":"QQLogin","param":\{"code":"[^"]+"\}\}\}$`, []want{
			{qqtest.PathPtqrShow, `^appid=716027609&e=2&l=M&s=3&d=72&v=4&t=0\.[0-9]+&daid=383&pt_3rd_aid=100497308$`, ua, "https://xui.ptlogin2.qq.com/", "^" + credCookies + "$"},
			{qqtest.PathPtqrLogin, `^u1=https%3A%2F%2Fgraph\.qq\.com%2Foauth2\.0%2Flogin_jump&ptqrtoken=[0-9]+&ptredirect=0&h=1&t=1&g=1&from_ui=1&ptlang=2052&action=0-0-[0-9]+(\.[0-9]+)?&js_ver=20102616&js_type=1&pt_uistyle=40&aid=716027609&daid=383&pt_3rd_aid=100497308&has_onekey=1$`, ua, "https://xui.ptlogin2.qq.com/", "^" + credCookies + "; qrsig=[^;]+$"},
			{qqtest.PathCheckSig, `^uin=[0-9]+&pttype=1&service=ptqrlogin&nodirect=0&ptsigx=[^&]+&s_url=https%3A%2F%2Fgraph\.qq\.com%2Foauth2\.0%2Flogin_jump&ptlang=2052&ptredirect=100&aid=716027609&daid=383&j_later=0&low_login_hour=0&regmaster=0&pt_login_type=3&pt_aid=0&pt_aaid=16&pt_light=0&pt_3rd_aid=100497308$`, ua, "https://xui.ptlogin2.qq.com/", "^" + credCookies + "$"},
			{qqtest.PathAuthorize, `^$`, ua, "", "^" + credCookies + "; .*p_skey="},
		}},
		{"WeChat", qq.LoginWeChat, qqtest.QRKindWeChat, anonComm + `"tmeLoginType":1\},"req_0":\{"module":"music\.login\.LoginServer","method":"Login","param":\{"code":"[^"]+","strAppid":"wx48db31d50e334801"\}\}\}$`, []want{
			{qqtest.PathWxQRConnect, `^appid=wx48db31d50e334801&redirect_uri=https%3A%2F%2Fy\.qq\.com%2Fportal%2Fwx_redirect\.html%3Flogin_type%3D2%26surl%3Dhttps%3A%2F%2Fy\.qq\.com%2F&response_type=code&scope=snsapi_login&state=STATE&href=https%3A%2F%2Fy\.qq\.com%2Fmediastyle%2Fmusic_v17%2Fsrc%2Fcss%2Fpopup_wechat\.css%23wechat_redirect$`, ua, "", "^" + credCookies + "$"},
			{qqtest.PathWxLongPoll, `^uuid=[^&]+&_=[0-9]+000$`, "Go-http-client/1.1", "https://open.weixin.qq.com/", "^$"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := qqtest.NewTLS()
			l := qqtest.AttachLogin(s)
			t.Cleanup(func() { l.Close(); s.Close() })
			l.SetLongPoll(5 * time.Second)
			hc := s.Client()
			rec := &recorder{next: hc.Transport, body: map[*http.Request][]byte{}}
			hc.Transport = rec
			dir := t.TempDir()
			credFile := filepath.Join(dir, "credential.json")
			c, err := qq.New(qq.Options{HTTPClient: hc, Endpoints: s.Endpoints(), RateLimit: rate.Inf,
				Credential: held, CredentialFile: credFile, DeviceFile: filepath.Join(dir, "device.json")})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			ch, err := c.StartQRLogin(ctx, tc.method, qq.WithPollInterval(5*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			expectState(t, ch, qq.LoginWaiting)
			q, err := l.NextQR(ctx, tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			driveDone(t, &loginEnv{c: c, s: s, l: l, credFile: credFile}, q, ch)

			for _, w := range tc.want {
				reqs := rec.byPath(w.path)
				if len(reqs) == 0 {
					t.Errorf("no request to %s", w.path)
					continue
				}
				r := reqs[0]
				if !regexp.MustCompile(w.query).MatchString(r.URL.RawQuery) {
					t.Errorf("%s query\n got %s\nwant %s", w.path, r.URL.RawQuery, w.query)
				}
				if got := r.Header.Get("User-Agent"); got != w.ua && !(got == "" && w.ua == "Go-http-client/1.1") {
					t.Errorf("%s User-Agent %q, want %q", w.path, got, w.ua)
				}
				if got := r.Header.Get("Referer"); got != w.referer {
					t.Errorf("%s Referer %q, want %q", w.path, got, w.referer)
				}
				if got := r.Header.Get("Cookie"); !regexp.MustCompile(w.cookie).MatchString(got) {
					t.Errorf("%s Cookie %q, want %s", w.path, got, w.cookie)
				}
			}
			// The musicu call that completes the login goes in the
			// reference's order, and carries no cookie.
			var logins int
			for _, r := range rec.byPath("/cgi-bin/musicu.fcg") {
				if ck := r.Header.Get("Cookie"); ck != "" {
					t.Errorf("musicu call with cookies %q", ck)
				}
				rec.mu.Lock()
				body := rec.body[r]
				rec.mu.Unlock()
				if bytes.Contains(body, []byte(`"module":"QQConnectLogin`)) || bytes.Contains(body, []byte(`"strAppid"`)) {
					logins++
					if !regexp.MustCompile(tc.login).Match(body) {
						t.Errorf("login call\n got %s\nwant %s", body, tc.login)
					}
				}
			}
			if logins != 1 {
				t.Errorf("%d login calls, want 1", logins)
			}
		})
	}
}

// The graph.qq.com authorize form goes in the reference's field order,
// and with no credential held the login pages carry only their own
// cookies.
func TestAuthorizeFormOrder(t *testing.T) {
	s := qqtest.NewTLS()
	l := qqtest.AttachLogin(s)
	t.Cleanup(func() { l.Close(); s.Close() })
	hc := s.Client()
	rec := &recorder{next: hc.Transport, body: map[*http.Request][]byte{}}
	hc.Transport = rec
	dir := t.TempDir()
	credFile := filepath.Join(dir, "credential.json")
	c, err := qq.New(qq.Options{HTTPClient: hc, Endpoints: s.Endpoints(), RateLimit: rate.Inf,
		CredentialFile: credFile, DeviceFile: filepath.Join(dir, "device.json")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ch, err := c.StartQRLogin(ctx, qq.LoginQQ, qq.WithPollInterval(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	expectState(t, ch, qq.LoginWaiting)
	q, err := l.NextQR(ctx, qqtest.QRKindQQ)
	if err != nil {
		t.Fatal(err)
	}
	driveDone(t, &loginEnv{c: c, s: s, l: l, credFile: credFile}, q, ch)
	reqs := rec.byPath(qqtest.PathAuthorize)
	if len(reqs) != 1 {
		t.Fatalf("%d authorize requests", len(reqs))
	}
	rec.mu.Lock()
	body := string(rec.body[reqs[0]])
	rec.mu.Unlock()
	want := `^response_type=code&client_id=100497308&redirect_uri=https%3A%2F%2Fy\.qq\.com%2Fportal%2Fwx_redirect\.html%3Flogin_type%3D1%26surl%3Dhttps%3A%2F%2Fy\.qq\.com%2F&scope=get_user_info%2Cget_app_friends&state=state&switch=&from_ptlogin=1&src=1&update_auth=1&openapi=1010_1030&g_tk=[0-9]+&auth_time=[0-9]+000&ui=[0-9a-f-]{36}$`
	if !regexp.MustCompile(want).MatchString(body) {
		t.Errorf("authorize form\n got %s\nwant %s", body, want)
	}
	if ua := reqs[0].Header.Get("User-Agent"); ua != "QQMusic 14090008(android 10)" {
		t.Errorf("authorize User-Agent %q", ua)
	}
	if ck := reqs[0].Header.Get("Cookie"); regexp.MustCompile(`(^|; )(uin|qm_keyst)=`).MatchString(ck) {
		t.Errorf("credential cookies %q sent with no credential held", ck)
	}
}
