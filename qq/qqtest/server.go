package qqtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Paths the double serves itself; every other path goes to the handlers
// mounted with HandleHTTP.
const (
	PathMusicu = "/cgi-bin/musicu.fcg"
	PathMusics = "/cgi-bin/musics.fcg"
	PathQIMEI  = "/tme/trpc/proxy"
)

// Codes the double answers with. The first group is documented protocol;
// the second are the double's own choices for refusals the protocol does
// not document (code under test should treat them as any other API error).
const (
	CodeOK                = 0
	CodeExpired           = 1000   // credential expired or invalid (also 104400, 104401)
	CodeSignatureRequired = 2000   // musics.fcg sign missing or wrong
	CodeRateLimited       = 2001   // risk control; data.feedbackURL is set
	CodeLoginBadParams    = 20261  // Login: bad parameters
	CodeBadRequest        = 500001 // the double's choice: body or item not understood, unknown method
	CodeNotFound          = 404    // the double's choice: no such session, message or user
)

// AndroidUserAgent is the User-Agent every musicu request must carry.
const AndroidUserAgent = "QQMusic 14090008(android 10)"

const (
	maxBodyBytes   = 1 << 20
	maxRequestLog  = 10000
	maxDeviations  = 1000
	defaultSeed    = 1
	defaultKeyLife = 259200 // keyExpiresIn issued by a refresh, in seconds
)

// Server is the test double. Create it with New (or NewTLS) and Close it
// when done. All methods are safe for concurrent use.
type Server struct {
	// URL is the base URL of the server, e.g. http://127.0.0.1:41234.
	URL string

	ts        *httptest.Server
	closing   chan struct{}
	closeOnce sync.Once
	extra     *http.ServeMux

	mu    sync.Mutex
	clock func() time.Time
	rng   *rand.Rand

	methods map[string]*Method // "module/method"

	account     Account
	haveAccount bool
	expired     bool
	expiredCode int
	keyLife     int64

	users       map[int64]*User
	usersByEnc  map[string]int64
	sessions    map[string]*session
	sessionOf   map[int64]string // peer uin -> live session id
	nextUIN     int64
	nextMsgID   int64
	nextSession int64
	lastSort    int64
	nthMsg      int64
	quirks      Quirks

	newestFirst    bool
	bareOwner      bool
	maxSessionPage int
	maxMessagePage int
	signRequired   map[string]bool
	configs        map[int64]string
	sent           []Sent
	asyncSend      bool       // see SetAsyncSend
	held           []heldSend // sends accepted, not applied yet
	requests       []Request
	counts         map[string]int
	faults         map[string][]*Fault
	random         *randomFaults
	applied        map[string]*randomFaults // see SetApplyThenFail
	appliedLost    map[string]int           // see AppliedThenFailed
	limiter        *bucket
	deviations     []string
	deviationSeen  map[string]bool
	qimei16        string
	qimei36        string
	issuedSessions map[string]string // GetSession uid -> sid
	feedbackURL    string
	qimeiIssued    bool
	changed        chan struct{} // closed and replaced on every change
	logger         *slog.Logger  // nil: silent
}

// Option configures a Server at creation.
type Option func(*Server)

// WithClock makes the server read the time from now instead of time.Now:
// message times, sort times, key creation times, the rate limit and the
// QIMEI timestamp check all follow it.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.clock = now } }

// WithSeed seeds the generator of session ids, keys and random faults
// (the default seed is fixed, so a server is deterministic unless told
// otherwise).
func WithSeed(seed int64) Option {
	return func(s *Server) { s.rng = rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15)) }
}

// WithPageOrder sets the order of GetMessage pages (see SetPageOrder).
func WithPageOrder(newestFirst bool) Option { return func(s *Server) { s.newestFirst = newestFirst } }

// WithBareOwnerMessages makes the messages the account itself sent carry a
// from_user with its uin and encrypt_uin only, no nick or avatar: the
// protocol promises no field of a message.
func WithBareOwnerMessages() Option { return func(s *Server) { s.bareOwner = true } }

// WithMaxPageSizes caps the page sizes (see SetMaxPageSizes).
func WithMaxPageSizes(sessions, messages int) Option {
	return func(s *Server) { s.maxSessionPage, s.maxMessagePage = sessions, messages }
}

// WithQIMEI sets the QIMEI pair the proxy issues (defaults are fixed
// plausible values).
func WithQIMEI(q16, q36 string) Option { return func(s *Server) { s.qimei16, s.qimei36 = q16, q36 } }

// WithExpiredCode sets the code an expired or wrong credential is answered
// with: 1000 (the default), 104400 or 104401.
func WithExpiredCode(code int) Option { return func(s *Server) { s.expiredCode = code } }

// WithKeyLifetime sets keyExpiresIn of the musickeys a refresh issues
// (default 259200 s); the server enforces it against its clock.
func WithKeyLifetime(d time.Duration) Option {
	return func(s *Server) { s.keyLife = int64(d / time.Second) }
}

// WithLogger makes the server log every gateway item's method and code,
// and every whole-request fault, at debug level (never a param, comm or
// cookie: they hold the musickey).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.logger = l } }

// WithAccount sets the logged-in account at creation (see SetAccount).
func WithAccount(a Account) Option { return func(s *Server) { s.setAccountLocked(a) } }

