package qqtest_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// The standalone login double serves the QQ QR web steps; a test moves the
// code with the handle NextQR returns.
func TestStandaloneQQWebFlow(t *testing.T) {
	l := qqtest.NewLogin()
	defer l.Close()
	hc := l.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	get := func(path string, hdr map[string]string, cookies ...*http.Cookie) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, l.URL+path, nil)
		req.Header.Set("User-Agent", qqtest.AndroidUserAgent)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	ref := map[string]string{"Referer": "https://xui.ptlogin2.qq.com/"}
	resp, _ := get("/ptqrshow?appid=716027609&daid=383&pt_3rd_aid=100497308", ref)
	var sig string
	for _, c := range resp.Cookies() {
		if c.Name == "qrsig" {
			sig = c.Value
		}
	}
	if resp.StatusCode != 200 || sig == "" || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("ptqrshow: %d sig %q", resp.StatusCode, sig)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q, err := l.NextQR(ctx, qqtest.QRKindQQ)
	if err != nil || q.ID != sig {
		t.Fatalf("NextQR %v %v", q, err)
	}
	poll := "/ptqrlogin?aid=716027609&daid=383&pt_3rd_aid=100497308&ptqrtoken=" + strconv.FormatInt(qq.Hash33(sig, 0), 10)
	qrsig := &http.Cookie{Name: "qrsig", Value: sig}
	if _, body := get(poll, ref, qrsig); !strings.HasPrefix(body, "ptuiCB('66'") {
		t.Fatalf("waiting: %q", body)
	}
	_ = q.Scan()
	if _, body := get(poll, ref, qrsig); !strings.HasPrefix(body, "ptuiCB('67'") {
		t.Fatalf("scanned: %q", body)
	}
	_ = q.Confirm()
	_, body := get(poll, ref, qrsig)
	m := regexp.MustCompile(`ptuiCB\('0','0','([^']+)'`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("confirmed: %q", body)
	}
	target, _ := url.Parse(m[1])
	resp, _ = get(qqtest.PathCheckSig+"?"+target.RawQuery, ref)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("check_sig: %d", resp.StatusCode)
	}
	var pskey string
	for _, c := range resp.Cookies() {
		if c.Name == "p_skey" {
			pskey = c.Value
		}
	}
	form := url.Values{"client_id": {"100497308"}, "response_type": {"code"}, "g_tk": {strconv.FormatInt(qq.Hash33(pskey, 5381), 10)}}
	req, _ := http.NewRequest(http.MethodPost, l.URL+qqtest.PathAuthorize, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", qqtest.AndroidUserAgent)
	for _, c := range resp.Cookies() {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	aresp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	aresp.Body.Close()
	loc, _ := url.Parse(aresp.Header.Get("Location"))
	if aresp.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: %d %v", aresp.StatusCode, loc)
	}
	if p := l.Problems(); len(p) > 0 {
		t.Fatalf("problems: %v", p)
	}

	// A request that deviates is refused and recorded.
	if resp, _ := get("/ptqrshow?appid=1", nil); resp.StatusCode != http.StatusBadRequest || len(l.Problems()) != 1 {
		t.Fatalf("bad ptqrshow: %d, problems %v", resp.StatusCode, l.Problems())
	}
	for _, h := range qqtest.LoginHosts {
		if l.Endpoints()[h] != l.URL {
			t.Fatalf("Endpoints lacks %s", h)
		}
	}
}

// A login page fetched with another User-Agent than the reference's is
// served (the real pages do not refuse it) but reported; the WeChat long
// poll, which the reference sends with its HTTP library's own, is not.
func TestLoginPagesReportAForeignUserAgent(t *testing.T) {
	l := qqtest.NewLogin()
	defer l.Close()
	for _, tc := range []struct {
		path, ua string
		report   bool
	}{
		{"/ptqrshow?appid=716027609&daid=383&pt_3rd_aid=100497308", "Go-http-client/1.1", true},
		{qqtest.PathWxQRConnect + "?appid=wx48db31d50e334801", "Go-http-client/1.1", true},
		{qqtest.PathWxQRConnect + "?appid=wx48db31d50e334801", qqtest.AndroidUserAgent, false},
	} {
		before := len(l.Problems())
		req, _ := http.NewRequest(http.MethodGet, l.URL+tc.path, nil)
		req.Header.Set("User-Agent", tc.ua)
		req.Header.Set("Referer", "https://xui.ptlogin2.qq.com/")
		resp, err := l.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var uaProblems []string
		for _, p := range l.Problems()[before:] {
			if strings.Contains(p, "User-Agent") {
				uaProblems = append(uaProblems, p)
			}
		}
		if got := len(uaProblems) > 0; got != tc.report {
			t.Errorf("%s with %q: User-Agent reported %v (%q), want %v", tc.path, tc.ua, got, uaProblems, tc.report)
		}
	}
}
