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
	"sync"
	"time"

	qrcode "github.com/skip2/go-qrcode"
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