// WithSignRequired makes the named methods answer 2000 on the unsigned
// musicu.fcg, as the real server does for calls that need musics.fcg.
func WithSignRequired(methods ...string) Option {
	return func(s *Server) {
		for _, m := range methods {
			s.signRequired[m] = true
		}
	}
}

func newServer(opts []Option) *Server {
	s := &Server{
		closing:        make(chan struct{}),
		changed:        make(chan struct{}),
		extra:          http.NewServeMux(),
		clock:          time.Now,
		rng:            rand.New(rand.NewPCG(defaultSeed, defaultSeed^0x9e3779b97f4a7c15)),
		methods:        map[string]*Method{},
		expiredCode:    CodeExpired,
		keyLife:        defaultKeyLife,
		users:          map[int64]*User{},
		usersByEnc:     map[string]int64{},
		sessions:       map[string]*session{},
		sessionOf:      map[int64]string{},
		nextUIN:        2000000000,
		nextMsgID:      7000000000,
		newestFirst:    true,
		signRequired:   map[string]bool{},
		configs:        map[int64]string{},
		counts:         map[string]int{},
		faults:         map[string][]*Fault{},
		deviationSeen:  map[string]bool{},
		qimei16:        "6c9d3cd1100a0b6f",
		qimei36:        "6c9d3cd1100a0b6f1f3b5f7e100017e1740e",
		issuedSessions: map[string]string{},
		feedbackURL:    "https://y.qq.com/m/client/safety/feedback.html?code=2001",
	}
	s.registerBuiltins()
	for _, o := range opts {
		o(s)
	}
	return s
}

// New starts a plain-HTTP server on a loopback port. Its URL is s.URL.
func New(opts ...Option) *Server {
	s := newServer(opts)
	s.ts = httptest.NewServer(s)
	s.URL = s.ts.URL
	return s
}

// NewTLS starts an HTTPS server on a loopback port; Client returns an
// *http.Client that trusts its certificate.
func NewTLS(opts ...Option) *Server {
	s := newServer(opts)
	s.ts = httptest.NewTLSServer(s)
	s.URL = s.ts.URL
	return s
}

// Client returns an HTTP client for the server (one that trusts its
// certificate, for NewTLS).
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Close releases every request the server holds (time-out faults), closes
// the client connections and shuts the server down.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.ts.CloseClientConnections()
		s.ts.Close()
	})
}

// Endpoints maps every host the QQ client talks to onto the server's URL,
// in the shape of the bridge's qq.endpoints configuration (host -> base URL).
func (s *Server) Endpoints() map[string]string {
	hosts := []string{
		"u.y.qq.com", "u6.y.qq.com", "c.y.qq.com", "c6.y.qq.com", "y.qq.com", "mu.y.qq.com",
		"api.tencentmusic.com",
		"ssl.ptlogin2.qq.com", "xui.ptlogin2.qq.com", "ssl.ptlogin2.graph.qq.com", "graph.qq.com",
		"open.weixin.qq.com", "lp.open.weixin.qq.com",
	}
	m := make(map[string]string, len(hosts))
	for _, h := range hosts {
		m[h] = s.URL
	}
	return m
}

// HandleHTTP mounts h on pattern (http.ServeMux syntax) for every path the
// double does not serve itself; this is where login endpoints such as
// /ptqrshow or /connect/qrconnect go.
func (s *Server) HandleHTTP(pattern string, h http.Handler) { s.extra.Handle(pattern, h) }

// Now returns the server's current time (its clock).
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock()
}

// ServeHTTP routes by path: musicu.fcg, musics.fcg and the QIMEI proxy are
// served by the double, everything else by handlers mounted with HandleHTTP.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer s.notify()
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.deviate("qqtest internal error serving %s: %v", r.URL.Path, v)
			http.Error(w, "qqtest internal error", http.StatusInternalServerError)
		}
	}()
	switch r.URL.Path {
	case PathMusicu:
		s.serveGateway(w, r, false)
	case PathMusics:
		s.serveGateway(w, r, true)
	case PathQIMEI:
		s.serveQIMEI(w, r)
	default:
		s.extra.ServeHTTP(w, r)
	}
}

// notify wakes Await.
func (s *Server) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notifyLocked()
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Await blocks until cond reports true or ctx ends. cond runs without the
// server's lock (it may call the Server's methods) at once and again after
// every request the server finished and every Deliver.
func (s *Server) Await(ctx context.Context, cond func(*Server) bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond(s) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("qqtest: the awaited condition did not come true: %w", ctx.Err())
		}
	}
}

// AwaitSent waits until at least n sends were accepted and returns them all.
func (s *Server) AwaitSent(ctx context.Context, n int) ([]Sent, error) {
	var sent []Sent
	err := s.Await(ctx, func(s *Server) bool { sent = s.Sent(); return len(sent) >= n })
	if err != nil {
		return sent, fmt.Errorf("qqtest: %d of %d sends arrived: %w", len(sent), n, err)
	}
	return sent, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, "qqtest: encoding the reply: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(bytes.TrimRight(buf.Bytes(), "\n"))
}

// randHex returns n random lowercase hex digits; the caller holds s.mu.
func (s *Server) randHexLocked(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[s.rng.IntN(16)]
	}
	return string(b)
}
