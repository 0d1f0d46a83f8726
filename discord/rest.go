package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/discordgo"
	"golang.org/x/time/rate"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

var (
	// ErrTokenRejected means Discord refused the bot token (HTTP 401): the
	// token in the configuration is wrong or was reset.
	ErrTokenRejected = errors.New("discord: the bot token was rejected (401); check discord.token")
	// ErrRateLimited means Discord kept answering 429 (or asked to wait
	// longer than the adapter allows) and the call was given up.
	ErrRateLimited = errors.New("discord: rate limited")
	// ErrUnavailable means Discord kept failing with 5xx or network errors.
	ErrUnavailable = errors.New("discord: service unavailable")
	// ErrGuildFull means the guild holds Discord's maximum of 500 channels.
	ErrGuildFull = errors.New("discord: the guild has reached Discord's 500-channel limit; delete old session channels or switch to forum mode")
	// ErrWebhookLimit means a channel already holds 15 webhooks, none ours.
	ErrWebhookLimit = errors.New("discord: the channel already has 15 webhooks; delete one so the bridge can create its own")
	// ErrIntentsDisallowed means the gateway refused the intents (close
	// 4014): the Message Content intent is not enabled for the bot.
	ErrIntentsDisallowed = errors.New("discord: the gateway refused the bot's intents (4014); enable the Message Content intent for the bot in the Discord developer portal")
	// ErrNotStarted means the adapter was used before Start succeeded.
	ErrNotStarted = errors.New("discord: adapter not started")
)

// discordBase is where discordgo's endpoints point.
const discordBase = "https://discord.com/api/v9"

// transport sends discordgo's requests to the configured API base and
// watches 429 answers for Discord's global rate limit.
type transport struct {
	base *url.URL // nil: Discord itself
	next http.RoundTripper
	a    *Adapter
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.base != nil {
		u := req.URL.String()
		if rest, ok := strings.CutPrefix(u, discordBase); ok {
			nu, err := url.Parse(strings.TrimSuffix(t.base.String(), "/") + rest)
			if err != nil {
				return nil, fmt.Errorf("discord: rewrite %s to the configured api_url: %w", req.URL.Path, err)
			}
			req = req.Clone(req.Context())
			req.URL = nu
			req.Host = nu.Host
		}
	}
	if req.Context().Value(pacedKey{}) == nil {
		// A request discordgo makes by itself (the gateway URL on every
		// new session): it counts against the global limit too.
		if err := t.a.waitGlobal(req.Context()); err != nil {
			return nil, err
		}
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusTooManyRequests {
		t.clampReset(resp.Header)
		return resp, nil
	}
	// Read the small 429 body to learn whether the limit is global, then
	// hand discordgo an identical body.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var rl struct {
		RetryAfter float64 `json:"retry_after"`
		Global     bool    `json:"global"`
	}
	_ = json.Unmarshal(body, &rl)
	global := rl.Global || resp.Header.Get("X-RateLimit-Global") != "" || resp.Header.Get("X-RateLimit-Scope") == "global"
	if global {
		wait := time.Duration(rl.RetryAfter * float64(time.Second))
		if wait <= 0 {
			if s, err := strconv.ParseFloat(resp.Header.Get("Retry-After"), 64); err == nil {
				wait = time.Duration(s * float64(time.Second))
			}
		}
		if wait <= 0 {
			wait = time.Second
		}
		t.a.pauseAll(wait + rateLimitMargin)
	}
	// The adapter waits out a 429 itself, mindful of contexts. Left to
	// discordgo, these headers would make it sleep before the next request
	// on the bucket (or, if global, on every bucket), deaf to any deadline.
	for k := range resp.Header {
		if strings.HasPrefix(http.CanonicalHeaderKey(k), "X-Ratelimit-") {
			resp.Header.Del(k)
		}
	}
	return resp, nil
}

// clampReset bounds the bucket reset discordgo will sleep for before its
// next request on a bucket (that sleep ignores contexts): never longer than
// MaxRetryAfter, plus rateLimitMargin. A longer limit then shows as a 429 the adapter refuses to
// wait for, instead of a call stuck for an hour.
func (t *transport) clampReset(h http.Header) {
	after := h.Get("X-RateLimit-Reset-After")
	if after == "" {
		return
	}
	h.Del("X-RateLimit-Reset") // discordgo prefers Reset-After; keep one source
	secs, err := strconv.ParseFloat(after, 64)
	if limit := t.a.opts.MaxRetryAfter.Seconds(); err != nil || secs > limit {
		secs = limit
	}
	// discordgo cuts the value to the millisecond and waits exactly that
	// long: keep a margin so that the next request lands in the new window.
	secs += rateLimitMargin.Seconds()
	h.Set("X-RateLimit-Reset-After", strconv.FormatFloat(secs, 'f', 3, 64))
}

// Once Discord's global limit (50 requests/s) has answered 429, the
// adapter paces every REST request at globalPace for paceFor: a sustained
// stream then stays under the limit instead of meeting it once a second.
// The margin of 4 requests a second absorbs requests that a stalled
// process sends closer together than they were paced. Bursts of a bridge
// that never reaches the limit are not paced.
const (
	globalPace rate.Limit = 46
	paceFor               = time.Minute
)

// pauseAll makes every REST call wait d before its next request (Discord's
// global rate limit), then pace itself for a while.
func (a *Adapter) pauseAll(d time.Duration) {
	a.globalMu.Lock()
	defer a.globalMu.Unlock()
	if until := time.Now().Add(d); until.After(a.globalUntil) {
		a.globalUntil = until
	}
	a.paceUntil = a.globalUntil.Add(paceFor)
}

func (a *Adapter) waitGlobal(ctx context.Context) error {
	a.globalMu.Lock()
	until, pace := a.globalUntil, a.paceUntil
	a.globalMu.Unlock()
	if d := time.Until(until); d > 0 {
		if d > a.opts.MaxRetryAfter {
			return fmt.Errorf("%w: global limit for %v", ErrRateLimited, d.Round(time.Millisecond))
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
	if time.Now().Before(pace) {
		return a.pacer.Wait(ctx)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// restCall is one REST request through discordgo, given the options that
// bound it.
type restCall func(opts ...discordgo.RequestOption) error

// do runs call with a per-attempt deadline, discordgo's own retries off,
// and bounded retries of its own, and classifies what became of it (see
// bridge.OutcomeOf):
//
//   - a 429 waits retry_after plus rateLimitMargin (at most MaxRetryAfter)
//     and is retried up to MaxRetries times: Discord applied nothing;
//   - a network error before the request was written (dial refused, DNS) is
//     retried with exponential back-off: nothing reached Discord;
//   - a 5xx, discordgo's "Exceeded Max retries HTTP 502", a time-out or a
//     dropped connection after the request was written is retried only when
//     idempotent; otherwise it is returned at once as bridge.ErrAmbiguous
//     (and ErrUnavailable): Discord may have applied it, and the caller
//     reconciles before any second attempt;
//   - 401 is ErrTokenRejected; other 4xx answers are bridge.ErrPermanent
//     with a reason a person can act on, except Discord's "unknown channel"
//     and "unknown webhook" (10003, 10015), which callers map to
//     bridge.ErrChannelNotFound or a new webhook.
//
// what names the call in errors.
func (a *Adapter) do(ctx context.Context, what string, idempotent bool, call restCall) error {
	var last error
	for attempt := 0; ; attempt++ {
		if err := a.waitGlobal(ctx); err != nil {
			return fmt.Errorf("discord: %s: %w", what, err)
		}
		var wrote atomic.Bool
		cctx, cancel := context.WithTimeout(context.WithValue(ctx, pacedKey{}, true), a.opts.CallTimeout)
		cctx = httptrace.WithClientTrace(cctx, &httptrace.ClientTrace{
			WroteRequest: func(info httptrace.WroteRequestInfo) { wrote.Store(info.Err == nil) },
		})
		a.metricsRequests.Add(1)
		err := call(discordgo.WithContext(cctx), discordgo.WithRetryOnRatelimit(false), discordgo.WithRestRetries(0))
		cancel()
		if err == nil {
			return nil
		}
		var wait time.Duration
		var rle *discordgo.RateLimitError
		var re *discordgo.RESTError
		switch {
		case errors.As(err, &rle):
			wait = rle.RetryAfter
			if wait <= 0 {
				wait = 100 * time.Millisecond
			}
			last = fmt.Errorf("%w (retry after %v)", ErrRateLimited, wait.Round(time.Millisecond))
			if wait > a.opts.MaxRetryAfter {
				return fmt.Errorf("discord: %s: %w; Discord asked to wait longer than the %v the bridge allows", what, last, a.opts.MaxRetryAfter)
			}
			wait += rateLimitMargin
			a.metricsRateLimited.Add(1)
		case errors.As(err, &re) && re.Response != nil && re.Response.StatusCode == http.StatusUnauthorized:
			return fmt.Errorf("discord: %s: %w", what, ErrTokenRejected)
		case errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 500:
			last = fmt.Errorf("%w: HTTP %d", ErrUnavailable, re.Response.StatusCode)
			if !idempotent {
				return mayHaveHappened(what, last)
			}
			wait = a.backoff(attempt)
		case errors.As(err, &re):
			return refused(what, err, re)
		case strings.HasPrefix(err.Error(), "Exceeded Max retries HTTP"):
			// discordgo's own answer to a 502 once its retries (none,
			// here) are used up: a plain error, not a RESTError.
			last = fmt.Errorf("%w: HTTP 502", ErrUnavailable)
			if !idempotent {
				return mayHaveHappened(what, last)
			}
			wait = a.backoff(attempt)
		case !wrote.Load() && ctx.Err() == nil && isTransient(err):
			// Nothing was written: Discord cannot have seen it.
			last = fmt.Errorf("%w: %v", ErrUnavailable, redact(err))
			wait = a.backoff(attempt)
		case !idempotent && wrote.Load():
			// Sent, then no answer: a time-out, a dropped connection or
			// our own context ending.
			if ctx.Err() != nil {
				return mayHaveHappened(what, fmt.Errorf("%w: %w", ctx.Err(), ErrUnavailable))
			}
			return mayHaveHappened(what, fmt.Errorf("%w: %v", ErrUnavailable, redact(err)))
		case ctx.Err() != nil:
			return fmt.Errorf("discord: %s: %w", what, ctx.Err())
		case idempotent && isTransient(err):
			last = fmt.Errorf("%w: %v", ErrUnavailable, redact(err))
			wait = a.backoff(attempt)
		default:
			return fmt.Errorf("discord: %s: %w", what, redact(err))
		}
		if attempt >= a.opts.MaxRetries {
			return fmt.Errorf("discord: %s: gave up after %d attempts: %w", what, attempt+1, last)
		}
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("discord: %s: %w", what, err)
		}
	}
}

// pacedKey marks the context of a request do has already paced (see
// waitGlobal), so that the transport does not pace it twice.
type pacedKey struct{}

// rateLimitMargin is added to every rate-limit wait Discord asks for
// (retry_after, X-RateLimit-Reset-After, a global limit): Discord's values
// are cut to the millisecond, so waiting exactly that long can send the
// next request just before the window ends, and meet another 429.
const rateLimitMargin = 50 * time.Millisecond

// mayHaveHappened reports a non-idempotent call that reached Discord but
// whose answer was lost or a 5xx: it may have been applied.
func mayHaveHappened(what string, err error) error {
	return bridge.Ambiguous(fmt.Errorf("discord: %s: the request was sent but its outcome is unknown (Discord may have applied it; the bridge checks before trying again): %w", what, err))
}

// refused classifies a 4xx answer other than 401 and 429. Unknown channel
// and unknown webhook stay unclassified: callers recreate those.
func refused(what string, err error, re *discordgo.RESTError) error {
	code := restCode(err)
	if code == 10003 || code == 10015 {
		return fmt.Errorf("discord: %s: %w", what, err)
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	var advice string
	switch {
	case code == 50013 || status == http.StatusForbidden:
		advice = "Discord forbade it (HTTP 403): give the bot's role the missing permission in this channel, then retry"
	case code == 10008:
		advice = "Discord no longer has that message (HTTP 404): it was deleted"
	case status == http.StatusNotFound:
		advice = "Discord does not know what it refers to (HTTP 404): it was deleted"
	case status == http.StatusRequestEntityTooLarge:
		advice = "Discord refused it as too large (HTTP 413): it cannot be sent as is"
	case status == http.StatusBadRequest:
		advice = "Discord refused its content (HTTP 400): it cannot be sent as is; skip it, or retry once the cause is fixed"
	default:
		advice = fmt.Sprintf("Discord refused it (HTTP %d)", status)
	}
	return bridge.Permanent(fmt.Errorf("discord: %s: %s: %w", what, advice, err))
}

func (a *Adapter) backoff(attempt int) time.Duration {
	d := a.opts.RetryBackoff << min(attempt, 10)
	if d > 30*time.Second {
		d = 30 * time.Second
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// secretPath matches the token part of webhook and interaction URLs.
var secretPath = regexp.MustCompile(`/(webhooks|interactions)/([0-9]+)/[^/?]+`)

// redact removes webhook and interaction tokens from the URL a network
// error quotes, so that they never reach logs.
func redact(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	return &url.Error{Op: ue.Op, URL: secretPath.ReplaceAllString(ue.URL, "/$1/$2/[token]"), Err: ue.Err}
}

// isTransient reports whether err looks like a network failure worth one
// more try.
func isTransient(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, context.DeadlineExceeded)
}

// restCode returns Discord's JSON error code of err (e.g. 10003 unknown
// channel), or 0.
func restCode(err error) int {
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Message != nil {
		return re.Message.Code
	}
	return 0
}

// restStatus returns the HTTP status of a REST error, or 0.
func restStatus(err error) int {
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.StatusCode
	}
	return 0
}

// dialTracker remembers the gateway's network connections so that a hung
// Open can be broken by closing them.
type dialTracker struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (d *dialTracker) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{Timeout: 30 * time.Second}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.conns = append(d.conns, c)
	d.mu.Unlock()
	return c, nil
}

func (d *dialTracker) closeAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		c.Close()
	}
	d.conns = nil
}
