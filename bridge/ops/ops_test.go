package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func sources(st bridge.Status, stErr error, connected, pending bool) Sources {
	return Sources{
		EngineStatus:     func(context.Context) (bridge.Status, error) { return st, stErr },
		DiscordConnected: func() bool { return connected },
		LoginPending:     func() bool { return pending },
		PollInterval:     10 * time.Second,
		Now:              func() time.Time { return now },
	}
}

func TestHealthStates(t *testing.T) {
	fresh := bridge.Status{LastPoll: now.Add(-5 * time.Second)}
	tests := []struct {
		name       string
		src        Sources
		ok         bool
		bad        string // the component that is not ok
		reasonPart string
	}{
		{"healthy", sources(fresh, nil, true, false), true, "", ""},
		{"gateway down", sources(fresh, nil, false, false), false, "discord", "not connected"},
		{"login pending", sources(fresh, nil, true, true), false, "login", "new login"},
		{"engine says login needed", sources(bridge.Status{LastPoll: fresh.LastPoll, LoginNeeded: true}, nil, true, false), false, "login", "refresh did not fix"},
		{"no poll yet", sources(bridge.Status{LastError: "dial tcp: refused"}, nil, true, false), false, "qq", "dial tcp: refused"},
		{"stale poll", sources(bridge.Status{LastPoll: now.Add(-31 * time.Second)}, nil, true, false), false, "qq", "three poll intervals"},
		{"paused", sources(bridge.Status{LastPoll: fresh.LastPoll, Paused: true}, nil, true, false), false, "engine", "paused"},
		{"status error", sources(bridge.Status{}, errors.New("database is locked"), true, false), false, "engine", "database is locked"},
		{"delivery to Discord stuck", sources(bridge.Status{LastPoll: fresh.LastPoll, OldestPendingToDiscord: 16 * time.Minute}, nil, true, false), false, "outbox", "to Discord has waited 16m0s (more than 15m0s)"},
		{"reply to QQ stuck, with parked ones", sources(bridge.Status{LastPoll: fresh.LastPoll, OldestPendingToQQ: time.Hour, Parked: 2}, nil, true, false), false, "outbox", "to QQ Music has waited 1h0m0s (more than 15m0s): see /outbox in the admin channel; 2 parked"},
		{"deliveries under the threshold", sources(bridge.Status{LastPoll: fresh.LastPoll, OldestPendingToDiscord: 15 * time.Minute, OldestPendingToQQ: time.Minute}, nil, true, false), true, "", ""},
		{"parked deliveries alone stay healthy", sources(bridge.Status{LastPoll: fresh.LastPoll, Parked: 3}, nil, true, false), true, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Handler(tc.src, nil).ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
			wantCode := http.StatusOK
			if !tc.ok {
				wantCode = http.StatusServiceUnavailable
			}
			if rec.Code != wantCode {
				t.Errorf("status %d, want %d: %s", rec.Code, wantCode, rec.Body)
			}
			var h Health
			if err := json.Unmarshal(rec.Body.Bytes(), &h); err != nil {
				t.Fatalf("body is not JSON: %v: %s", err, rec.Body)
			}
			if h.OK != tc.ok {
				t.Errorf("ok = %v, want %v", h.OK, tc.ok)
			}
			for _, name := range []string{"discord", "login", "engine", "outbox"} {
				if name == "outbox" && tc.name == "status error" {
					continue
				}
				if _, ok := h.Components[name]; !ok {
					t.Errorf("component %s missing: %+v", name, h.Components)
				}
			}
			if tc.bad != "" {
				c := h.Components[tc.bad]
				if c.OK || !strings.Contains(c.Reason, tc.reasonPart) {
					t.Errorf("component %s = %+v, want not ok with a reason saying %q", tc.bad, c, tc.reasonPart)
				}
			}
		})
	}
}

func TestMetricsAfterRelay(t *testing.T) {
	st := bridge.Status{SessionsBridged: 3, OutboxToDiscord: 2, OutboxToQQ: 1, LastPoll: now,
		OldestPendingToDiscord: 90 * time.Second, Parked: 1}
	src := sources(st, nil, true, false)
	src.CredentialExpiry = func() time.Time { return now.Add(72 * time.Hour) }
	src.DiscordRateLimits = func() int64 { return 4 }
	src.DiscordRequests = func() int64 { return 40 }
	m := NewMetrics(src)
	m.Relayed(bridge.ToDiscord, bridge.OutcomeDelivered)
	m.Relayed(bridge.ToQQ, bridge.OutcomeRetry)
	m.RelayLatency(bridge.ToDiscord, 1500*time.Millisecond)
	m.PollDone(20*time.Millisecond, nil)
	m.PollDone(20*time.Millisecond, errors.New("boom"))
	m.QQCall("GetSessionList", "ok")

	srv := httptest.NewServer(Handler(src, m))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	text := string(body)
	for _, want := range []string{
		`bridge_messages_relayed_total{direction="to_discord",outcome="delivered"} 1`,
		`bridge_messages_relayed_total{direction="to_qq",outcome="retry"} 1`,
		`bridge_relay_latency_seconds_count{direction="to_discord"} 1`,
		`bridge_poll_duration_seconds_count 2`,
		`bridge_poll_failures_total 1`,
		`bridge_qq_requests_total{method="GetSessionList",result="ok"} 1`,
		`bridge_outbox_depth{direction="to_discord"} 2`,
		`bridge_outbox_depth{direction="to_qq"} 1`,
		`bridge_outbox_oldest_pending_seconds{direction="to_discord"} 90`,
		`bridge_outbox_oldest_pending_seconds{direction="to_qq"} 0`,
		`bridge_parked_deliveries 1`,
		`bridge_sessions_bridged 3`,
		`bridge_login_pending 0`,
		`bridge_discord_gateway_connected 1`,
		`bridge_discord_rate_limited_total 4`,
		`bridge_discord_requests_total 40`,
		fmt.Sprintf("bridge_credential_expiry_timestamp_seconds %g", float64(now.Add(72*time.Hour).Unix())),
		fmt.Sprintf("bridge_last_successful_poll_timestamp_seconds %g", float64(now.Unix())),
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestServeReportsTakenPort(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done, err := Serve(ctx, "127.0.0.1:0", Handler(sources(bridge.Status{}, nil, true, false), nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Serve(ctx, addr.String(), http.NotFoundHandler()); err == nil || !strings.Contains(err.Error(), "http.listen") {
		t.Errorf("a taken port gave %v, want an error naming http.listen", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("the server did not stop")
	}
}
