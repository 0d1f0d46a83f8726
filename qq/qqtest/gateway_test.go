package qqtest_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

func TestSignedGateway(t *testing.T) {
	s, c, clk := newEnv(t, qqtest.WithSignRequired("GetSessionList"))
	body := c.body([3]any{qqtest.ModuleRead, "GetSessionList", sessionListParam("", 0, 20)})

	_, good, err := c.post(signedPath(body, clk.Now().UnixMilli()), body)
	if err != nil {
		t.Fatal(err)
	}
	itemCode(t, good, 0)
	noDeviations(t, s)

	// The sign of other bytes (one space added) is refused.
	other := append([]byte(" "), body...)
	_, bad, err := c.post(signedPath(other, clk.Now().UnixMilli()), body)
	if err != nil {
		t.Fatal(err)
	}
	itemCode(t, bad, qqtest.CodeSignatureRequired)
	_, missing, _ := c.post(qqtest.PathMusics, body)
	itemCode(t, missing, qqtest.CodeSignatureRequired)
	if d := strings.Join(s.Deviations(), "\n"); !strings.Contains(d, "not the zzc sign") {
		t.Errorf("bad sign not reported: %s", d)
	}

	// A method that needs the signed gateway refuses the unsigned one.
	if code := listSessions(c); code != qqtest.CodeSignatureRequired {
		t.Errorf("unsigned GetSessionList: code %d, want 2000", code)
	}
}

func TestDeviationReports(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(c *client, p map[string]any)
		want   string
	}{
		{"user agent", func(c *client, _ map[string]any) { c.ua = "Go-http-client/1.1" }, "User-Agent"},
		{"cv", func(c *client, _ map[string]any) { c.comm["cv"] = 1 }, "comm.cv = 1, want 14090008"},
		{"ct as string", func(c *client, _ map[string]any) { c.comm["ct"] = "11" }, `comm.ct = "11", want 11`},
		{"qq as number", func(c *client, _ map[string]any) { c.comm["qq"] = testAccount.MusicID }, "comm.qq"},
		{"missing QIMEI", func(c *client, _ map[string]any) { delete(c.comm, "QIMEI") }, "comm.QIMEI/QIMEI36"},
		{"rom", func(c *client, _ map[string]any) { c.comm["rom"] = "google/pixel" }, "comm.rom"},
		{"udid differs", func(c *client, _ map[string]any) { c.comm["udid"] = "x" }, "comm.udid"},
		{"unknown sid", func(c *client, _ map[string]any) { c.comm["sid"] = "forged" }, "not a session GetSession issued"},
		{"unexpected comm key", func(c *client, _ map[string]any) { c.comm["platform"] = "android" }, "unexpected comm key platform"},
		{"tmeLoginType", func(c *client, _ map[string]any) { c.comm["tmeLoginType"] = 1 }, "comm.tmeLoginType = 1, want 2"},
		{"boolean param", func(_ *client, p map[string]any) { p["from"] = true }, "JSON boolean"},
		{"missing param", func(_ *client, p map[string]any) { delete(p, "last_time") }, "param last_time is missing"},
		{"unexpected param", func(_ *client, p map[string]any) { p["lastId"] = "" }, "unexpected param lastId"},
		{"param type", func(_ *client, p map[string]any) { p["size"] = "20" }, "param size is a string, want an integer"},
		{"cookies", func(c *client, _ map[string]any) { c.cookies = true }, "cookies qm_keyst, qqmusic_key, qqmusic_uin, uin sent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c, _ := newEnv(t)
			p := sessionListParam("", 0, 20)
			tc.mutate(c, p)
			_, _, err := c.post(qqtest.PathMusicu, c.body([3]any{qqtest.ModuleRead, "GetSessionList", p}))
			if err != nil {
				t.Fatal(err)
			}
			devs := s.Deviations()
			if !strings.Contains(strings.Join(devs, "\n"), tc.want) {
				t.Errorf("deviations lack %q:\n%s", tc.want, strings.Join(devs, "\n"))
			}
			if !strings.HasPrefix(devs[0], "musicu.fcg[GetSessionList]") {
				t.Errorf("deviation %q does not name the call", devs[0])
			}
		})
	}
}

