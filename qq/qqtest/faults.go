package qqtest

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"
)

// FaultKind is a kind of failure the server can inject.
type FaultKind int

const (
	// Expired answers the item with a credential-expired code (Fault.Code:
	// 1000, the default, 104400 or 104401).
	Expired FaultKind = iota + 1
	// RateLimited answers the item with 2001 and data.feedbackURL, as risk
	// control does.
	RateLimited
	// HTTP5xx answers the whole request with HTTP status Fault.Code
	// (default 502) and an HTML body.
	HTTP5xx
	// Timeout holds the whole request: until the client gives up (or the
	// server closes) when Fault.Delay is 0, else for Delay, after which the
	// request is answered normally (a slow reply) or, with Fault.Cut, the
	// connection closes without an answer.
	Timeout
	// Malformed answers the whole request with HTTP 200 and truncated JSON.
	Malformed
	// Gateway answers the whole request with top-level code Fault.Code
	// (default 500001): the batch was refused.
	Gateway
	// Signature answers the item with 2000 (signature required).
	Signature
	// APIError answers the item with Fault.Code (default 10001) and
	// Fault.Data.
	APIError
)

var faultNames = map[FaultKind]string{
	Expired: "Expired", RateLimited: "RateLimited", HTTP5xx: "HTTP5xx", Timeout: "Timeout",
	Malformed: "Malformed", Gateway: "Gateway", Signature: "Signature", APIError: "APIError",
}

