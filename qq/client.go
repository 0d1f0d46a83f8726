package qq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Android client version the library presents (comm ct/cv/v, User-Agent).
const (
	AndroidCT      = 11
	AndroidCV      = 14090008
	AndroidChannel = "10003505"
)

const (
	musicuURL  = "https://u.y.qq.com/cgi-bin/musicu.fcg"
	musicsURL  = "https://u.y.qq.com/cgi-bin/musics.fcg"
	maxBatch   = 20
	maxBodyLen = 8 << 20
)

// Reference defaults of the client-side throttle.
const (
	DefaultRateLimit rate.Limit = 10
	DefaultBurst                = 50
)

// Options configure a Client. The zero value works: a default HTTP client,
// no overrides, an in-memory device and no credential.
type Options struct {
	// HTTPClient sends every request; nil means a client with a 30 s timeout.
	HTTPClient *http.Client
	// Endpoints overrides QQ hosts (see Endpoints).
	Endpoints Endpoints
	// DeviceFile keeps the virtual device (and the cached QIMEI and
	// session). When it does not exist a device is generated and written
	// there; an unreadable or corrupt file is an error. Empty means a new
	// in-memory device on every start, which the server sees as a new phone.
	DeviceFile string
	// Device, when not nil, is used instead of DeviceFile's content (it is
	// still written to DeviceFile when set).
	Device *Device
	// CredentialFile is loaded by New when it exists and written by
	// SaveCredential and RefreshCredential.
	CredentialFile string
	// Credential, when not nil, is the initial credential (instead of the
	// one in CredentialFile).
	Credential *Credential
	// RateLimit and Burst configure the token bucket every HTTP request
	// waits on; zero means the reference's 10 requests/s and burst 50.
	// Use rate.Inf to disable the throttle.
	RateLimit rate.Limit
	Burst     int
	// Logger receives diagnostics; nil discards them. Secrets are never
	// logged.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the source of randomness for the device and QIMEI keys; nil
	// means crypto/rand.
	Rand io.Reader

	// QIMEIAttempts is how many times one QIMEI acquisition is tried
	// (default 3), QIMEIBackoff the wait before the second attempt, doubled
	// after each (default 1 s). After a failed acquisition the client goes
	// on without (or with the stale) QIMEI and tries again no sooner than
	// RetryAfter (default 1 min, doubled per failure up to 1 h).
	QIMEIAttempts int
	QIMEIBackoff  time.Duration
	// RetryAfter is the wait after a failed QIMEI acquisition or session
	// bootstrap before the next try.
	RetryAfter time.Duration

	// OnResult, when set, is called once per musicu call with its module,
	// method and outcome (nil, or the item's or the whole batch's error),
	// for metrics. It must be quick and safe for concurrent use.
	OnResult func(module, method string, err error)
}

// Client talks to QQ Music as the Android app. It is safe for concurrent
// use.
type Client struct {
	hc        *http.Client
	endpoints Endpoints
	limiter   *rate.Limiter
	log       *slog.Logger
	now       func() time.Time
	onResult  func(module, method string, err error)
	rand      io.Reader

	deviceFile, credFile string

	qimeiAttempts int
	qimeiBackoff  time.Duration
	retryAfter    time.Duration

	mu         sync.Mutex // guards cred, dev and refreshGen
	cred       *Credential
	dev        *Device
	refreshGen int // counts successful refreshes

	refreshMu sync.Mutex // serialises RefreshCredential

	bootMu         sync.Mutex // serialises the Android bootstrap and guards what follows
	qimeiNextTry   time.Time
	qimeiFailures  int
	sessionNextTry time.Time

	signMu   sync.Mutex      // guards mustSign
	mustSign map[string]bool // "module/method" answered 2000 unsigned
}

