package qq_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// TestQRLoginStartFailureIsNotATimeout: a QR code that cannot be fetched
// says what failed, not that the login time-out ran out.
func TestQRLoginStartFailureIsNotATimeout(t *testing.T) {
	tests := []struct {
		method qq.LoginMethod
		fail   func(e *loginEnv)
	}{
		{qq.LoginQQ, func(e *loginEnv) { e.l.FailHTTP(qqtest.PathPtqrShow, 500) }},
		{qq.LoginWeChat, func(e *loginEnv) { e.l.FailHTTP(qqtest.PathWxQRConnect, 500) }},
		{qq.LoginMobile, func(e *loginEnv) {
			e.s.Fail("CreateQRCode", qqtest.Fault{Kind: qqtest.HTTP5xx, Code: 502, Times: 1})
		}},
	}
	for _, tc := range tests {
		t.Run(string(tc.method), func(t *testing.T) {
			e := newLoginEnv(t)
			tc.fail(e)
			_, err := e.c.StartQRLogin(context.Background(), tc.method)
			if err == nil {
				t.Fatal("the login started although fetching the QR code failed")
			}
			if strings.Contains(err.Error(), "took longer") || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				t.Errorf("a failed QR fetch is reported as a time-out: %v", err)
			}
			var hs *qq.HTTPStatusError
			if !errors.As(err, &hs) || hs.Status < 500 {
				t.Errorf("the error does not carry the HTTP status: %v", err)
			}
		})
	}
}
