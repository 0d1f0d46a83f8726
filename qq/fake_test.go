package qq

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// fakeItem is what a fake musicu handler answers for one call.
type fakeItem struct {
	Code int
	Data any // marshalled as is; nil omits data
	Raw  string
}

// seenRequest is one request the fake received.
type seenRequest struct {
	Path    string
	Query   map[string]string
	Header  http.Header
	Body    []byte
	Decoded map[string]json.RawMessage
}

// fakeQQ is a tiny in-test stand-in for u.y.qq.com and the QIMEI service.
type fakeQQ struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	requests []seenRequest
	handlers map[string]func(param map[string]any) fakeItem // "Module.Method"
	// raw, when set, answers every musicu request with this status and body.
	rawStatus int
	rawBody   string
	qimeiFail int // answer the next n QIMEI requests with HTTP 500
	qimeiHits int
}

func newFakeQQ(t *testing.T) *fakeQQ {
	f := &fakeQQ{t: t, handlers: map[string]func(map[string]any) fakeItem{}}
	f.handle("music.getSession.session.GetSession", func(map[string]any) fakeItem {
		return fakeItem{Data: map[string]any{"session": map[string]any{"uid": "u-1", "sid": "s-1", "vkey": "vk"}}}
	})
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeQQ) handle(name string, h func(map[string]any) fakeItem) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers[name] = h
}

func (f *fakeQQ) endpoints() Endpoints {
	e := Endpoints{}
	for _, h := range KnownHosts {
		e[h] = f.srv.URL
	}
	return e
}

func (f *fakeQQ) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	sr := seenRequest{Path: r.URL.Path, Header: r.Header.Clone(), Body: body, Query: map[string]string{}}
	for k := range r.URL.Query() {
		sr.Query[k] = r.URL.Query().Get(k)
	}
	_ = json.Unmarshal(body, &sr.Decoded)
	f.mu.Lock()
	f.requests = append(f.requests, sr)
	f.mu.Unlock()

	if r.URL.Path == "/tme/trpc/proxy" {
		f.mu.Lock()
		f.qimeiHits++
		fail := f.qimeiFail > 0
		if fail {
			f.qimeiFail--
		}
		f.mu.Unlock()
		if fail {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		inner, _ := json.Marshal(map[string]any{"data": map[string]string{"q16": "Q16", "q36": "Q36"}})
		json.NewEncoder(w).Encode(map[string]any{"code": 0, "data": string(inner)})
		return
	}
	f.mu.Lock()
	status, rawBody := f.rawStatus, f.rawBody
	f.mu.Unlock()
	if status != 0 {
		w.WriteHeader(status)
		io.WriteString(w, rawBody)
		return
	}
	out := map[string]any{"code": 0}
	for i := 0; ; i++ {
		key := "req_" + itoa(i)
		rawItem, ok := sr.Decoded[key]
		if !ok {
			break
		}
		var item struct {
			Module, Method string
			Param          map[string]any
		}
		if err := json.Unmarshal(rawItem, &item); err != nil {
			f.t.Errorf("fake: bad %s: %v", key, err)
		}
		f.mu.Lock()
		h := f.handlers[item.Module+"."+item.Method]
		f.mu.Unlock()
		if h == nil {
			out[key] = map[string]any{"code": 404404}
			continue
		}
		fi := h(item.Param)
		m := map[string]any{"code": fi.Code}
		if fi.Raw != "" {
			m["data"] = json.RawMessage(fi.Raw)
		} else if fi.Data != nil {
			m["data"] = fi.Data
		}
		out[key] = m
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func itoa(i int) string { return strconv.Itoa(i) }

// musicuRequests returns the received musicu requests whose req_0 calls
// method (any method when empty).
func (f *fakeQQ) musicuRequests(method string) []seenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []seenRequest
	for _, r := range f.requests {
		if r.Path == "/tme/trpc/proxy" {
			continue
		}
		if method != "" {
			var item struct{ Method string }
			json.Unmarshal(r.Decoded["req_0"], &item)
			if item.Method != method {
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

func (f *fakeQQ) last(t *testing.T, method string) seenRequest {
	t.Helper()
	rs := f.musicuRequests(method)
	if len(rs) == 0 {
		t.Fatalf("no %s request reached the server", method)
	}
	return rs[len(rs)-1]
}

// param returns req_i.param of a request.
func (r seenRequest) param(t *testing.T, i int) map[string]any {
	t.Helper()
	var item struct{ Param map[string]any }
	if err := json.Unmarshal(r.Decoded["req_"+itoa(i)], &item); err != nil {
		t.Fatalf("req_%d: %v", i, err)
	}
	return item.Param
}

func (r seenRequest) comm(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Decoded["comm"], &m); err != nil {
		t.Fatalf("comm: %v", err)
	}
	return m
}

var testCred = &Credential{MusicID: 123456789, MusicKey: "Q_H_L_secretkey0001", LoginType: 2, RefreshKey: "rk-secret", RefreshToken: "rt-secret"}

// newTestClient returns a client wired to f with a fixed device and clock.
func newTestClient(t *testing.T, f *fakeQQ, mod func(*Options)) *Client {
	t.Helper()
	d := goldenDevice(t, loadCommGolden(t))
	d.SessionUID, d.SessionSID = nil, nil
	opts := Options{
		HTTPClient:   f.srv.Client(),
		Endpoints:    f.endpoints(),
		Device:       d,
		Credential:   testCred,
		RateLimit:    rate.Inf,
		Now:          func() time.Time { return time.Unix(1763800000, 0) },
		QIMEIBackoff: time.Millisecond,
	}
	if mod != nil {
		mod(&opts)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func bg() context.Context { return context.Background() }