// New builds a client, loading or generating the device and loading the
// credential file when there is one.
func New(opts Options) (*Client, error) {
	if err := opts.Endpoints.Validate(); err != nil {
		return nil, err
	}
	c := &Client{
		hc:            opts.HTTPClient,
		endpoints:     Endpoints{},
		log:           opts.Logger,
		onResult:      opts.OnResult,
		now:           opts.Now,
		rand:          opts.Rand,
		deviceFile:    opts.DeviceFile,
		credFile:      opts.CredentialFile,
		qimeiAttempts: opts.QIMEIAttempts,
		qimeiBackoff:  opts.QIMEIBackoff,
		retryAfter:    opts.RetryAfter,
	}
	for h, b := range opts.Endpoints {
		c.endpoints[h] = b
	}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: 30 * time.Second}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.qimeiAttempts <= 0 {
		c.qimeiAttempts = 3
	}
	if c.qimeiBackoff <= 0 {
		c.qimeiBackoff = time.Second
	}
	if c.retryAfter <= 0 {
		c.retryAfter = time.Minute
	}
	lim, burst := opts.RateLimit, opts.Burst
	if lim == 0 {
		lim = DefaultRateLimit
	}
	if burst <= 0 {
		burst = DefaultBurst
	}
	c.limiter = rate.NewLimiter(lim, burst)

	switch {
	case opts.Device != nil:
		if err := opts.Device.Validate(); err != nil {
			return nil, err
		}
		c.dev = opts.Device.clone()
		if c.deviceFile != "" {
			if err := SaveDevice(c.deviceFile, c.dev); err != nil {
				return nil, err
			}
		}
	case c.deviceFile != "":
		d, err := LoadDevice(c.deviceFile)
		if errors.Is(err, fs.ErrNotExist) {
			if d, err = NewDevice(c.rand); err != nil {
				return nil, err
			}
			if err := SaveDevice(c.deviceFile, d); err != nil {
				return nil, err
			}
			c.log.Info("qq: generated a new virtual device", "file", c.deviceFile)
		} else if err != nil {
			return nil, err
		}
		c.dev = d
	default:
		d, err := NewDevice(c.rand)
		if err != nil {
			return nil, err
		}
		c.dev = d
	}

	switch {
	case opts.Credential != nil:
		c.cred = opts.Credential.clone()
	case c.credFile != "":
		cred, err := LoadCredential(c.credFile)
		if errors.Is(err, fs.ErrNotExist) {
			cred = &Credential{}
		} else if err != nil {
			return nil, err
		}
		c.cred = cred
	default:
		c.cred = &Credential{}
	}
	return c, nil
}

// HTTPClient returns the HTTP client every request goes through.
func (c *Client) HTTPClient() *http.Client { return c.hc }

// URL applies the Endpoints overrides to rawURL (see Endpoints.Rewrite).
func (c *Client) URL(rawURL string) string { return c.endpoints.Rewrite(rawURL) }

// Logger returns the client's logger.
func (c *Client) Logger() *slog.Logger { return c.log }

// Wait blocks until the throttle lets one more request through. Code that
// sends its own requests through HTTPClient (the login flows) calls it so
// they share the budget.
func (c *Client) Wait(ctx context.Context) error {
	if err := c.limiter.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("qq: throttle: %w", err)
	}
	return nil
}

// Credential returns a copy of the current credential (never nil).
func (c *Client) Credential() *Credential {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cred.clone()
}

// SetCredential replaces the credential in memory (a copy of cred is kept;
// nil clears it). Call SaveCredential to persist it.
func (c *Client) SetCredential(cred *Credential) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cred = cred.clone()
}

// SaveCredential writes the current credential to Options.CredentialFile.
func (c *Client) SaveCredential() error {
	if c.credFile == "" {
		return errors.New("qq: no credential file configured")
	}
	return SaveCredential(c.credFile, c.Credential())
}

// Device returns a copy of the virtual device.
func (c *Client) Device() *Device {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dev.clone()
}

// UserAgent is the Android User-Agent the client sends.
func (c *Client) UserAgent() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return androidUserAgent(c.dev)
}

func androidUserAgent(d *Device) string {
	return "QQMusic " + strconv.Itoa(AndroidCV) + "(android " + d.Version.Release + ")"
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