func TestMalformedRequests(t *testing.T) {
	s, c, _ := newEnv(t)
	for _, tc := range []struct {
		name string
		body string
		top  int
		item int // -1: no item
	}{
		{"not json", "hello", qqtest.CodeBadRequest, -1},
		{"json array", "[1,2]", qqtest.CodeBadRequest, -1},
		{"null", "null", qqtest.CodeBadRequest, -1},
		{"no comm", `{"req_0":{"module":"a","method":"b","param":{}}}`, qqtest.CodeBadRequest, -1},
		{"comm not object", `{"comm":3,"req_0":{}}`, qqtest.CodeBadRequest, -1},
		{"no items", `{"comm":{}}`, qqtest.CodeBadRequest, -1},
		{"item not object", `{"comm":{},"req_0":"x"}`, 0, qqtest.CodeBadRequest},
		{"param array", `{"comm":{},"req_0":{"module":"music.privateMsg.PrivateMsgRead","method":"GetSessionList","param":[1]}}`, 0, qqtest.CodeBadRequest},
		{"unknown method", `{"comm":{},"req_0":{"module":"x","method":"y","param":{}}}`, 0, qqtest.CodeBadRequest},
		{"huge number", `{"comm":{"ct":1e999},"req_0":{"module":"music.privateMsg.PrivateMsgRead","method":"GetSessionList","param":{"size":1e400}}}`, 0, qqtest.CodeExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b, err := c.post(qqtest.PathMusicu, []byte(tc.body))
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("resp %v err %v", resp, err)
			}
			top := decode(t, b)
			if num(top["code"]) != tc.top {
				t.Errorf("top-level code %v, want %d", top["code"], tc.top)
			}
			if tc.item >= 0 {
				if got := num(top["req_0"].(map[string]any)["code"]); got != tc.item {
					t.Errorf("item code %d, want %d", got, tc.item)
				}
			}
		})
	}
	// GET and oversized bodies.
	resp, err := c.hc.Get(s.URL + qqtest.PathMusicu)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if num(decode(t, b)["code"]) != qqtest.CodeBadRequest {
		t.Errorf("GET: %s", b)
	}
	_, b, err = c.post(qqtest.PathMusicu, bytes.Repeat([]byte("a"), 2<<20))
	if err != nil {
		t.Fatal(err)
	}
	if num(decode(t, b)["code"]) != qqtest.CodeBadRequest {
		t.Errorf("oversized body: %s", b)
	}
	// Unknown paths are 404.
	resp, err = c.hc.Get(s.URL + "/nowhere")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}
	for _, d := range s.Deviations() {
		if strings.Contains(d, "internal error") {
			t.Errorf("the server failed internally: %s", d)
		}
	}
}

// qimeiRequest builds a QIMEI proxy request the way the facts describe it
// (with random bytes in place of the RSA and AES output).
func qimeiRequest(t *testing.T, url string, ts int64, mutate func(h http.Header, p map[string]any)) *http.Request {
	t.Helper()
	rsaBlock := make([]byte, 128)
	aesBlocks := make([]byte, 64)
	_, _ = rand.Read(rsaBlock)
	_, _ = rand.Read(aesBlocks)
	key := base64.StdEncoding.EncodeToString(rsaBlock)
	params := base64.StdEncoding.EncodeToString(aesBlocks)
	nonce := "0123456789abcdef"
	extra := `{"appKey":"0AND0HD6FE4HY80F"}`
	p := map[string]any{
		"key": key, "params": params, "time": strconv.FormatInt(ts, 10), "nonce": nonce,
		"sign": qqtest.QIMEIBodySign(key, params, ts, nonce, extra), "extra": extra,
	}
	h := http.Header{}
	h.Set("method", "GetQimei")
	h.Set("service", "trpc.tme_datasvr.qimeiproxy.QimeiProxy")
	h.Set("appid", "qimei_qq_android")
	h.Set("sign", qqtest.QIMEIHeaderSign(ts))
	h.Set("User-Agent", "QQMusic")
	h.Set("timestamp", strconv.FormatInt(ts, 10))
	h.Set("Content-Type", "application/json")
	if mutate != nil {
		mutate(h, p)
	}
	b, err := json.Marshal(map[string]any{"app": 0, "os": 1, "qimeiParams": p})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url+qqtest.PathQIMEI, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	return req
}

