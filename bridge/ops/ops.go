// Package ops serves the bridge's operational endpoints on http.listen:
// /healthz (is the bridge doing its job right now?) and /metrics
// (Prometheus text format, through the Prometheus client library).
//
// It knows the engine through package bridge and everything else through
// small functions, so that it imports neither qq nor discord.
package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// Sources are where the endpoints read the bridge's state. Nil functions
// report nothing (and count as healthy where health is concerned, except
// EngineStatus, which is required).
type Sources struct {
	// EngineStatus is the engine's snapshot.
	EngineStatus func(ctx context.Context) (bridge.Status, error)
	// DiscordConnected reports whether the Discord gateway is up.
	DiscordConnected func() bool
	// LoginPending reports whether a QQ Music login is awaited.
	LoginPending func() bool
	// CredentialExpiry is when the QQ Music credential expires (zero:
	// none or unknown).
	CredentialExpiry func() time.Time
	// DiscordRateLimits counts the 429 answers Discord gave so far, and
	// DiscordRequests the REST requests made.
	DiscordRateLimits func() int64
	DiscordRequests   func() int64
	// PollInterval is the longest interval between two polls (the idle
	// interval): a poll older than three of them is unhealthy.
	PollInterval time.Duration
	// OutboxStaleAfter is how old the oldest delivery not yet settled, in
	// either direction, may grow before the bridge counts as unhealthy
	// (default DefaultOutboxStaleAfter).
	OutboxStaleAfter time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// DefaultOutboxStaleAfter is the usual Sources.OutboxStaleAfter: longer
// than the longest back-off between two attempts (5 minutes) and QQ's
// rate-limit pauses, so that only a delivery that is really stuck trips
// it.
const DefaultOutboxStaleAfter = 15 * time.Minute

// Component is one part of the health report.
type Component struct {
	OK     bool   `json:"ok"`
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

// Health is the /healthz body.
type Health struct {
	OK         bool                 `json:"ok"`
	Components map[string]Component `json:"components"`
}

// Check evaluates the bridge's health: the Discord gateway is connected,
// the last QQ poll succeeded within three poll intervals, no login is
// pending, and no delivery has waited longer than OutboxStaleAfter.
func (s Sources) Check(ctx context.Context) Health {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	h := Health{OK: true, Components: map[string]Component{}}
	set := func(name string, c Component) {
		h.Components[name] = c
		if !c.OK {
			h.OK = false
		}
	}

	if s.DiscordConnected != nil {
		if s.DiscordConnected() {
			set("discord", Component{OK: true, State: "connected"})
		} else {
			set("discord", Component{State: "disconnected", Reason: "the Discord gateway is not connected; the bridge keeps reconnecting"})
		}
	}

	login := Component{OK: true, State: "logged in"}
	if s.LoginPending != nil && s.LoginPending() {
		login = Component{State: "login pending", Reason: "QQ Music needs a new login: scan the QR code in the admin channel, or run `bridge login`"}
		if s.DiscordConnected != nil && !s.DiscordConnected() {
			login.Reason = "QQ Music needs a new login: Discord is not connected, so scan the QR code in the admin channel or, if it could not be posted, the one on the bridge's terminal; or run `bridge login`"
		}
	}

	var st bridge.Status
	var err error
	if s.EngineStatus != nil {
		st, err = s.EngineStatus(ctx)
	} else {
		err = errors.New("no engine")
	}
	switch {
	case err != nil:
		set("engine", Component{State: "unknown", Reason: "reading the engine's status: " + err.Error()})
	case st.Paused:
		set("engine", Component{State: "paused", Reason: "relaying is paused by an operator (/resume)"})
	default:
		set("engine", Component{OK: true, State: "running"})
	}
	if err == nil && st.LoginNeeded && login.OK {
		login = Component{State: "login pending", Reason: "QQ Music refused the credential and a refresh did not fix it: a new login is needed"}
	}
	set("login", login)

	if err == nil {
		limit := 3 * s.PollInterval
		switch {
		case st.LastPoll.IsZero():
			set("qq", Component{State: "no poll yet", Reason: "no successful QQ Music poll yet" + lastErr(st)})
		case limit > 0 && now().Sub(st.LastPoll) > limit:
			set("qq", Component{State: "stale", Reason: fmt.Sprintf("the last successful QQ Music poll was %s ago (more than three poll intervals)%s",
				now().Sub(st.LastPoll).Round(time.Second), lastErr(st))})
		default:
			set("qq", Component{OK: true, State: "polling"})
		}
		set("outbox", s.outbox(st))
	}
	return h
}

// outbox is the health of the deliveries: the oldest one not yet settled,
// in each direction, is younger than OutboxStaleAfter.
func (s Sources) outbox(st bridge.Status) Component {
	limit := s.OutboxStaleAfter
	if limit <= 0 {
		limit = DefaultOutboxStaleAfter
	}
	parked := ""
	if st.Parked > 0 {
		parked = fmt.Sprintf("; %d parked (refused for good: /outbox, /retry, /skip)", st.Parked)
	}
	for _, d := range []struct {
		name string
		age  time.Duration
	}{{"to Discord", st.OldestPendingToDiscord}, {"to QQ Music", st.OldestPendingToQQ}} {
		if d.age > limit {
			return Component{State: "stuck", Reason: fmt.Sprintf("the oldest delivery %s has waited %s (more than %s): see /outbox in the admin channel%s",
				d.name, d.age.Round(time.Second), limit, parked)}
		}
	}
	return Component{OK: true, State: "flowing" + parked}
}

func lastErr(st bridge.Status) string {
	if st.LastError == "" {
		return ""
	}
	return "; last error: " + st.LastError
}

// Handler serves /healthz and /metrics.
func Handler(src Sources, m *Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		h := src.Check(ctx)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !h.OK {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(h)
	})
	if m != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	}
	return mux
}

