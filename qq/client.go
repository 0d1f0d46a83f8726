package qq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
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

// Request is one musicu call.
type Request struct {
	Module, Method string
	// Param is the call's parameters: an Object (sent in its order, as
	// the reference sends them; every call of this package uses one) or a
	// map[string]any (keys sent sorted). Booleans anywhere inside are sent
	// as 0/1. Nil sends {}.
	Param any
	// Comm adds keys to (or overrides keys of) the Android comm for this
	// call: a key the comm has keeps its place, a new one is appended in
	// order; a nil value removes the key. In a batch every request's Comm
	// is merged into the one shared comm, and conflicting values are an
	// error.
	Comm Object
	// Signed sends the call through the signed musics.fcg gateway (zzc
	// sign). A batch is signed when any of its requests is.
	Signed bool
	// Credential replaces the client's credential for this call (a batch
	// uses its first request's); &Credential{} sends none.
	Credential *Credential
}

// Result is the outcome of one call of a batch.
type Result struct {
	Module, Method string
	// Code is the item's code (0 on success).
	Code int
	// Data is the item's data ({} when the reply had none).
	Data json.RawMessage
	// Err is nil on success; otherwise an *APIError, *RateLimitError or
	// *MalformedResponseError.
	Err error
}

// Call sends one musicu call and returns its item's data. Errors are
// typed: see ErrCredentialExpired, ErrRateLimited, ErrSignatureRequired,
// *APIError, *RateLimitError, *GatewayError, *HTTPStatusError,
// *NetworkError and *MalformedResponseError.
func (c *Client) Call(ctx context.Context, req Request) (json.RawMessage, error) {
	res, err := c.CallBatch(ctx, []Request{req})
	if err != nil {
		return nil, err
	}
	return res[0].Data, res[0].Err
}

// CallBatch sends the calls batched as req_0..req_N (at most 20 per HTTP
// request; more are split into several). The returned error is for the
// whole batch (gateway, HTTP, network, malformed reply); each Result
// carries its own item error.
func (c *Client) CallBatch(ctx context.Context, reqs []Request) ([]Result, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	for _, r := range reqs {
		if r.Module == "" || r.Method == "" {
			return nil, errors.New("qq: a request needs a module and a method")
		}
		switch r.Param.(type) {
		case nil, Object, map[string]any:
		default:
			return nil, fmt.Errorf("qq: %s.%s: Param is a %T; use a qq.Object or a map[string]any", r.Module, r.Method, r.Param)
		}
	}
	if err := c.bootstrap(ctx); err != nil {
		return nil, err
	}
	out := make([]Result, 0, len(reqs))
	for start := 0; start < len(reqs); start += maxBatch {
		end := min(start+maxBatch, len(reqs))
		res, err := c.send(ctx, reqs[start:end])
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
	}
	return out, nil
}

// send posts one batch without bootstrapping. Items answered 2000
// (signature required) are sent once more through the signed gateway, and
// their methods are signed from then on (see resendSigned).
func (c *Client) send(ctx context.Context, reqs []Request) ([]Result, error) {
	res, signed, err := c.sendOnce(ctx, reqs)
	if err == nil && !signed {
		res, err = c.resendSigned(ctx, reqs, res)
	}
	if c.onResult != nil {
		for i, r := range reqs {
			rerr := err
			if err == nil && i < len(res) {
				rerr = res[i].Err
			}
			c.onResult(r.Module, r.Method, rerr)
		}
	}
	return res, err
}

// sendOnce posts one batch and reports whether it went signed.
func (c *Client) sendOnce(ctx context.Context, reqs []Request) ([]Result, bool, error) {
	c.mu.Lock()
	dev := c.dev.clone()
	cred := c.cred.clone()
	c.mu.Unlock()
	if reqs[0].Credential != nil {
		cred = reqs[0].Credential.clone()
	}

	comm := androidComm(dev, cred)
	set := map[string]any{}
	signed := false
	for _, r := range reqs {
		signed = signed || r.Signed || c.needsSigning(r.Module, r.Method)
		for _, f := range r.Comm {
			if prev, ok := set[f.Key]; ok && fmt.Sprint(prev) != fmt.Sprint(f.Value) {
				return nil, false, fmt.Errorf("qq: batched requests set comm %q to different values; send them separately", f.Key)
			}
			set[f.Key] = f.Value
			if f.Value == nil {
				comm.Delete(f.Key)
			} else {
				comm.Set(f.Key, f.Value)
			}
		}
	}
	body := make(Object, 0, len(reqs)+1)
	body = append(body, Field{"comm", comm})
	for i, r := range reqs {
		param := any(Object{})
		if r.Param != nil {
			param = boolsToInts(r.Param)
		}
		body = append(body, Field{"req_" + strconv.Itoa(i), Object{{"module", r.Module}, {"method", r.Method}, {"param", param}}})
	}
	payload, err := encodeCompact(body)
	if err != nil {
		return nil, false, fmt.Errorf("qq: encoding %s.%s: %w", reqs[0].Module, reqs[0].Method, err)
	}

	target := musicuURL
	if signed {
		target = musicsURL + "?_=" + strconv.FormatInt(c.now().UnixMilli(), 10) + "&sign=" + Sign(payload)
	}
	raw, err := c.post(ctx, target, payload, dev, cred)
	if err != nil {
		return nil, signed, err
	}
	res, err := c.decodeBatch(raw, reqs, cred)
	return res, signed, err
}

