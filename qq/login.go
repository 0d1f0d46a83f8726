package qq

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// LoginMethod names a QR-code login.
type LoginMethod string

// The QR-code logins.
const (
	// LoginMobile shows a QR code to scan with the QQ Music app.
	LoginMobile LoginMethod = "mobile"
	// LoginQQ shows a QR code to scan with the QQ app.
	LoginQQ LoginMethod = "qq"
	// LoginWeChat shows a QR code to scan with WeChat.
	LoginWeChat LoginMethod = "wx"
)

// ParseLoginMethod accepts "mobile", "qq" and "wx" (also "wechat").
func ParseLoginMethod(s string) (LoginMethod, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "mobile", "app":
		return LoginMobile, nil
	case "qq":
		return LoginQQ, nil
	case "wx", "wechat", "weixin":
		return LoginWeChat, nil
	}
	return "", fmt.Errorf("qq: unknown login method %q: use mobile, qq or wx", s)
}

// LoginState is where a QR login stands.
type LoginState int

// The states of a QR login, in the order they normally come.
const (
	// LoginWaiting: the QR code is shown and nobody has scanned it yet. The
	// first event has this state and carries the image.
	LoginWaiting LoginState = iota + 1
	// LoginScanned: the code was scanned; the user has to confirm on the phone.
	LoginScanned
	// LoginConfirmed: the user confirmed; the credential is being fetched.
	LoginConfirmed
	// LoginRefused: the user refused on the phone. Terminal.
	LoginRefused
	// LoginExpired: the QR code expired (or the login's deadline passed)
	// before it was confirmed. Terminal.
	LoginExpired
	// LoginDone: logged in; the event carries the credential. Terminal.
	LoginDone
	// LoginFailed: the login broke; the event carries the error. Terminal.
	LoginFailed
)

func (s LoginState) String() string {
	switch s {
	case LoginWaiting:
		return "waiting"
	case LoginScanned:
		return "scanned"
	case LoginConfirmed:
		return "confirmed"
	case LoginRefused:
		return "refused"
	case LoginExpired:
		return "expired"
	case LoginDone:
		return "done"
	case LoginFailed:
		return "failed"
	}
	return fmt.Sprintf("LoginState(%d)", int(s))
}

// Terminal reports whether no event follows s.
func (s LoginState) Terminal() bool {
	return s == LoginRefused || s == LoginExpired || s == LoginDone || s == LoginFailed
}

// LoginEvent is one step of a QR login.
type LoginEvent struct {
	State LoginState
	// Image and MIME are set on the first event only: the QR code to show
	// (PNG for QQ and the app, JPEG for WeChat).
	Image []byte
	MIME  string
	// Credential is set when State is LoginDone. Pass it to AdoptCredential
	// (or SetCredential) to use it.
	Credential *Credential
	// Err is set when State is LoginFailed.
	Err error
}

// QROption tunes StartQRLogin.
type QROption func(*qrConfig)

type qrConfig struct {
	timeout       time.Duration
	pollInterval  time.Duration
	longPoll      time.Duration
	keepAlive     uint16
	maxRedirects  int
	packetTimeout time.Duration
	requestTime   time.Duration
	// mqttReconnects is how many times the mobile login reconnects after
	// its push connection drops.
	mqttReconnects int
}

func defaultQRConfig() qrConfig {
	return qrConfig{
		timeout:       5 * time.Minute,
		pollInterval:  2 * time.Second,
		longPoll:      35 * time.Second,
		keepAlive:     45,
		maxRedirects:  3,
		packetTimeout: 15 * time.Second,
		requestTime:   20 * time.Second,

		mqttReconnects: 2,
	}
}

