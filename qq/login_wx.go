package qq

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"
)

// WeChat open-platform identifiers of QQ Music's web login.
const (
	wxAppID       = "wx48db31d50e334801"
	wxRedirectURI = "https://y.qq.com/portal/wx_redirect.html?login_type=2&surl=https://y.qq.com/"
)

var (
	wxUUIDRe   = regexp.MustCompile(`uuid=([^"&\s]+)"`)
	wxStatusRe = regexp.MustCompile(`window\.wx_errcode=(\d+);window\.wx_code='([^']*)'`)
)

func (c *Client) startWeChatLogin(ctx context.Context, cfg qrConfig) (*qrFlow, error) {
	q := query("appid", wxAppID, "redirect_uri", wxRedirectURI, "response_type", "code",
		"scope", "snsapi_login", "state", "STATE",
		"href", "https://y.qq.com/mediastyle/music_v17/src/css/popup_wechat.css#wechat_redirect")
	hc := c.loginHTTPClient(false)
	req, err := http.NewRequest(http.MethodGet, c.URL("https://open.weixin.qq.com/connect/qrconnect?"+q), nil)
	if err != nil {
		return nil, err
	}
	c.asLoginPage(req)
	rctx, cancel := context.WithTimeout(ctx, cfg.requestTime)
	defer cancel()
	_, page, err := c.loginDo(rctx, hc, req, "qrconnect")
	if err != nil {
		return nil, err
	}
	m := wxUUIDRe.FindSubmatch(page)
	if m == nil {
		return nil, protocolError("qrconnect", "no QR uuid in the page")
	}
	id := string(m[1])
	req, err = http.NewRequest(http.MethodGet, c.URL("https://open.weixin.qq.com/connect/qrcode/"+url.PathEscape(id)), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Referer", "https://open.weixin.qq.com/connect/qrconnect")
	c.asLoginPage(req)
	resp, img, err := c.loginDo(rctx, hc, req, "qrcode")
	if err != nil {
		return nil, err
	}
	if len(img) == 0 {
		return nil, protocolError("qrcode", "empty QR image")
	}
	return &qrFlow{
		image: img,
		mime:  imageMIME(resp, "image/jpeg"),
		wait:  func(e *emitter) { c.pollWeChat(e, cfg, id) },
		close: func() {},
	}, nil
}

func (c *Client) pollWeChat(e *emitter, cfg qrConfig, id string) {
	ctx := e.lctx
	hc := c.loginHTTPClient(false)
	for {
		state, code, err := c.checkWeChat(ctx, hc, cfg, id)
		if err != nil {
			e.fail(err)
			return
		}
		if state != LoginConfirmed {
			if !e.state(state) || state.Terminal() {
				return
			}
			// A long poll that answered at once must not spin.
			if !sleepCtx(ctx, cfg.pollInterval/4) {
				return
			}
			continue
		}
		if !e.state(LoginConfirmed) {
			return
		}
		cred, err := c.callLogin(ctx, loginModule, "Login",
			Object{{"code", code}, {"strAppid", wxAppID}}, Object{{"tmeLoginType", LoginTypeWeChat}})
		if err != nil {
			e.fail(err)
			return
		}
		e.done(cred)
		return
	}
}

// checkWeChat makes one long poll. A poll that times out means nothing
// happened yet (LoginWaiting is then repeated, which the emitter drops).
func (c *Client) checkWeChat(ctx context.Context, hc *http.Client, cfg qrConfig, id string) (LoginState, string, error) {
	// Not a login page for the reference: no User-Agent of its own, no
	// cookies, and the time in whole seconds times 1000.
	q := query("uuid", id, "_", strconv.FormatInt(time.Now().Unix()*1000, 10))
	req, err := http.NewRequest(http.MethodGet, c.URL("https://lp.open.weixin.qq.com/connect/l/qrconnect?"+q), nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Referer", "https://open.weixin.qq.com/")
	pctx, cancel := context.WithTimeout(ctx, cfg.longPoll)
	defer cancel()
	_, body, err := c.loginDo(pctx, hc, req, "qrconnect long poll")
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return LoginWaiting, "", nil
		}
		return 0, "", err
	}
	m := wxStatusRe.FindSubmatch(body)
	if m == nil && pctx.Err() != nil && ctx.Err() == nil {
		// Cut off by our own long-poll deadline: still waiting.
		return LoginWaiting, "", nil
	}
	if m == nil {
		return 0, "", protocolError("qrconnect long poll", "no wx_errcode in the answer %q", excerpt(body))
	}
	n, err := strconv.Atoi(string(m[1]))
	if err != nil {
		return 0, "", protocolError("qrconnect long poll", "wx_errcode is not a number")
	}
	state, ok := qrStatus(n)
	if !ok {
		return 0, "", protocolError("qrconnect long poll", "unknown wx_errcode %d", n)
	}
	if state == LoginConfirmed && len(m[2]) == 0 {
		return 0, "", protocolError("qrconnect long poll", "confirmation without a code")
	}
	return state, string(m[2]), nil
}