func (k FaultKind) String() string {
	if n, ok := faultNames[k]; ok {
		return n
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// Fault is a failure to inject into the answers of one method.
type Fault struct {
	Kind FaultKind
	// Times is how many matching items it answers; 0 is every one until
	// ClearFaults.
	Times int
	// Code is the code to answer with (see the kinds for defaults).
	Code int
	// Delay is how long a Timeout holds the request (0: until the client
	// gives up).
	Delay time.Duration
	// FeedbackURL is RateLimited's data.feedbackURL (default: a plausible
	// y.qq.com URL).
	FeedbackURL string
	// Data is APIError's data (default {"msg": ...}).
	Data any
	// AfterApply makes a whole-request fault (HTTP5xx, Timeout, Malformed,
	// Gateway) strike after the items were processed: the server did the
	// work (a message was sent), the reply is lost.
	AfterApply bool
	// Cut makes a Timeout with a Delay close the connection without an
	// answer once Delay has passed: what a client sees when its own
	// time-out strikes, without waiting for the client's (long) time-out.
	Cut bool
}

func (f *Fault) whole() bool {
	switch f.Kind {
	case HTTP5xx, Timeout, Malformed, Gateway:
		return true
	}
	return false
}

// Fail injects f into the answers of method (e.g. "SendMessageAsync",
// "GetQimei" for the QIMEI proxy, "*" for every method). Faults queue:
// the first one that is not used up answers.
func (s *Server) Fail(method string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ff := f
	s.faults[method] = append(s.faults[method], &ff)
}

// ClearFaults removes every injected fault, random faults included.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[string][]*Fault{}
	s.random = nil
	s.applied = nil
}

type randomFaults struct {
	rate  float64
	kinds []FaultKind
	mix   []Fault // when set, drawn instead of kinds
	rng   *rand.Rand
}

// SetRandomFaults makes every item fail with probability rate, with a
// kind drawn from kinds (all kinds when none is given), from a generator
// seeded with seed. Random time-outs hold the request until the client
// gives up. A rate of 0 turns them off.
func (s *Server) SetRandomFaults(rate float64, seed int64, kinds ...FaultKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rate <= 0 {
		s.random = nil
		return
	}
	if len(kinds) == 0 {
		kinds = []FaultKind{Expired, RateLimited, HTTP5xx, Timeout, Malformed, Gateway, Signature, APIError}
	}
	s.random = &randomFaults{rate: rate, kinds: append([]FaultKind(nil), kinds...), rng: rand.New(rand.NewPCG(uint64(seed), 0x5eed))}
}

// SetRandomFaultMix is SetRandomFaults with whole faults to draw from
// (with their Code, Delay, AfterApply and Cut) instead of bare kinds: for
// example a Timeout with a 3 s Delay and Cut, so that random time-outs do
// not hold requests until the client gives up. Times is ignored. A rate of
// 0, or no faults, turns random faults off.
func (s *Server) SetRandomFaultMix(rate float64, seed int64, mix ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rate <= 0 || len(mix) == 0 {
		s.random = nil
		return
	}
	s.random = &randomFaults{rate: rate, mix: append([]Fault(nil), mix...), rng: rand.New(rand.NewPCG(uint64(seed), 0x5eed))}
}

func (s *Server) takeFaultLocked(method string) *Fault {
	for _, key := range []string{method, "*"} {
		if q := s.faults[key]; len(q) > 0 {
			f := q[0]
			if f.Times == 0 {
				c := *f
				return &c
			}
			f.Times--
			c := *f
			if f.Times == 0 {
				s.faults[key] = q[1:]
			}
			return &c
		}
	}
	if f := s.takeAppliedLocked(method); f != nil {
		return f
	}
	if r := s.random; r != nil && r.rng.Float64() < r.rate {
		if len(r.mix) > 0 {
			f := r.mix[r.rng.IntN(len(r.mix))]
			f.Times = 0
			return &f
		}
		return &Fault{Kind: r.kinds[r.rng.IntN(len(r.kinds))]}
	}
	return nil
}

// faultReply is an item-level fault's {code, data}.
func (s *Server) faultReply(f *Fault) map[string]any {
	switch f.Kind {
	case Expired:
		code := f.Code
		if code == 0 {
			code = CodeExpired
		}
		return map[string]any{"code": code, "data": map[string]any{}}
	case RateLimited:
		u := f.FeedbackURL
		if u == "" {
			u = s.feedbackURL
		}
		return map[string]any{"code": CodeRateLimited, "data": map[string]any{"feedbackURL": u}}
	case Signature:
		return map[string]any{"code": CodeSignatureRequired, "data": map[string]any{}}
	}
	code := f.Code
	if code == 0 {
		code = 10001
	}
	data := f.Data
	if data == nil {
		data = map[string]any{"msg": "qqtest: injected API error"}
	}
	return map[string]any{"code": code, "data": data}
}

// malformedBody is what a Malformed fault answers: JSON cut short.
const malformedBody = `{"code":0,"req_0":{"code":0,"data":{"has_more":1,"sessions":[{"session_id":"`

// applyWhole applies a whole-request fault. It reports whether the request
// is finished (answered or abandoned); false means a Timeout's delay
// passed and the request goes on.
func (s *Server) applyWhole(w http.ResponseWriter, r *http.Request, f *Fault) bool {
	switch f.Kind {
	case HTTP5xx:
		code := f.Code
		if code < 500 || code > 599 {
			code = http.StatusBadGateway
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(code)
		fmt.Fprintf(w, "<html><head><title>%d %s</title></head><body><center><h1>%d %s</h1></center><hr><center>stgw</center></body></html>",
			code, http.StatusText(code), code, http.StatusText(code))
		return true
	case Malformed:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(malformedBody))
		return true
	case Gateway:
		code := f.Code
		if code == 0 {
			code = CodeBadRequest
		}
		writeJSON(w, http.StatusOK, map[string]any{"code": code})
		return true
	case Timeout:
		ran := s.hold(r, f.Delay)
		if ran && f.Cut {
			panic(http.ErrAbortHandler) // no answer: the connection just closes
		}
		return !ran
	}
	return false
}

// hold blocks for d (forever when 0) and reports whether it ran out; when
// the client gives up it returns false, and when the server closes it
// aborts the connection.
func (s *Server) hold(r *http.Request, d time.Duration) bool {
	var timer <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-timer:
		return true
	case <-r.Context().Done():
		return false
	case <-s.closing:
		panic(http.ErrAbortHandler)
	}
}

// bucket is a token bucket on the server's clock.
type bucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func (b *bucket) allow(now time.Time) bool {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(b.burst, b.tokens+el*b.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}

// SetRateLimit lets through rps items per second of the methods that need
// a credential, with bursts of burst, on the server's clock, and answers
// the rest with 2001 like risk control. rps <= 0 removes the limit.
func (s *Server) SetRateLimit(rps float64, burst int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rps <= 0 {
		s.limiter = nil
		return
	}
	if burst < 1 {
		burst = 1
	}
	s.limiter = &bucket{rate: rps, burst: float64(burst), tokens: float64(burst), last: s.clock()}
}
