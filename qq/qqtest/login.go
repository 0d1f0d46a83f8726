package qqtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
)

// QRKind is the kind of a QR login.
type QRKind string

// The QR logins the double serves.
const (
	QRKindQQ     QRKind = "qq"
	QRKindWeChat QRKind = "wx"
	QRKindMobile QRKind = "mobile"
)

// QRState is where a QR code stands on the double's side.
type QRState int

// The states a test moves a QR code through.
const (
	QRWaiting QRState = iota
	QRScanned
	QRConfirmed
	QRRefused
	QRExpired
)

// Login paths, as the real hosts serve them.
const (
	PathPtqrShow    = "/ptqrshow"            // ssl.ptlogin2.qq.com
	PathPtqrLogin   = "/ptqrlogin"           // ssl.ptlogin2.qq.com
	PathCheckSig    = "/check_sig"           // ssl.ptlogin2.graph.qq.com
	PathAuthorize   = "/oauth2.0/authorize"  // graph.qq.com
	PathWxQRConnect = "/connect/qrconnect"   // open.weixin.qq.com
	PathWxQRCode    = "/connect/qrcode/"     // open.weixin.qq.com, + uuid
	PathWxLongPoll  = "/connect/l/qrconnect" // lp.open.weixin.qq.com
	qqConnectAppID  = "100497308"            // QQ Music's QQ Connect app
	ptloginAppID    = "716027609"            // QQ Music's ptlogin app
	wxAppID         = "wx48db31d50e334801"   // QQ Music's WeChat app
	ptloginReferer  = "https://xui.ptlogin2.qq.com/"
	defaultLongPoll = 25 * time.Second
)

// LoginHosts are the hosts of the QR login web services.
var LoginHosts = []string{"ssl.ptlogin2.qq.com", "ssl.ptlogin2.graph.qq.com", "graph.qq.com", "open.weixin.qq.com", "lp.open.weixin.qq.com"}

// Login is the double of QQ Music's login services: the ptlogin, graph and
// WeChat web endpoints of the QQ and WeChat QR logins (state machines the
// test moves with the QR handles), and, once attached to a Server
// (AttachLogin), the musicu login methods and the MQTT push broker of the
// mobile-app login.
//
// Tests find the QR codes a client fetched with NextQR and move them with
// Scan, Confirm, Refuse and Expire. Failures are injected with FailHTTP
// (web steps) and Server.Fail (musicu methods).
type Login struct {
	// URL is the base URL of the standalone server (NewLogin); empty when
	// the double is mounted on a Server.
	URL string

	ts     *httptest.Server
	srv    *Server     // nil when standalone
	broker *MQTTBroker // nil when standalone

	mu        sync.Mutex
	qrs       map[string]*loginQR // kind/id
	issued    []*loginQR
	waiters   []chan struct{}
	codes     map[string]QRKind // OAuth code -> the login it finishes
	pskeys    map[string]bool
	sigx      map[string]string // ptsigx -> qrsig
	failHTTP  map[string][]int
	problems  []string
	longPoll  time.Duration
	phone     phoneState
	account   Account
	confirmed map[string]bool // issued codes already used
}

type loginQR struct {
	kind    QRKind
	id      string
	state   QRState
	changed chan struct{} // closed and replaced on every change
	seen    QRState       // last state a WeChat long poll reported
	code    string        // OAuth code once confirmed (QQ, WeChat)
	token   string        // mobile: the token of the cookies event
	musicid int64
}

// LoginQR is a handle on one QR code the client fetched.
type LoginQR struct {
	Kind QRKind
	// ID is the qrsig (QQ), uuid (WeChat) or qrcodeID (mobile).
	ID string
	l  *Login
}

// NewLogin starts the web login endpoints on their own TLS server; see
// Endpoints. (The musicu methods and the broker need a Server: use
// AttachLogin for complete logins.)
func NewLogin() *Login {
	l := newLogin()
	l.ts = httptest.NewTLSServer(l)
	l.URL = l.ts.URL
	return l
}

func newLogin() *Login {
	return &Login{
		qrs:       map[string]*loginQR{},
		codes:     map[string]QRKind{},
		pskeys:    map[string]bool{},
		sigx:      map[string]string{},
		failHTTP:  map[string][]int{},
		longPoll:  defaultLongPoll,
		confirmed: map[string]bool{},
		account:   Account{MusicID: 2000000001, Nick: "logged-in tester"},
		phone:     phoneState{codes: map[string]string{}},
	}
}

// Endpoints maps the login hosts onto the standalone server.
func (l *Login) Endpoints() map[string]string {
	m := map[string]string{}
	for _, h := range LoginHosts {
		m[h] = l.URL
	}
	return m
}

// Client returns an HTTP client that trusts the standalone server.
func (l *Login) Client() *http.Client { return l.ts.Client() }

