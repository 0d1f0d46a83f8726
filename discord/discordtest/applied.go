package discordtest

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"
)

// Lost says how the answer to a request that Discord applied gets lost
// (see ApplyThenFail): the effect is stored, dispatched on the gateway and
// visible to later reads, but the client cannot know it.
type Lost int

const (
	// Lost500, Lost502 and Lost503 answer that status, as a proxy in front
	// of Discord does when its answer times out.
	Lost500 Lost = iota + 1
	Lost502
	Lost503
	// LostDrop closes the connection without an answer.
	LostDrop
	// LostHang holds the request until the client gives up (or
	// HangLimit passes), then closes the connection without an answer.
	LostHang
)

// HangLimit bounds how long LostHang holds a request.
const HangLimit = time.Minute

func (l Lost) String() string {
	switch l {
	case Lost500, Lost502, Lost503:
		return fmt.Sprintf("applied, then %d", l.status())
	case LostDrop:
		return "applied, then dropped"
	case LostHang:
		return "applied, then hung and dropped"
	}
	return fmt.Sprintf("Lost(%d)", int(l))
}

func (l Lost) status() int {
	switch l {
	case Lost500:
		return http.StatusInternalServerError
	case Lost502:
		return http.StatusBadGateway
	case Lost503:
		return http.StatusServiceUnavailable
	}
	return 0
}

// appliedFault applies matching requests, then loses the answer: the next
// n of them (n > 0), or a share rate of them drawn from rng.
type appliedFault struct {
	method, pattern string
	n               int
	rate            float64
	hows            []Lost
	rng             *rand.Rand
}

// ApplyThenFail makes the next n REST requests matching method (empty:
// any) and pathPattern (see Count) be handled in full, then loses their
// answer as how says. Meant for the creating routes, where it matters:
// "POST /channels/*/messages", "POST /webhooks/*/*" (webhook execute, also
// into a thread), "POST /guilds/*/channels", "POST /channels/*/webhooks",
// "POST /channels/*/threads". A request the handler refuses (4xx) is
// answered as usual: nothing was applied.
func (s *Server) ApplyThenFail(method, pathPattern string, n int, how Lost) {
	if n <= 0 {
		return
	}
	s.recMu.Lock()
	defer s.recMu.Unlock()
	s.applied = append(s.applied, &appliedFault{method: method, pattern: pathPattern, n: n, hows: []Lost{how}})
}

// SetApplyThenFail makes a share rate (0..1) of the REST requests
// matching method and pathPattern be applied, then lose their answer in
// one of the ways hows (drawn at random from a generator seeded with
// seed). It adds to earlier settings on other routes; a rate of 0 (or no
// hows) turns it off for that method and pattern. Off by default.
func (s *Server) SetApplyThenFail(method, pathPattern string, rate float64, seed int64, hows ...Lost) {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	s.applied = removeFunc(s.applied, func(f *appliedFault) bool {
		return f.n == 0 && f.method == method && f.pattern == pathPattern
	})
	if rate <= 0 || len(hows) == 0 {
		return
	}
	s.applied = append(s.applied, &appliedFault{method: method, pattern: pathPattern, rate: rate,
		hows: append([]Lost(nil), hows...), rng: rand.New(rand.NewPCG(uint64(seed), 0xa991ed)),
	})
}

func removeFunc[T any](xs []T, del func(T) bool) []T {
	out := xs[:0]
	for _, x := range xs {
		if !del(x) {
			out = append(out, x)
		}
	}
	return out
}

// takeApplied reports whether the request is to be applied, then lose its
// answer, and how.
func (s *Server) takeApplied(method, path string) (Lost, bool) {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	for i, f := range s.applied {
		if (f.method != "" && !strings.EqualFold(f.method, method)) || (f.pattern != "" && !pathMatch(f.pattern, path)) {
			continue
		}
		if f.n > 0 {
			f.n--
			if f.n == 0 {
				s.applied = append(s.applied[:i:i], s.applied[i+1:]...)
			}
			return f.hows[0], true
		}
		if f.rng.Float64() < f.rate {
			return f.hows[f.rng.IntN(len(f.hows))], true
		}
		return 0, false
	}
	return 0, false
}

// serveApplied handles r in full into a buffer, then loses the answer as
// how says (or, when the handler refused the request, answers as usual).
func (s *Server) serveApplied(w http.ResponseWriter, rec *statusRecorder, r *http.Request, how Lost) {
	buf := httptest.NewRecorder()
	s.api.ServeHTTP(buf, r)
	if buf.Code >= 300 {
		for k, v := range buf.Header() {
			rec.Header()[k] = v
		}
		rec.WriteHeader(buf.Code)
		_, _ = rec.Write(buf.Body.Bytes())
		return
	}
	if st := how.status(); st != 0 {
		writeError(rec, st, 0, fmt.Sprintf("%d: %s", st, http.StatusText(st)))
		return
	}
	if how == LostHang {
		t := time.NewTimer(HangLimit)
		select {
		case <-r.Context().Done():
		case <-s.closing:
		case <-t.C:
		}
		t.Stop()
	}
	dropConnection(w)
}

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // net/http closes the connection
	}
	conn.Close()
}
