package discordtest

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ---- fault injection and records ----

// fault is an injected answer for the next n matching REST requests.
type fault struct {
	method, pattern string // empty matches everything
	n               int
	status          int // 429 for rate limits
	retryAfter      time.Duration
	global          bool
}

func (s *Server) addFault(f *fault) {
	if f.n <= 0 {
		return
	}
	s.recMu.Lock()
	defer s.recMu.Unlock()
	s.faults = append(s.faults, f)
}

// RateLimit makes the next n REST requests (any route under /api) answer
// 429 with the given retry_after, Retry-After and X-RateLimit-* headers;
// global sets "global": true and X-RateLimit-Global. Faults queue up in the
// order they were added; the oldest one that matches a request answers it.
func (s *Server) RateLimit(n int, retryAfter time.Duration, global bool) {
	s.addFault(&fault{n: n, status: http.StatusTooManyRequests, retryAfter: retryAfter, global: global})
}

// RateLimitRoute is RateLimit for requests matching method (empty: any) and
// pathPattern (see Count), e.g. RateLimitRoute("POST", "/webhooks/*/*", 1, time.Second).
func (s *Server) RateLimitRoute(method, pathPattern string, n int, retryAfter time.Duration) {
	s.addFault(&fault{method: method, pattern: pathPattern, n: n, status: http.StatusTooManyRequests, retryAfter: retryAfter})
}

// FailNext makes the next n REST requests answer with status (e.g. 500,
// 502, 503) and a Discord-style JSON body. discordgo retries only 502.
func (s *Server) FailNext(n int, status int) {
	s.addFault(&fault{n: n, status: status})
}

// FailRoute is FailNext for requests matching method and pathPattern.
func (s *Server) FailRoute(method, pathPattern string, n, status int) {
	s.addFault(&fault{method: method, pattern: pathPattern, n: n, status: status})
}

// randomFaults fails a share of REST requests (see SetRandomFaults).
type randomFaults struct {
	rate       float64
	statuses   []int
	retryAfter time.Duration
	rng        *rand.Rand
}

// SetRandomFaults makes every REST request under /api fail with
// probability rate, answered with a status drawn from statuses: 429 as a
// (non-global) rate limit asking to retry after retryAfter, any other
// status with a Discord-style error body, before the request is handled
// (nothing is stored). Draws come from a generator seeded with seed.
// Queued faults (RateLimit, FailNext, ...) answer first. A rate of 0, or no
// statuses, turns random faults off.
func (s *Server) SetRandomFaults(rate float64, seed int64, retryAfter time.Duration, statuses ...int) {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	if rate <= 0 || len(statuses) == 0 {
		s.random = nil
		return
	}
	s.random = &randomFaults{rate: rate, statuses: append([]int(nil), statuses...), retryAfter: retryAfter,
		rng: rand.New(rand.NewPCG(uint64(seed), 0xd15c0)),
	}
}

type delay struct {
	method, pattern string
	n               int
	d               time.Duration
}

// DelayRoute holds the next n REST requests matching method (empty: any)
// and pathPattern (see Count; empty: any) for d before they are handled,
// to test client deadlines. A request whose client gives up while held is
// never handled (nothing is stored), as if it never reached Discord.
// n < 0 delays every matching request.
func (s *Server) DelayRoute(method, pathPattern string, n int, d time.Duration) {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	s.delays = append(s.delays, &delay{method: method, pattern: pathPattern, n: n, d: d})
}

func (s *Server) takeDelay(method, path string) time.Duration {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	for i, dl := range s.delays {
		if (dl.method != "" && !strings.EqualFold(dl.method, method)) || (dl.pattern != "" && !pathMatch(dl.pattern, path)) {
			continue
		}
		if dl.n > 0 {
			dl.n--
			if dl.n == 0 {
				s.delays = append(s.delays[:i:i], s.delays[i+1:]...)
			}
		}
		return dl.d
	}
	return 0
}

// routeLimit is a per-resource bucket: n requests per window for every
// distinct path matching method and pattern.
type routeLimit struct {
	method, pattern string
	n               int
	per             time.Duration
	buckets         map[string]*bucketWindow
}

type bucketWindow struct {
	start time.Time
	count int
}

