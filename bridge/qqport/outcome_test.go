package qqport

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// TestSendOutcomes: every failed send says what became of it: refused for
// good (permanent), not sent (transient), or maybe sent (ambiguous, and
// FindSent then tells).
func TestSendOutcomes(t *testing.T) {
	tests := []struct {
		name  string
		fault qqtest.Fault
		want  bridge.CallOutcome
		sent  bool   // the server sent the message anyway
		says  string // in the error
	}{
		{"bad parameters", qqtest.Fault{Kind: qqtest.APIError, Code: CodeBadParams, Times: 1}, bridge.CallPermanent, false, "code 20261"},
		{"other refusal", qqtest.Fault{Kind: qqtest.APIError, Code: 10001, Times: 1}, bridge.CallPermanent, false, "code 10001"},
		{"batch refused", qqtest.Fault{Kind: qqtest.Gateway, Times: 1}, bridge.CallTransient, false, ""},
		{"rate limited", qqtest.Fault{Kind: qqtest.RateLimited, Times: 1}, bridge.CallTransient, false, ""},
		{"5xx before", qqtest.Fault{Kind: qqtest.HTTP5xx, Times: 1}, bridge.CallAmbiguous, false, "HTTP 502"},
		{"5xx after sending", qqtest.Fault{Kind: qqtest.HTTP5xx, Times: 1, AfterApply: true}, bridge.CallAmbiguous, true, "HTTP 502"},
		{"dropped after sending", qqtest.Fault{Kind: qqtest.Timeout, Delay: 20 * time.Millisecond, Cut: true, Times: 1, AfterApply: true}, bridge.CallAmbiguous, true, "answer was lost"},
		{"unreadable answer", qqtest.Fault{Kind: qqtest.Malformed, Times: 1, AfterApply: true}, bridge.CallAmbiguous, true, "cannot be read"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, p := newPort(t)
			ctx := ctxT(t)
			u := s.AddUser(qqtest.User{Nick: "Fay"})
			sid := s.AddSession(u)
			s.Fail("SendMessageAsync", tc.fault)
			_, err := p.SendText(ctx, bridge.OutgoingText{SessionID: sid, PeerUIN: fmt.Sprint(u.UIN), Text: "hi", ClientKey: "k-1"})
			if got := bridge.OutcomeOf(err); got != tc.want || !strings.Contains(fmt.Sprint(err), tc.says) {
				t.Fatalf("SendText = %v (%v), want %v saying %q", err, got, tc.want, tc.says)
			}
			if strings.Contains(err.Error(), account.MusicKey) {
				t.Errorf("error shows the musickey: %v", err)
			}
			_, found, ferr := p.FindSent(ctx, sid, "k-1")
			if ferr != nil || found != tc.sent {
				t.Errorf("FindSent = %v, %v; want found=%v", found, ferr, tc.sent)
			}
		})
	}

	t.Run("refused before sending", func(t *testing.T) {
		s, p := newPort(t)
		u := s.AddUser(qqtest.User{Nick: "Gus"})
		sid := s.AddSession(u)
		for _, text := range []string{"", strings.Repeat("字", MaxTextLen+1)} {
			_, err := p.SendText(ctxT(t), bridge.OutgoingText{SessionID: sid, PeerUIN: fmt.Sprint(u.UIN), Text: text, ClientKey: "k"})
			if bridge.OutcomeOf(err) != bridge.CallPermanent {
				t.Errorf("%d characters: %v, want permanent", len([]rune(text)), err)
			}
		}
	})

	t.Run("no connection", func(t *testing.T) {
		s := qqtest.New(qqtest.WithAccount(account))
		eps := s.Endpoints()
		s.Close() // nothing listens there any more
		c, err := qq.New(qq.Options{
			Endpoints:  eps,
			DeviceFile: filepath.Join(t.TempDir(), "device.json"),
			Credential: &qq.Credential{MusicID: account.MusicID, MusicKey: account.MusicKey, LoginType: 2,
				MusickeyCreateTime: account.MusicKeyCreateTime, KeyExpiresIn: account.KeyExpiresIn},
			RateLimit:    rate.Inf,
			QIMEIBackoff: time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(c).SendText(ctxT(t), bridge.OutgoingText{SessionID: "s", PeerUIN: "1", Text: "hi", ClientKey: "k"})
		var ne *qq.NetworkError
		if !errors.As(err, &ne) || bridge.OutcomeOf(err) != bridge.CallTransient {
			t.Errorf("connection refused: %v (%v), want transient", err, bridge.OutcomeOf(err))
		}
	})
}