// Close stops the standalone server (a mounted Login closes with its
// Server; its broker is closed by the Server's Close hook, see AttachLogin).
func (l *Login) Close() {
	if l.ts != nil {
		l.ts.CloseClientConnections()
		l.ts.Close()
	}
	if l.broker != nil {
		l.broker.Close()
	}
}

// Broker is the MQTT broker of the mobile login (nil when standalone).
func (l *Login) Broker() *MQTTBroker { return l.broker }

// SetAccount sets the account a successful login logs into (its MusicID,
// Nick, ...); the double issues a fresh musickey for each login.
func (l *Login) SetAccount(a Account) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.account = a
}

// SetLongPoll sets how long the WeChat long poll holds a request when
// nothing changes before answering "still waiting" (408); 0 or less holds
// it until the client gives up.
func (l *Login) SetLongPoll(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.longPoll = d
}

// FailHTTP makes the next request to path (one of the Path* constants)
// answer with HTTP status; calls queue up.
func (l *Login) FailHTTP(path string, status int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failHTTP[path] = append(l.failHTTP[path], status)
}

// Problems lists requests that deviated from what the real services need.
func (l *Login) Problems() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.problems...)
}

func (l *Login) problemLocked(format string, args ...any) string {
	p := fmt.Sprintf(format, args...)
	l.problems = append(l.problems, p)
	return p
}

// NextQR waits for the next QR code of kind that a client fetched and has
// not been returned by NextQR yet.
func (l *Login) NextQR(ctx context.Context, kind QRKind) (*LoginQR, error) {
	for {
		l.mu.Lock()
		for i, q := range l.issued {
			if q.kind == kind {
				l.issued = append(l.issued[:i:i], l.issued[i+1:]...)
				l.mu.Unlock()
				return &LoginQR{Kind: kind, ID: q.id, l: l}, nil
			}
		}
		ch := make(chan struct{})
		l.waiters = append(l.waiters, ch)
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("qqtest: no %s QR code was fetched: %w", kind, ctx.Err())
		}
	}
}

func (l *Login) issueLocked(kind QRKind, id string) *loginQR {
	q := &loginQR{kind: kind, id: id, changed: make(chan struct{}), seen: QRWaiting}
	l.qrs[string(kind)+"/"+id] = q
	l.issued = append(l.issued, q)
	for _, w := range l.waiters {
		close(w)
	}
	l.waiters = nil
	return q
}

func (l *Login) qrLocked(kind QRKind, id string) *loginQR { return l.qrs[string(kind)+"/"+id] }

// State returns the QR code's state.
func (q *LoginQR) State() QRState {
	q.l.mu.Lock()
	defer q.l.mu.Unlock()
	if s := q.l.qrLocked(q.Kind, q.ID); s != nil {
		return s.state
	}
	return QRExpired
}

// Scan marks the code scanned (the user now has to confirm).
func (q *LoginQR) Scan() error { return q.set(QRScanned) }

// Refuse marks the code refused on the phone.
func (q *LoginQR) Refuse() error { return q.set(QRRefused) }

// Expire makes the code expire.
func (q *LoginQR) Expire() error { return q.set(QRExpired) }

// Confirm confirms the login on the phone: the client's next poll (or the
// broker's cookies event) completes it with the double's account.
func (q *LoginQR) Confirm() error { return q.set(QRConfirmed) }

func (q *LoginQR) set(st QRState) error {
	l := q.l
	l.mu.Lock()
	s := l.qrLocked(q.Kind, q.ID)
	if s == nil {
		l.mu.Unlock()
		return fmt.Errorf("qqtest: unknown %s QR %q", q.Kind, q.ID)
	}
	s.state = st
	if st == QRConfirmed {
		s.code = "CODE" + randHex(12)
		s.musicid = l.account.MusicID
		l.codes[s.code] = q.Kind
		if q.Kind == QRKindMobile {
			s.token = "TOKEN" + randHex(16)
		}
	}
	close(s.changed)
	s.changed = make(chan struct{})
	musicid, token := s.musicid, s.token
	l.mu.Unlock()

	if q.Kind != QRKindMobile {
		return nil
	}
	b := l.broker
	if b == nil {
		return fmt.Errorf("qqtest: the mobile login needs AttachLogin (a broker)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.WaitSubscribed(ctx, q.ID); err != nil {
		return err
	}
	switch st {
	case QRScanned:
		return b.Scan(q.ID)
	case QRRefused:
		return b.Cancel(q.ID)
	case QRExpired:
		return b.Timeout(q.ID)
	case QRConfirmed:
		return b.SendCookies(q.ID, musicid, token)
	}
	return nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func qrPNG(content string) []byte {
	png, err := qrcode.Encode(content, qrcode.Medium, 128)
	if err != nil {
		panic("qqtest: QR encode: " + err.Error())
	}
	return png
}

func qrJPEG(content string) []byte {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		panic("qqtest: QR encode: " + err.Error())
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, q.Image(128), nil); err != nil {
		panic("qqtest: JPEG encode: " + err.Error())
	}
	return buf.Bytes()
}

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