// WithQRTimeout bounds the whole login (default 5 minutes); when it passes
// the login ends with LoginExpired. The context's own deadline also applies.
func WithQRTimeout(d time.Duration) QROption {
	return func(c *qrConfig) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithPollInterval sets the wait between two status polls of a QQ login
// (default 2 s).
func WithPollInterval(d time.Duration) QROption {
	return func(c *qrConfig) {
		if d > 0 {
			c.pollInterval = d
		}
	}
}

// WithLongPoll sets how long one WeChat status long poll may wait for an
// answer before it counts as "still waiting" (default 35 s, as the service
// holds requests).
func WithLongPoll(d time.Duration) QROption {
	return func(c *qrConfig) {
		if d > 0 {
			c.longPoll = d
		}
	}
}

// WithRequestTimeout bounds each ordinary HTTP request of a login (default
// 20 s).
func WithRequestTimeout(d time.Duration) QROption {
	return func(c *qrConfig) {
		if d > 0 {
			c.requestTime = d
		}
	}
}

// WithMQTTPacketTimeout bounds the wait for each MQTT answer of the mobile
// login (CONNACK, SUBACK; default 15 s).
func WithMQTTPacketTimeout(d time.Duration) QROption {
	return func(c *qrConfig) {
		if d > 0 {
			c.packetTimeout = d
		}
	}
}

// WithMQTTReconnects sets how many times the mobile login reconnects when
// its push connection drops before a verdict (default 2; 0 fails at once).
func WithMQTTReconnects(n int) QROption {
	return func(c *qrConfig) {
		if n >= 0 {
			c.mqttReconnects = n
		}
	}
}

// StartQRLogin starts a QR-code login and returns its events: first
// LoginWaiting with the QR image, then each change of state, ending with
// LoginDone (with the credential), LoginRefused, LoginExpired or
// LoginFailed, after which the channel is closed. Cancelling ctx stops the
// login and closes the channel without a further event.
//
// The error is for a login that could not start at all (no QR code could
// be fetched); it is then typed like the events' errors.
//
// The client's credential is not changed: call AdoptCredential with the
// LoginDone event's credential.
func (c *Client) StartQRLogin(ctx context.Context, m LoginMethod, opts ...QROption) (<-chan LoginEvent, error) {
	cfg := defaultQRConfig()
	for _, o := range opts {
		o(&cfg)
	}
	var run func(context.Context, qrConfig) (*qrFlow, error)
	switch m {
	case LoginQQ:
		run = c.startQQLogin
	case LoginWeChat:
		run = c.startWeChatLogin
	case LoginMobile:
		run = c.startMobileLogin
	default:
		return nil, fmt.Errorf("qq: unknown login method %q: use mobile, qq or wx", m)
	}
	lctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	flow, err := run(lctx, cfg)
	if err != nil {
		// Look at the login's deadline before cancel, which would make
		// every failure look like a time-out.
		timedOut := ctx.Err() == nil && lctx.Err() != nil
		cancel()
		if timedOut {
			return nil, fmt.Errorf("qq: %s login: fetching the QR code took longer than the login time-out: %w", m, err)
		}
		return nil, err
	}
	ch := make(chan LoginEvent)
	go func() {
		defer close(ch)
		defer cancel()
		e := &emitter{ctx: ctx, lctx: lctx, ch: ch}
		if !e.send(LoginEvent{State: LoginWaiting, Image: flow.image, MIME: flow.mime}) {
			flow.close()
			return
		}
		flow.wait(e)
		flow.close()
		if !e.last.Terminal() && ctx.Err() == nil {
			// The flow ended without a verdict: the login's own deadline.
			e.send(LoginEvent{State: LoginExpired})
		}
	}()
	return ch, nil
}

// qrFlow is a started QR login: its image, then a wait that reports
// states until a terminal one (or the context ends).
type qrFlow struct {
	image []byte
	mime  string
	wait  func(e *emitter)
	close func()
}

// emitter sends events, dropping repeats of the same state, and stops when
// the caller's context ends.
type emitter struct {
	ctx  context.Context // the caller's
	lctx context.Context // the login's (with its deadline)
	ch   chan<- LoginEvent
	last LoginState
}

func (e *emitter) send(ev LoginEvent) bool {
	if ev.State == e.last && ev.Image == nil {
		return true
	}
	if e.ctx.Err() != nil {
		return false
	}
	select {
	case e.ch <- ev:
		e.last = ev.State
		return true
	case <-e.ctx.Done():
		return false
	}
}

func (e *emitter) state(s LoginState) bool { return e.send(LoginEvent{State: s}) }

func (e *emitter) fail(err error) {
	if e.ctx.Err() != nil {
		return // the caller gave up; no one is listening
	}
	if e.lctx.Err() != nil && e.ctx.Err() == nil {
		// The login's deadline, not a failure.
		e.send(LoginEvent{State: LoginExpired})
		return
	}
	e.send(LoginEvent{State: LoginFailed, Err: err})
}

func (e *emitter) done(cred *Credential) {
	e.send(LoginEvent{State: LoginDone, Credential: cred})
}

// AdoptCredential makes cred the client's credential and, when the client
// has a credential file, writes it there (atomically, mode 0600).
func (c *Client) AdoptCredential(cred *Credential) error {
	if !cred.HasLogin() {
		return errors.New("qq: the credential has no musicid or musickey; log in again")
	}
	c.SetCredential(cred)
	if c.credFile == "" {
		return nil
	}
	if err := SaveCredential(c.credFile, cred); err != nil {
		return fmt.Errorf("qq: saving the new credential: %w", err)
	}
	return nil
}

// Login errors. Use errors.Is on any error of the login functions and
// events; errors.As to *LoginError gives the step and the server's code.
var (
	// ErrLoginAuthExpired: the login parameters are invalid or expired
	// (codes 1000, 104400, 104401). Start the login again.
	ErrLoginAuthExpired = errors.New("qq: login parameters invalid or expired; start the login again")
	// ErrLoginBadParams: the server refused the parameters (20261).
	ErrLoginBadParams = errors.New("qq: the server refused the login parameters")
	// ErrLoginWrongCode: wrong verification code (20271).
	ErrLoginWrongCode = errors.New("qq: wrong verification code; check it and try again")
	// ErrLoginAccountBinding: the account's binding is broken or missing
	// (20272, 20274); fix it in the QQ Music app.
	ErrLoginAccountBinding = errors.New("qq: account binding problem; check the account in the QQ Music app")
	// ErrLoginRestricted: the account is restricted (20277, 20278).
	ErrLoginRestricted = errors.New("qq: the account is restricted")
	// ErrLoginBanned: the account is banned (20450).
	ErrLoginBanned = errors.New("qq: the account is banned")
	// ErrLoginDeviceLimit: too many devices are logged in (20279); log one
	// out in the QQ Music app.
	ErrLoginDeviceLimit = errors.New("qq: too many devices logged in; log one out in the QQ Music app")
	// ErrLoginTooFrequent: too many attempts (104604 for logins, 100001 for
	// verification codes); wait before trying again.
	ErrLoginTooFrequent = errors.New("qq: too many login attempts; wait a while before trying again")
	// ErrLoginRejected: any other refusal of a login step, including the
	// app's "loginFailed" event.
	ErrLoginRejected = errors.New("qq: the login was rejected")
	// ErrLoginProtocol: a login service answered something this library
	// does not understand (a changed page, a missing cookie).
	ErrLoginProtocol = errors.New("qq: unexpected answer from a login service")
)