// SetRouteLimit enforces a Discord-style bucket of n requests per window
// for every distinct path matching method (empty: any) and pathPattern
// (see Count); e.g. SetRouteLimit("POST", "/webhooks/*/*", 5, 2*time.Second)
// is Discord's per-webhook limit. Matching answers carry X-RateLimit-Limit,
// -Remaining, -Reset, -Reset-After and -Bucket headers (so discordgo paces
// itself), and requests beyond the budget get 429 with retry_after.
func (s *Server) SetRouteLimit(method, pathPattern string, n int, per time.Duration) {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	s.limits = append(s.limits, &routeLimit{method: method, pattern: pathPattern, n: n, per: per, buckets: map[string]*bucketWindow{}})
}

// SetGlobalLimit enforces a budget of rps REST requests per one-second
// window (Discord's global limit is 50/s); requests beyond it get a global
// 429. Zero turns the budget off.
func (s *Server) SetGlobalLimit(rps int) {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	s.globalRPS = rps
	s.winStart, s.winCount = time.Time{}, 0
}

// Requests returns every REST request answered so far, oldest first.
func (s *Server) Requests() []RequestRecord {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	return append([]RequestRecord(nil), s.records...)
}

// Count returns how many REST requests matched method (empty matches any)
// and pathPattern, a path without the /api/vN prefix in which a "*" or
// "{name}" segment matches any one segment, e.g. "/channels/*/messages".
func (s *Server) Count(method, pathPattern string) int {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	n := 0
	for _, r := range s.records {
		if (method == "" || strings.EqualFold(method, r.Method)) && pathMatch(pathPattern, r.Path) {
			n++
		}
	}
	return n
}

// Count429 returns how many REST requests were answered with 429.
func (s *Server) Count429() int {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	return s.n429
}

func pathMatch(pattern, path string) bool {
	ps := strings.Split(strings.Trim(pattern, "/"), "/")
	xs := strings.Split(strings.Trim(path, "/"), "/")
	if len(ps) != len(xs) {
		return false
	}
	for i, p := range ps {
		if p == "*" || (strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}")) {
			continue
		}
		if p != xs[i] {
			return false
		}
	}
	return true
}

// injectFault answers the request with an injected failure or 429 and
// reports whether it did.
func (s *Server) injectFault(w http.ResponseWriter, method, path string) bool {
	s.recMu.Lock()
	for i, f := range s.faults {
		if (f.method != "" && !strings.EqualFold(f.method, method)) || (f.pattern != "" && !pathMatch(f.pattern, path)) {
			continue
		}
		f.n--
		if f.n <= 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		s.recMu.Unlock()
		if f.status == http.StatusTooManyRequests {
			write429(w, f.retryAfter, f.global)
		} else {
			writeError(w, f.status, 0, fmt.Sprintf("%d: %s", f.status, http.StatusText(f.status)))
		}
		return true
	}
	if r := s.random; r != nil && r.rng.Float64() < r.rate {
		status := r.statuses[r.rng.IntN(len(r.statuses))]
		s.recMu.Unlock()
		if status == http.StatusTooManyRequests {
			write429(w, r.retryAfter, false)
		} else {
			writeError(w, status, 0, fmt.Sprintf("%d: %s", status, http.StatusText(status)))
		}
		return true
	}
	now := time.Now()
	for _, l := range s.limits {
		if (l.method != "" && !strings.EqualFold(l.method, method)) || !pathMatch(l.pattern, path) {
			continue
		}
		b := l.buckets[path]
		if b == nil || now.Sub(b.start) >= l.per {
			b = &bucketWindow{start: now}
			l.buckets[path] = b
		}
		b.count++
		resetAfter := l.per - now.Sub(b.start)
		if b.count > l.n {
			s.recMu.Unlock()
			write429(w, resetAfter, false)
			return true
		}
		h := w.Header()
		h.Set("X-RateLimit-Limit", strconv.Itoa(l.n))
		h.Set("X-RateLimit-Remaining", strconv.Itoa(l.n-b.count))
		h.Set("X-RateLimit-Reset-After", strconv.FormatFloat(resetAfter.Seconds(), 'f', 3, 64))
		h.Set("X-RateLimit-Reset", strconv.FormatFloat(float64(now.Add(resetAfter).UnixMilli())/1000, 'f', 3, 64))
		h.Set("X-RateLimit-Bucket", avatarHash(method + " " + l.pattern)[:16])
	}
	if s.globalRPS > 0 {
		if now.Sub(s.winStart) >= time.Second {
			s.winStart, s.winCount = now, 0
		}
		s.winCount++
		if s.winCount > s.globalRPS {
			after := time.Second - now.Sub(s.winStart)
			s.recMu.Unlock()
			write429(w, after, true)
			return true
		}
	}
	s.recMu.Unlock()
	return false
}