// post sends payload and returns the reply body of a 200 answer.
func (c *Client) post(ctx context.Context, target string, payload []byte, dev *Device, cred *Credential) ([]byte, error) {
	target = c.URL(target)
	shown := stripQuery(target)
	if err := c.Wait(ctx); err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("qq: building request to %s: %w", shown, err)
	}
	hreq.Header.Set("Content-Type", "application/json;charset=utf-8")
	hreq.Header.Set("User-Agent", androidUserAgent(dev))
	// No cookies: the reference carries the credential in comm.qq and
	// comm.authst only; cookies on the gateway would set us apart.
	start := c.now()
	resp, err := c.hc.Do(hreq)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &NetworkError{URL: shown, Err: ctx.Err()}
		}
		return nil, &NetworkError{URL: shown, Err: scrubURLError(err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyLen+1))
	if err != nil {
		return nil, &NetworkError{URL: shown, Err: err}
	}
	c.log.Debug("qq: musicu reply", "url", shown, "status", resp.StatusCode, "bytes", len(raw), "elapsed", c.now().Sub(start))
	if resp.StatusCode != http.StatusOK {
		return nil, &HTTPStatusError{Status: resp.StatusCode, URL: shown}
	}
	if len(raw) > maxBodyLen {
		return nil, &MalformedResponseError{What: "reply larger than 8 MiB", Excerpt: excerpt(raw, cred.secrets()...)}
	}
	return raw, nil
}

// scrubURLError drops the URL (which may hold a sign) from a *url.Error.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

func stripQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.RawQuery = ""
	u.Fragment = ""
	u.User = nil
	return u.String()
}

type wireItem struct {
	Code *FlexInt        `json:"code"`
	Data json.RawMessage `json:"data"`
}

func (c *Client) decodeBatch(raw []byte, reqs []Request, cred *Credential) ([]Result, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		if err == nil {
			err = errors.New("reply is null")
		}
		return nil, &MalformedResponseError{What: "musicu reply is not a JSON object", Excerpt: excerpt(raw, cred.secrets()...), Err: err}
	}
	if rc, ok := top["code"]; ok {
		var code FlexInt
		if err := json.Unmarshal(rc, &code); err != nil {
			return nil, &MalformedResponseError{What: "top-level code", Excerpt: excerpt(raw, cred.secrets()...), Err: err}
		}
		if code != 0 {
			return nil, &GatewayError{Code: int(code)}
		}
	}
	out := make([]Result, len(reqs))
	for i, r := range reqs {
		res := Result{Module: r.Module, Method: r.Method}
		key := "req_" + strconv.Itoa(i)
		rawItem, ok := top[key]
		var item wireItem
		switch {
		case !ok:
			res.Err = &MalformedResponseError{What: "reply has no " + key + " for " + r.Module + "." + r.Method, Excerpt: excerpt(raw, cred.secrets()...)}
		default:
			if err := json.Unmarshal(rawItem, &item); err != nil {
				res.Err = &MalformedResponseError{What: key + " of " + r.Module + "." + r.Method, Excerpt: excerpt(rawItem, cred.secrets()...), Err: err}
			}
		}
		if res.Err == nil {
			if item.Code != nil {
				res.Code = int(*item.Code)
			}
			res.Data = item.Data
			if len(bytes.TrimSpace(res.Data)) == 0 {
				res.Data = json.RawMessage("{}")
			}
			res.Err = itemError(r.Module, r.Method, res.Code, res.Data)
		}
		out[i] = res
	}
	return out, nil
}

// itemError turns a non-zero item code into its typed error.
func itemError(module, method string, code int, data json.RawMessage) error {
	if code == 0 {
		return nil
	}
	ae := &APIError{Module: module, Method: method, Code: code, Data: data}
	if code == CodeRateLimited {
		var d struct {
			FeedbackURL FlexString `json:"feedbackURL"`
		}
		_ = json.Unmarshal(data, &d) // best effort: the URL is optional
		return &RateLimitError{APIError: ae, FeedbackURL: string(d.FeedbackURL)}
	}
	return ae
}
