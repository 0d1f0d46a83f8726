package qqtest

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
)

// ServeHTTP serves the web login endpoints.
func (l *Login) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	key := path
	if strings.HasPrefix(path, PathWxQRCode) {
		key = PathWxQRCode
	}
	l.mu.Lock()
	if q := l.failHTTP[key]; len(q) > 0 {
		status := q[0]
		l.failHTTP[key] = q[1:]
		l.mu.Unlock()
		http.Error(w, "<html>qqtest injected failure</html>", status)
		return
	}
	// The reference sends its Android User-Agent to the login pages, all
	// but the WeChat long poll, which goes out with its HTTP library's own.
	// The real pages do not refuse another one: it is only a deviation.
	if ua := r.UserAgent(); key != PathWxLongPoll && ua != AndroidUserAgent {
		l.problemLocked("%s: User-Agent %q, want the reference's %q", key, ua, AndroidUserAgent)
	}
	l.mu.Unlock()
	switch key {
	case PathPtqrShow:
		l.servePtqrShow(w, r)
	case PathPtqrLogin:
		l.servePtqrLogin(w, r)
	case PathCheckSig:
		l.serveCheckSig(w, r)
	case PathAuthorize:
		l.serveAuthorize(w, r)
	case PathWxQRConnect:
		l.serveWxQRConnect(w, r)
	case PathWxQRCode:
		l.serveWxQRCode(w, r)
	case PathWxLongPoll:
		l.serveWxLongPoll(w, r)
	default:
		http.NotFound(w, r)
	}
}

// bad records a deviation and answers 400 with it.
func (l *Login) bad(w http.ResponseWriter, format string, args ...any) {
	l.mu.Lock()
	p := l.problemLocked(format, args...)
	l.mu.Unlock()
	http.Error(w, p, http.StatusBadRequest)
}

func wantQuery(q url.Values, kv ...string) []string {
	var out []string
	for i := 0; i+1 < len(kv); i += 2 {
		if got := q.Get(kv[i]); got != kv[i+1] {
			out = append(out, fmt.Sprintf("%s=%q, want %q", kv[i], got, kv[i+1]))
		}
	}
	return out
}

func (l *Login) servePtqrShow(w http.ResponseWriter, r *http.Request) {
	bad := wantQuery(r.URL.Query(), "appid", ptloginAppID, "daid", "383", "pt_3rd_aid", qqConnectAppID)
	if ref := r.Header.Get("Referer"); ref != ptloginReferer {
		bad = append(bad, fmt.Sprintf("Referer %q, want %s", ref, ptloginReferer))
	}
	if len(bad) > 0 {
		l.bad(w, "ptqrshow: %s", strings.Join(bad, "; "))
		return
	}
	sig := "QRSIG" + randHex(16)
	l.mu.Lock()
	l.issueLocked(QRKindQQ, sig)
	l.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "qrsig", Value: sig, Path: "/", Domain: "ptlogin2.qq.com"})
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write(qrPNG("https://ssl.ptlogin2.qq.com/qr?sig=" + sig))
}

func ptuiCB(code int, target, msg string) string {
	return fmt.Sprintf("ptuiCB('%d','0','%s','0','%s', '')\r\n", code, target, msg)
}

func (l *Login) servePtqrLogin(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie("qrsig")
	if err != nil || ck.Value == "" {
		l.bad(w, "ptqrlogin: no qrsig cookie")
		return
	}
	sig := ck.Value
	q := r.URL.Query()
	bad := wantQuery(q, "ptqrtoken", strconv.FormatInt(qq.Hash33(sig, 0), 10), "aid", ptloginAppID, "daid", "383", "pt_3rd_aid", qqConnectAppID)
	if len(bad) > 0 {
		l.bad(w, "ptqrlogin: %s", strings.Join(bad, "; "))
		return
	}
	l.mu.Lock()
	s := l.qrLocked(QRKindQQ, sig)
	if s == nil {
		l.mu.Unlock()
		l.bad(w, "ptqrlogin: unknown qrsig")
		return
	}
	st := s.state
	var sigx string
	if st == QRConfirmed {
		sigx = "SIGX" + randHex(16)
		l.sigx[sigx] = sig
	}
	musicid := s.musicid
	l.mu.Unlock()
	w.Header().Set("Content-Type", "application/javascript")
	switch st {
	case QRWaiting:
		_, _ = fmt.Fprint(w, ptuiCB(66, "", "二维码未失效。"))
	case QRScanned:
		_, _ = fmt.Fprint(w, ptuiCB(67, "", "二维码认证中。"))
	case QRRefused:
		_, _ = fmt.Fprint(w, ptuiCB(68, "", "本次登录已被拒绝"))
	case QRExpired:
		_, _ = fmt.Fprint(w, ptuiCB(65, "", "二维码已失效。"))
	case QRConfirmed:
		target := "https://ssl.ptlogin2.graph.qq.com/check_sig?pttype=1&uin=" + strconv.FormatInt(musicid, 10) +
			"&service=ptqrlogin&nodirect=0&ptsigx=" + sigx +
			"&s_url=https%3A%2F%2Fgraph.qq.com%2Foauth2.0%2Flogin_jump&f_url=&ptlang=2052&ptredirect=100&aid=716027609&daid=383&j_later=0&low_login_hour=0&regmaster=0&pt_login_type=3&pt_aid=0&pt_aaid=16&pt_light=0&pt_3rd_aid=100497308"
		_, _ = fmt.Fprint(w, ptuiCB(0, target, "登录成功！"))
	}
}

