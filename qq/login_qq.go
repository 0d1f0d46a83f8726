package qq

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// QQ Connect identifiers of QQ Music's web login.
const (
	ptloginAppID  = "716027609"
	ptloginDaid   = "383"
	qqConnectApp  = "100497308"
	ptloginRefer  = "https://xui.ptlogin2.qq.com/"
	qqLoginJump   = "https://graph.qq.com/oauth2.0/login_jump"
	qqRedirectURI = "https://y.qq.com/portal/wx_redirect.html?login_type=1&surl=https://y.qq.com/"
)

var (
	ptuiCBRe  = regexp.MustCompile(`ptuiCB\((.*?)\)`)
	ptuiArgRe = regexp.MustCompile(`'((?:\\.|[^'])*)'`)
)

// qrStatus maps the status codes shared by ptlogin and WeChat.
func qrStatus(code int) (LoginState, bool) {
	switch code {
	case 0, 405:
		return LoginConfirmed, true
	case 66, 408:
		return LoginWaiting, true
	case 67, 404:
		return LoginScanned, true
	case 65, 402:
		return LoginExpired, true
	case 68, 403:
		return LoginRefused, true
	}
	return 0, false
}

func (c *Client) startQQLogin(ctx context.Context, cfg qrConfig) (*qrFlow, error) {
	q := query("appid", ptloginAppID, "e", "2", "l", "M", "s", "3", "d", "72", "v", "4",
		"t", strconv.FormatFloat(rand.Float64(), 'f', -1, 64), "daid", ptloginDaid, "pt_3rd_aid", qqConnectApp)
	req, err := http.NewRequest(http.MethodGet, c.URL("https://ssl.ptlogin2.qq.com/ptqrshow?"+q), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Referer", ptloginRefer)
	c.asLoginPage(req)
	rctx, cancel := context.WithTimeout(ctx, cfg.requestTime)
	defer cancel()
	resp, img, err := c.loginDo(rctx, c.loginHTTPClient(false), req, "ptqrshow")
	if err != nil {
		return nil, err
	}
	var qrsig string
	for _, ck := range resp.Cookies() {
		if ck.Name == "qrsig" {
			qrsig = ck.Value
		}
	}
	if qrsig == "" {
		return nil, protocolError("ptqrshow", "no qrsig cookie in the answer")
	}
	if len(img) == 0 {
		return nil, protocolError("ptqrshow", "empty QR image")
	}
	return &qrFlow{
		image: img,
		mime:  imageMIME(resp, "image/png"),
		wait:  func(e *emitter) { c.pollQQ(e, cfg, qrsig) },
		close: func() {},
	}, nil
}

func (c *Client) pollQQ(e *emitter, cfg qrConfig, qrsig string) {
	ctx := e.lctx
	hc := c.loginHTTPClient(false)
	for {
		if !sleepCtx(ctx, cfg.pollInterval) {
			return
		}
		state, target, err := c.checkQQ(ctx, hc, cfg, qrsig)
		if err != nil {
			e.fail(err)
			return
		}
		if state != LoginConfirmed {
			if !e.state(state) || state.Terminal() {
				return
			}
			continue
		}
		if !e.state(LoginConfirmed) {
			return
		}
		cred, err := c.authorizeQQ(ctx, cfg, target)
		if err != nil {
			e.fail(err)
			return
		}
		e.done(cred)
		return
	}
}

// checkQQ polls ptqrlogin once. On confirmation it also returns the
// check_sig URL the answer carries.
func (c *Client) checkQQ(ctx context.Context, hc *http.Client, cfg qrConfig, qrsig string) (LoginState, string, error) {
	// action carries the time in ms as a float, as the reference prints it.
	ms := strconv.FormatFloat(float64(time.Now().UnixMicro())/1000, 'f', -1, 64)
	q := query("u1", qqLoginJump, "ptqrtoken", strconv.FormatInt(Hash33(qrsig, 0), 10),
		"ptredirect", "0", "h", "1", "t", "1", "g", "1", "from_ui", "1", "ptlang", "2052",
		"action", "0-0-"+ms, "js_ver", "20102616", "js_type", "1",
		"pt_uistyle", "40", "aid", ptloginAppID, "daid", ptloginDaid, "pt_3rd_aid", qqConnectApp, "has_onekey", "1")
	req, err := http.NewRequest(http.MethodGet, c.URL("https://ssl.ptlogin2.qq.com/ptqrlogin?"+q), nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Referer", ptloginRefer)
	c.asLoginPage(req, &http.Cookie{Name: "qrsig", Value: qrsig})
	rctx, cancel := context.WithTimeout(ctx, cfg.requestTime)
	defer cancel()
	_, body, err := c.loginDo(rctx, hc, req, "ptqrlogin")
	if err != nil {
		return 0, "", err
	}
	m := ptuiCBRe.FindSubmatch(body)
	if m == nil {
		return 0, "", protocolError("ptqrlogin", "no ptuiCB(...) in the answer")
	}
	args := ptuiArgRe.FindAllSubmatch(m[1], -1)
	if len(args) == 0 {
		return 0, "", protocolError("ptqrlogin", "ptuiCB without arguments")
	}
	code, err := strconv.Atoi(string(args[0][1]))
	if err != nil {
		return 0, "", protocolError("ptqrlogin", "status %q is not a number", clipText(string(args[0][1]), 20))
	}
	state, ok := qrStatus(code)
	if !ok {
		return 0, "", protocolError("ptqrlogin", "unknown status code %d", code)
	}
	if state != LoginConfirmed {
		return state, "", nil
	}
	if len(args) < 3 {
		return 0, "", protocolError("ptqrlogin", "confirmation without its redirect URL")
	}
	return state, string(args[2][1]), nil
}

// authorizeQQ turns a confirmed QQ QR login into a credential: check_sig
// for p_skey, authorize for the code, then QQLogin.
func (c *Client) authorizeQQ(ctx context.Context, cfg qrConfig, target string) (*Credential, error) {
	tu, err := url.Parse(strings.ReplaceAll(target, `\/`, `/`))
	if err != nil {
		return nil, protocolError("ptqrlogin", "the redirect URL does not parse")
	}
	sigx, uin := tu.Query().Get("ptsigx"), tu.Query().Get("uin")
	if sigx == "" || uin == "" {
		return nil, protocolError("ptqrlogin", "the redirect URL lacks ptsigx or uin")
	}
	hc := c.loginHTTPClient(true)

	q := query("uin", uin, "pttype", "1", "service", "ptqrlogin", "nodirect", "0", "ptsigx", sigx,
		"s_url", qqLoginJump, "ptlang", "2052", "ptredirect", "100", "aid", ptloginAppID,
		"daid", ptloginDaid, "j_later", "0", "low_login_hour", "0", "regmaster", "0",
		"pt_login_type", "3", "pt_aid", "0", "pt_aaid", "16", "pt_light", "0", "pt_3rd_aid", qqConnectApp)
	req, err := http.NewRequest(http.MethodGet, c.URL("https://ssl.ptlogin2.graph.qq.com/check_sig?"+q), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Referer", ptloginRefer)
	c.asLoginPage(req)
	rctx, cancel := context.WithTimeout(ctx, cfg.requestTime)
	resp, _, err := c.loginDo(rctx, hc, req, "check_sig")
	cancel()
	if err != nil {
		return nil, err
	}
	cookies := resp.Cookies()
	var pskey string
	for _, ck := range cookies {
		if ck.Name == "p_skey" && ck.Value != "" {
			pskey = ck.Value
		}
	}
	if pskey == "" {
		return nil, protocolError("check_sig", "no p_skey cookie in the answer")
	}

	form := query("response_type", "code", "client_id", qqConnectApp, "redirect_uri", qqRedirectURI,
		"scope", "get_user_info,get_app_friends", "state", "state", "switch", "", "from_ptlogin", "1",
		"src", "1", "update_auth", "1", "openapi", "1010_1030",
		"g_tk", strconv.FormatInt(Hash33(pskey, 5381), 10), "auth_time", strconv.FormatInt(time.Now().Unix()*1000, 10),
		"ui", uuid.NewString())
	req, err = http.NewRequest(http.MethodPost, c.URL("https://graph.qq.com/oauth2.0/authorize"), strings.NewReader(form))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var pageCookies []*http.Cookie
	for _, ck := range cookies {
		if ck.Value != "" {
			pageCookies = append(pageCookies, &http.Cookie{Name: ck.Name, Value: ck.Value})
		}
	}
	c.asLoginPage(req, pageCookies...)
	rctx, cancel = context.WithTimeout(ctx, cfg.requestTime)
	resp, _, err = c.loginDo(rctx, hc, req, "authorize")
	cancel()
	if err != nil {
		return nil, err
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, protocolError("authorize", "no redirect (HTTP %d); QQ did not authorize QQ Music", resp.StatusCode)
	}
	lu, err := url.Parse(loc)
	if err != nil {
		return nil, protocolError("authorize", "the redirect does not parse")
	}
	code := lu.Query().Get("code")
	if code == "" {
		return nil, protocolError("authorize", "the redirect carries no code")
	}
	return c.callLogin(ctx, qqLoginModule, "QQLogin", Object{{"code", code}}, Object{{"tmeLoginType", LoginTypeQQ}})
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
