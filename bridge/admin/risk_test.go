package admin

import (
	"strings"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// The engine's risk-control notice and its end reach the admin channel,
// in order, with the verification page as a link.
func TestRiskControlNoticesArePosted(t *testing.T) {
	const page = "https://y.qq.com/m/client/safety/feedback.html?code=2001"
	h := newHarness(t, true, nil)
	h.c.HandleEvent(bridge.Event{Kind: bridge.EventRiskControl, Detail: page})
	h.c.HandleEvent(bridge.Event{Kind: bridge.EventRiskControlCleared, Detail: "3m0s"})
	h.eventually("both notices", func() bool { return len(notices(h)) == 2 })
	got := notices(h)
	if !strings.Contains(got[0], "QQ Music asks for a verification: open this link on the phone that is logged in: <"+page+">") {
		t.Errorf("first notice %q", got[0])
	}
	if !strings.Contains(got[1], "accepts the bridge's calls again") || !strings.Contains(got[1], "3m0s") {
		t.Errorf("second notice %q", got[1])
	}
	// The notices are not mistaken for a login problem.
	if h.c.LoginPending() {
		t.Error("a risk notice made a login pending")
	}
}

// Only a web address from QQ's answer is posted as a link.
func TestRiskControlNoticeLinksOnlyWebPages(t *testing.T) {
	for _, tc := range []struct{ detail, want, not string }{
		{"", "named no verification page", "open this link"},
		{"javascript:alert(1)", "named no verification page", "javascript"},
		{"http://", "named no verification page", "open this link"},
		{"https://accounts.qq.com/safe/verify?t=1", "<https://accounts.qq.com/safe/verify?t=1>", ""},
	} {
		got := noticeText(bridge.Event{Kind: bridge.EventRiskControl, Detail: tc.detail})
		if !strings.Contains(got, tc.want) || (tc.not != "" && strings.Contains(got, tc.not)) {
			t.Errorf("%q: notice %q, want %q and not %q", tc.detail, got, tc.want, tc.not)
		}
	}
}

func notices(h *harness) []string {
	var out []string
	for _, m := range h.ch.snapshot() {
		if strings.Contains(m.Content, "QQ Music") && (strings.Contains(m.Content, "verification") || strings.Contains(m.Content, "risk control")) {
			out = append(out, m.Content)
		}
	}
	return out
}