// Serve listens on addr and serves h until ctx ends. The listener is
// opened before Serve returns its first error, so a taken port is
// reported at once.
func Serve(ctx context.Context, addr string, h http.Handler) (net.Addr, <-chan error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("http.listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return ln.Addr(), done, nil
}

// Metrics holds the bridge's Prometheus metrics. It implements
// bridge.Observer.
type Metrics struct {
	reg       *prometheus.Registry
	relayed   *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	poll      prometheus.Histogram
	pollFails prometheus.Counter
	qqCalls   *prometheus.CounterVec
}

var _ bridge.Observer = (*Metrics)(nil)

// NewMetrics registers every metric; the gauges read src when scraped.
func NewMetrics(src Sources) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		reg: reg,
		relayed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_messages_relayed_total",
			Help: "Messages relayed, by direction (to_discord, to_qq) and outcome (delivered, reconciled, retry, ambiguous, parked, failed, refused).",
		}, []string{"direction", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bridge_relay_latency_seconds",
			Help:    "Time from a message's creation on one side to its delivery on the other.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 300},
		}, []string{"direction"}),
		poll: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "bridge_poll_duration_seconds",
			Help:    "Duration of one QQ Music session-list poll.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30},
		}),
		pollFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bridge_poll_failures_total",
			Help: "QQ Music session-list polls that failed.",
		}),
		qqCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_qq_requests_total",
			Help: "QQ Music API calls, by method and result (ok, expired, rate_limited, error).",
		}, []string{"method", "result"}),
	}
	reg.MustRegister(m.relayed, m.latency, m.poll, m.pollFails, m.qqCalls)

	status := func() (bridge.Status, bool) {
		if src.EngineStatus == nil {
			return bridge.Status{}, false
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		st, err := src.EngineStatus(ctx)
		return st, err == nil
	}
	gauge := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	outbox := prometheus.NewDesc("bridge_outbox_depth", "Deliveries waiting in the outbox, by direction.", []string{"direction"}, nil)
	reg.MustRegister(collectorFunc{desc: outbox, collect: func(ch chan<- prometheus.Metric) {
		st, ok := status()
		if !ok {
			return
		}
		ch <- prometheus.MustNewConstMetric(outbox, prometheus.GaugeValue, float64(st.OutboxToDiscord), string(bridge.ToDiscord))
		ch <- prometheus.MustNewConstMetric(outbox, prometheus.GaugeValue, float64(st.OutboxToQQ), string(bridge.ToQQ))
	}})
	oldest := prometheus.NewDesc("bridge_outbox_oldest_pending_seconds",
		"Age of the oldest delivery not yet settled, by direction (0: none). /healthz fails above its threshold (15 minutes by default).",
		[]string{"direction"}, nil)
	reg.MustRegister(collectorFunc{desc: oldest, collect: func(ch chan<- prometheus.Metric) {
		st, ok := status()
		if !ok {
			return
		}
		ch <- prometheus.MustNewConstMetric(oldest, prometheus.GaugeValue, st.OldestPendingToDiscord.Seconds(), string(bridge.ToDiscord))
		ch <- prometheus.MustNewConstMetric(oldest, prometheus.GaugeValue, st.OldestPendingToQQ.Seconds(), string(bridge.ToQQ))
	}})
	gauge("bridge_parked_deliveries", "Deliveries refused for good, waiting for an admin's /retry or /skip.", func() float64 {
		st, _ := status()
		return float64(st.Parked)
	})
	gauge("bridge_sessions_bridged", "QQ Music sessions that have a Discord channel.", func() float64 {
		st, _ := status()
		return float64(st.SessionsBridged)
	})
	gauge("bridge_last_successful_poll_timestamp_seconds", "Unix time of the last successful QQ Music poll (0: none yet).", func() float64 {
		st, _ := status()
		if st.LastPoll.IsZero() {
			return 0
		}
		return float64(st.LastPoll.UnixNano()) / 1e9
	})
	gauge("bridge_login_pending", "1 while a QQ Music login is awaited, else 0.", func() float64 {
		if src.LoginPending != nil && src.LoginPending() {
			return 1
		}
		if st, ok := status(); ok && st.LoginNeeded {
			return 1
		}
		return 0
	})
	gauge("bridge_paused", "1 while relaying is paused by an operator.", func() float64 {
		if st, _ := status(); st.Paused {
			return 1
		}
		return 0
	})
	gauge("bridge_credential_expiry_timestamp_seconds", "Unix time the QQ Music credential expires (0: none).", func() float64 {
		if src.CredentialExpiry == nil {
			return 0
		}
		t := src.CredentialExpiry()
		if t.IsZero() {
			return 0
		}
		return float64(t.Unix())
	})
	gauge("bridge_discord_gateway_connected", "1 while the Discord gateway is connected.", func() float64 {
		if src.DiscordConnected != nil && src.DiscordConnected() {
			return 1
		}
		return 0
	})
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "bridge_discord_rate_limited_total",
		Help: "Discord answers of 429 (rate limited) the bridge met.",
	}, func() float64 {
		if src.DiscordRateLimits == nil {
			return 0
		}
		return float64(src.DiscordRateLimits())
	}))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "bridge_discord_requests_total",
		Help: "REST requests the bridge made to Discord, retries included.",
	}, func() float64 {
		if src.DiscordRequests == nil {
			return 0
		}
		return float64(src.DiscordRequests())
	}))
	return m
}

// Relayed implements bridge.Observer.
func (m *Metrics) Relayed(dir bridge.Direction, outcome bridge.Outcome) {
	m.relayed.WithLabelValues(string(dir), string(outcome)).Inc()
}

// PollDone implements bridge.Observer.
func (m *Metrics) PollDone(d time.Duration, err error) {
	m.poll.Observe(d.Seconds())
	if err != nil {
		m.pollFails.Inc()
	}
}

// RelayLatency implements bridge.Observer.
func (m *Metrics) RelayLatency(dir bridge.Direction, d time.Duration) {
	m.latency.WithLabelValues(string(dir)).Observe(d.Seconds())
}

// QQCall counts one QQ Music API call.
func (m *Metrics) QQCall(method, result string) {
	m.qqCalls.WithLabelValues(method, result).Inc()
}

// collectorFunc is a collector of one description computed at scrape time.
type collectorFunc struct {
	desc    *prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }
