package qqport

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/admin"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// /logout's port ends the login on QQ Music before forgetting it: the old
// musickey stops working on the server, and the file is gone.
func TestLogoutEndsTheLoginOnQQMusic(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fault      *qqtest.Fault
		wantServer bool // the error wraps admin.ErrServerLogout
	}{
		{"confirmed", nil, false},
		{"refused", &qqtest.Fault{Kind: qqtest.RateLimited}, true},
		{"server error", &qqtest.Fault{Kind: qqtest.HTTP5xx}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, p := newPort(t)
			file := filepath.Join(t.TempDir(), "credential.json")
			if err := qq.SaveCredential(file, p.c.Credential()); err != nil {
				t.Fatal(err)
			}
			if tc.fault != nil {
				s.Fail("Logout", *tc.fault)
			}
			l := NewLogin(p.c, p, file, nil)
			err := l.Logout(ctxT(t))
			if got := errors.Is(err, admin.ErrServerLogout); got != tc.wantServer || (!tc.wantServer && err != nil) {
				t.Fatalf("Logout: %v; want a server-logout error: %v", err, tc.wantServer)
			}
			if s.Count("Logout") != 1 {
				t.Errorf("Logout reached QQ Music %d times, want 1", s.Count("Logout"))
			}
			if _, ok := l.Account(); ok || p.c.Credential().HasLogin() {
				t.Error("the credential is still held")
			}
			if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the credential file is still there: %v", err)
			}
			if killed := s.Account().MusicKey == ""; killed == tc.wantServer {
				t.Errorf("server-side key ended = %v, want %v", killed, !tc.wantServer)
			}
		})
	}
}

// QQ's 2001 refusal reaches the engine as a rate limit that still names
// the verification page QQ gave (data.feedbackURL).
func TestRateLimitCarriesTheVerificationPage(t *testing.T) {
	const page = "https://y.qq.com/m/client/safety/feedback.html?id=42"
	s, p := newPort(t)
	s.Fail("GetSessionList", qqtest.Fault{Kind: qqtest.RateLimited, FeedbackURL: page})
	_, err := p.ChangedSessions(ctxT(t), 0)
	if !errors.Is(err, bridge.ErrRateLimited) {
		t.Fatalf("err %v, want bridge.ErrRateLimited", err)
	}
	if got := bridge.VerificationURL(err); got != page {
		t.Errorf("VerificationURL = %q, want %q", got, page)
	}
}