func TestQIMEIProxy(t *testing.T) {
	clk := newFakeClock()
	s := qqtest.New(qqtest.WithClock(clk.Now), qqtest.WithQIMEI("q16-value", "q36-value"))
	defer s.Close()
	ts := clk.Now().Unix()
	for _, tc := range []struct {
		name   string
		mutate func(h http.Header, p map[string]any)
		code   int
		want   string
	}{
		{"good", nil, 0, ""},
		{"header sign", func(h http.Header, _ map[string]any) { h.Set("sign", "00") }, qqtest.CodeQIMEIBadSign, "header sign"},
		{"stale timestamp", func(h http.Header, _ map[string]any) {
			old := ts - 3600
			h.Set("timestamp", strconv.FormatInt(old, 10))
			h.Set("sign", qqtest.QIMEIHeaderSign(old))
		}, qqtest.CodeQIMEIBadSign, "away from the server's clock"},
		{"service header", func(h http.Header, _ map[string]any) { h.Del("service") }, qqtest.CodeQIMEIBadParams, "header service"},
		{"body sign", func(_ http.Header, p map[string]any) { p["sign"] = "x" }, qqtest.CodeQIMEIBadSign, "qimeiParams.sign"},
		{"body time", func(_ http.Header, p map[string]any) { p["time"] = "1" }, qqtest.CodeQIMEIBadParams, "qimeiParams.time"},
		{"key not RSA sized", func(_ http.Header, p map[string]any) { p["key"] = "YWJj" }, qqtest.CodeQIMEIBadParams, "qimeiParams.key"},
		{"nonce missing", func(_ http.Header, p map[string]any) { delete(p, "nonce") }, qqtest.CodeQIMEIBadParams, "qimeiParams.nonce"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.ResetDeviations()
			resp, err := s.Client().Do(qimeiRequest(t, s.URL, ts, tc.mutate))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			top := decode(t, b)
			if num(top["code"]) != tc.code {
				t.Fatalf("code %v, want %d: %s", top["code"], tc.code, b)
			}
			if tc.code != 0 {
				if d := strings.Join(s.Deviations(), "\n"); !strings.Contains(d, tc.want) {
					t.Errorf("deviations lack %q: %s", tc.want, d)
				}
				return
			}
			// data is a JSON string whose data holds q16 and q36.
			var inner struct {
				Data struct{ Q16, Q36 string } `json:"data"`
			}
			if err := json.Unmarshal([]byte(str(top["data"])), &inner); err != nil {
				t.Fatalf("data is not a JSON string: %v: %s", err, b)
			}
			if inner.Data.Q16 != "q16-value" || inner.Data.Q36 != "q36-value" {
				t.Errorf("issued %+v", inner.Data)
			}
			noDeviations(t, s)
		})
	}
	if n := s.Count("GetQimei"); n != 8 {
		t.Errorf("Count(GetQimei) = %d, want 8", n)
	}
	s.Fail("GetQimei", qqtest.Fault{Kind: qqtest.HTTP5xx, Times: 1})
	resp, err := s.Client().Do(qimeiRequest(t, s.URL, ts, nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("faulted QIMEI: status %d", resp.StatusCode)
	}
}