func (l *Login) serveCheckSig(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	l.mu.Lock()
	sig, ok := l.sigx[q.Get("ptsigx")]
	var s *loginQR
	if ok {
		delete(l.sigx, q.Get("ptsigx"))
		s = l.qrLocked(QRKindQQ, sig)
	}
	l.mu.Unlock()
	if s == nil {
		l.bad(w, "check_sig: unknown or reused ptsigx")
		return
	}
	if q.Get("uin") != strconv.FormatInt(s.musicid, 10) || q.Get("pt_3rd_aid") != qqConnectAppID {
		l.bad(w, "check_sig: uin or pt_3rd_aid wrong")
		return
	}
	pskey := "PSKEY" + randHex(16)
	l.mu.Lock()
	l.pskeys[pskey] = true
	l.mu.Unlock()
	for _, c := range []*http.Cookie{
		{Name: "p_skey", Value: pskey, Path: "/", Domain: "graph.qq.com"},
		{Name: "p_uin", Value: fmt.Sprintf("o%010d", s.musicid), Path: "/", Domain: "graph.qq.com"},
		{Name: "qrsig-code", Value: s.code, Path: "/", Domain: "graph.qq.com"},
	} {
		http.SetCookie(w, c)
	}
	http.Redirect(w, r, "https://graph.qq.com/oauth2.0/login_jump", http.StatusFound)
}

func (l *Login) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		l.bad(w, "authorize: method %s, want POST", r.Method)
		return
	}
	if err := r.ParseForm(); err != nil {
		l.bad(w, "authorize: form: %v", err)
		return
	}
	pk, err := r.Cookie("p_skey")
	if err != nil {
		l.bad(w, "authorize: no p_skey cookie")
		return
	}
	codeCk, _ := r.Cookie("qrsig-code")
	l.mu.Lock()
	okKey := l.pskeys[pk.Value]
	delete(l.pskeys, pk.Value)
	l.mu.Unlock()
	bad := wantQuery(r.PostForm, "client_id", qqConnectAppID, "response_type", "code",
		"g_tk", strconv.FormatInt(qq.Hash33(pk.Value, 5381), 10))
	if !okKey {
		bad = append(bad, "p_skey not issued by check_sig (or reused)")
	}
	if codeCk == nil || codeCk.Value == "" {
		bad = append(bad, "the check_sig cookies were not all sent")
	}
	if len(bad) > 0 {
		l.bad(w, "authorize: %s", strings.Join(bad, "; "))
		return
	}
	http.Redirect(w, r, "https://y.qq.com/portal/wx_redirect.html?login_type=1&surl=https%3A%2F%2Fy.qq.com%2F&code="+codeCk.Value+"&state=state", http.StatusFound)
}

func (l *Login) serveWxQRConnect(w http.ResponseWriter, r *http.Request) {
	bad := wantQuery(r.URL.Query(), "appid", wxAppID, "response_type", "code", "scope", "snsapi_login")
	if len(bad) > 0 {
		l.bad(w, "qrconnect: %s", strings.Join(bad, "; "))
		return
	}
	id := "0" + randHex(7)
	l.mu.Lock()
	l.issueLocked(QRKindWeChat, id)
	l.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = fmt.Fprintf(w, `<!DOCTYPE html><html><head><title>微信登录</title></head><body>
<div class="wrp_code"><img class="qrcode lightBorder" src="/connect/qrcode/%s" /></div>
<script>var fordevtool = "https://long.open.weixin.qq.com/connect/l/qrconnect?uuid=%s";</script>
</body></html>`, id, id)
}

func (l *Login) serveWxQRCode(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, PathWxQRCode)
	l.mu.Lock()
	s := l.qrLocked(QRKindWeChat, id)
	l.mu.Unlock()
	if s == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	_, _ = w.Write(qrJPEG("https://open.weixin.qq.com/connect/confirm?uuid=" + id))
}

func wxAnswer(code int, wxCode string) string {
	return fmt.Sprintf("window.wx_errcode=%d;window.wx_code='%s';", code, wxCode)
}

func (l *Login) serveWxLongPoll(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("uuid")
	l.mu.Lock()
	s := l.qrLocked(QRKindWeChat, id)
	hold := l.longPoll
	l.mu.Unlock()
	if s == nil {
		l.bad(w, "qrconnect long poll: unknown uuid %q", id)
		return
	}
	var timeout <-chan time.Time
	if hold > 0 {
		t := time.NewTimer(hold)
		defer t.Stop()
		timeout = t.C
	}
	for {
		l.mu.Lock()
		st, seen, changed, code := s.state, s.seen, s.changed, s.code
		if st != seen {
			s.seen = st
		}
		l.mu.Unlock()
		if st != seen {
			w.Header().Set("Content-Type", "application/javascript")
			switch st {
			case QRWaiting:
				_, _ = fmt.Fprint(w, wxAnswer(408, ""))
			case QRScanned:
				_, _ = fmt.Fprint(w, wxAnswer(404, ""))
			case QRRefused:
				_, _ = fmt.Fprint(w, wxAnswer(403, ""))
			case QRExpired:
				_, _ = fmt.Fprint(w, wxAnswer(402, ""))
			case QRConfirmed:
				_, _ = fmt.Fprint(w, wxAnswer(405, code))
			}
			return
		}
		select {
		case <-changed:
		case <-timeout:
			_, _ = fmt.Fprint(w, wxAnswer(408, ""))
			return
		case <-r.Context().Done():
			// The client gave up: answer nothing at all (an empty 200
			// could reach a client as a reply).
			panic(http.ErrAbortHandler)
		}
	}
}