func TestQIMEIIssuedValuesAreChecked(t *testing.T) {
	s, c, clk := newEnv(t)
	resp, err := s.Client().Do(qimeiRequest(t, s.URL, clk.Now().Unix(), nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c.comm["QIMEI"] = "stale-q16"
	listSessions(c)
	if d := strings.Join(s.Deviations(), "\n"); !strings.Contains(d, "what the QIMEI proxy issues") {
		t.Errorf("a QIMEI other than the issued one was not reported: %s", d)
	}
}

func TestRegistryAndHandleHTTP(t *testing.T) {
	s, c, _ := newEnv(t)
	// Wrap a built-in method and add a new one.
	orig, ok := s.Lookup(qqtest.ModuleRead, "GetSafetyHint")
	if !ok {
		t.Fatal("GetSafetyHint is not registered")
	}
	orig.Handle = func(call *qqtest.Call) qqtest.Reply {
		return qqtest.Reply{Data: map[string]any{"hint": "hint for " + call.Str("encUin")}}
	}
	s.Register(orig)
	s.Register(qqtest.Method{Module: qqtest.ModuleLogin, Name: "CreateQRCode", Comm: map[string]any{"ct": 23, "cv": 0},
		Handle: func(call *qqtest.Call) qqtest.Reply {
			return qqtest.Reply{Data: map[string]any{"qrcodeID": "qr-1", "ct": call.Int("ct")}}
		}})
	s.HandleHTTP("/ptqrshow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "qrsig", Value: "sig"})
		w.Header().Set("Content-Type", "image/png")
		fmt.Fprint(w, "png")
	}))

	if _, data := c.call(qqtest.ModuleRead, "GetSafetyHint", map[string]any{"encUin": "E", "close": 0}); str(data["hint"]) != "hint for E" {
		t.Errorf("wrapped handler: %v", data)
	}
	c.comm["ct"], c.comm["cv"] = 23, 0
	code, data := c.call(qqtest.ModuleLogin, "CreateQRCode", map[string]any{"tmeAppID": "qqmusic", "ct": 11, "cv": 14090008})
	if code != 0 || str(data["qrcodeID"]) != "qr-1" || num(data["ct"]) != 11 {
		t.Errorf("CreateQRCode: %d %v", code, data)
	}
	for _, d := range s.Deviations() {
		if strings.Contains(d, "comm.ct") || strings.Contains(d, "comm.cv") {
			t.Errorf("the method's comm override was reported: %s", d)
		}
	}
	resp, err := c.hc.Get(s.URL + "/ptqrshow?appid=716027609")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(resp.Cookies()) != 1 {
		t.Errorf("mounted handler: %d %v", resp.StatusCode, resp.Cookies())
	}
}

func TestEndpointsAndTLS(t *testing.T) {
	s := qqtest.NewTLS()
	defer s.Close()
	eps := s.Endpoints()
	for _, host := range []string{"u.y.qq.com", "api.tencentmusic.com", "mu.y.qq.com", "ssl.ptlogin2.qq.com", "open.weixin.qq.com"} {
		if eps[host] != s.URL {
			t.Errorf("Endpoints()[%s] = %q, want %q", host, eps[host], s.URL)
		}
	}
	if !strings.HasPrefix(s.URL, "https://") {
		t.Errorf("NewTLS URL %q", s.URL)
	}
	hc := s.Client()
	hc.Timeout = 5 * time.Second
	resp, err := hc.Post(s.URL+qqtest.PathMusicu, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("TLS gateway: %d", resp.StatusCode)
	}
}

// A body whose keys (envelope, comm, item or param) are not in the
// reference's order (Go's sorted maps, say) is served but reported;
// call-specific comm keys after rom are fine.
func TestKeyOrderDeviations(t *testing.T) {
	s, c, _ := newEnv(t)
	p := sessionListParam("", 0, 20)

	sorted, err := json.Marshal(map[string]any{"comm": c.comm, "req_0": map[string]any{"module": qqtest.ModuleRead, "method": "GetSessionList", "param": p}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.post(qqtest.PathMusicu, sorted); err != nil {
		t.Fatal(err)
	}
	devs := strings.Join(s.Deviations(), "\n")
	for _, want := range []string{
		"musicu.fcg[GetSessionList]: comm keys in the order OpenUDID,",
		"req_0 keys in the order method,module,param, want module,method,param",
		"GetSessionList: param keys in the order FansFlag,from,last_id,last_time,order,size, want the reference's last_id,order,size,last_time,from,EncryptFromUin,FansFlag",
	} {
		if !strings.Contains(devs, want) {
			t.Errorf("deviations lack %q:\n%s", want, devs)
		}
	}

	s.ResetDeviations()
	c.comm["tmeLoginMethod"] = 3 // a call's own key, appended after rom
	if _, _, err := c.post(qqtest.PathMusicu, c.body([3]any{qqtest.ModuleRead, "GetSessionList", p})); err != nil {
		t.Fatal(err)
	}
	for _, d := range s.Deviations() {
		if strings.Contains(d, "order") {
			t.Errorf("a body in the reference's order was reported: %s", d)
		}
	}
}
