package admin

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

func TestCommandsAreDeclared(t *testing.T) {
	h := newHarness(t, true, nil)
	h.ch.mu.Lock()
	cmds := h.ch.cmds
	h.ch.mu.Unlock()
	var names []string
	for _, c := range cmds {
		names = append(names, c.Name)
		if c.Description == "" {
			t.Errorf("/%s has no description", c.Name)
		}
	}
	want := "login login-phone logout status sessions pause resume resync outbox retry skip archive open"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("commands %q, want %q", got, want)
	}
}

func TestStatusCommand(t *testing.T) {
	h := newHarnessWith(t, true, func(c *Config) { c.Now = func() time.Time { return time.Unix(1700003600, 0) } }, func(h *harness) { h.qq.nick = "Owner" })
	h.eng.status = bridge.Status{SessionsBridged: 7, OutboxToDiscord: 2, OutboxToQQ: 1,
		LastPoll: time.Unix(1700003590, 0), LastError: "GetSessionList: HTTP 502", LastErrorAt: time.Unix(1700003000, 0), Errors: 4}
	var r *fakeRequest
	h.eventually("the nick", func() bool {
		r = h.ch.invoke(t, cmd("status", nil))
		return strings.Contains(r.answer(), "Owner (10001)")
	})
	got := r.answer()
	for _, want := range []string{
		"Login: ✅ Owner (10001), expires <t:2000000000:R>",
		"Relaying: ▶️ running",
		"Sessions bridged: 7",
		"Outbox: 2 to Discord, 1 to QQ Music",
		"Last successful poll: <t:1700003590:R>",
		"Last error (<t:1700003000:R>, 4 in all): GetSessionList: HTTP 502",
		"version v-test",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("/status lacks %q:\n%s", want, got)
		}
	}
	if !r.ephemeral[0] {
		t.Error("/status is not ephemeral")
	}
}

func TestStatusShowsParked(t *testing.T) {
	h := newHarness(t, true, nil)
	h.eng.status = bridge.Status{OutboxToDiscord: 1, Parked: 2}
	if got := h.ch.invoke(t, cmd("status", nil)).answer(); !strings.Contains(got, "Outbox: 1 to Discord, 0 to QQ Music; ⛔ 2 parked (`/outbox`)") {
		t.Errorf("/status:\n%s", got)
	}
}

func TestStatusShowsPendingAndPaused(t *testing.T) {
	h := newHarness(t, false, nil)
	h.qq.nextLogin(t)
	h.ch.invoke(t, cmd("pause", nil))
	got := h.ch.invoke(t, cmd("status", nil)).answer()
	for _, want := range []string{"Login: ⏳ a login is needed (the QR code is in the admin channel)", "Relaying: ⏸️ paused", "Last successful poll: never", "Last error: none"} {
		if !strings.Contains(got, want) {
			t.Errorf("/status lacks %q:\n%s", want, got)
		}
	}
}

func TestPauseAndResume(t *testing.T) {
	h := newHarness(t, true, nil)
	r := h.ch.invoke(t, cmd("pause", nil))
	if !h.eng.isPaused() || !strings.Contains(r.answer(), "paused by <@42>") || r.ephemeral[0] {
		t.Fatalf("pause: paused %v, answer %q", h.eng.isPaused(), r.answer())
	}
	r = h.ch.invoke(t, cmd("resume", nil))
	if h.eng.isPaused() || !strings.Contains(r.answer(), "resumed by <@42>") {
		t.Fatalf("resume: paused %v, answer %q", h.eng.isPaused(), r.answer())
	}
}

func TestSessionsCommandPaginates(t *testing.T) {
	h := newHarness(t, true, func(c *Config) { c.SessionsPerPage = 2 })
	for i := range 5 {
		h.eng.sessions = append(h.eng.sessions, bridge.BridgedSession{
			ID: fmt.Sprint("s", i), ChannelID: fmt.Sprint(900 + i), SortTime: int64(1700000000 - i),
			Peer: bridge.Peer{UIN: fmt.Sprint(100 + i), Nick: fmt.Sprint("Nick", i)},
		})
	}
	got := h.ch.invoke(t, cmd("sessions", nil)).answer()
	for _, want := range []string{"(5; page 1 of 3, newest first)", "1. <#900> · Nick0 (100) · active <t:1700000000:R>", "2. <#901>", "`/sessions page:2`"} {
		if !strings.Contains(got, want) {
			t.Errorf("page 1 lacks %q:\n%s", want, got)
		}
	}
	got = h.ch.invoke(t, cmd("sessions", map[string]string{"page": "3"})).answer()
	if !strings.Contains(got, "5. <#904> · Nick4") || strings.Contains(got, "<#903>") || strings.Contains(got, "page:4") {
		t.Errorf("page 3:\n%s", got)
	}
	got = h.ch.invoke(t, cmd("sessions", map[string]string{"page": "99"})).answer()
	if !strings.Contains(got, "page 3 of 3") {
		t.Errorf("a page past the end is not the last:\n%s", got)
	}
	h.eng.sessions = nil
	if got := h.ch.invoke(t, cmd("sessions", nil)).answer(); !strings.Contains(got, "No session is bridged yet") {
		t.Errorf("empty list: %q", got)
	}
}

func TestResyncCommand(t *testing.T) {
	h := newHarness(t, true, nil)
	h.eng.sessions = []bridge.BridgedSession{{ID: "sess-1", ChannelID: "555"}}
	h.eng.resyncN = 3
	r := h.ch.invoke(t, cmd("resync", map[string]string{"session": "555"}))
	if !r.deferred || !strings.Contains(r.answer(), "3 missing message(s) of <#555>") {
		t.Fatalf("resync answer %q (deferred %v)", r.answer(), r.deferred)
	}
	if len(h.eng.resynced) != 1 || h.eng.resynced[0] != "sess-1" {
		t.Errorf("resynced %v", h.eng.resynced)
	}
	h.eng.resyncN = 0
	if got := h.ch.invoke(t, cmd("resync", map[string]string{"session": "555"})).answer(); !strings.Contains(got, "no message was missing") {
		t.Errorf("complete session: %q", got)
	}
	h.eng.resyncE = fmt.Errorf("resync: %w", bridge.ErrLoginRequired)
	if got := h.ch.invoke(t, cmd("resync", map[string]string{"session": "555"})).answer(); !strings.Contains(got, "needs a login first") {
		t.Errorf("login needed: %q", got)
	}
	if got := h.ch.invoke(t, cmd("resync", map[string]string{"session": "777"})).answer(); !strings.Contains(got, "<#777> is not the channel of a bridged QQ Music session") {
		t.Errorf("unknown channel: %q", got)
	}
}

func TestLoginCommandStartsChosenMethodWithoutPing(t *testing.T) {
	h := newHarness(t, true, nil)
	r := h.ch.invoke(t, cmd("login", map[string]string{"method": "wx"}))
	if !strings.Contains(r.answer(), "Starting a WeChat QR login") || !r.ephemeral[0] {
		t.Errorf("answer %q", r.answer())
	}
	l := h.qq.nextLogin(t)
	if l.method != "wx" {
		t.Fatalf("method %q", l.method)
	}
	l.send(t, LoginEvent{State: LoginWaiting, Image: qrPNG(t, "x")})
	m := h.msg(0, "Scan it with **WeChat**")
	if m.Mention {
		t.Error("a login the admin asked for pings the admins")
	}
	if !strings.Contains(m.Content, "requested by <@42>") {
		t.Errorf("message %q", m.Content)
	}
	// A second /login replaces the first.
	h.ch.invoke(t, cmd("login", nil))
	h.msg(0, "Cancelled: a new login was started")
	l2 := h.qq.nextLogin(t)
	if l2.method != "mobile" {
		t.Errorf("default method %q", l2.method)
	}
	if got := h.ch.invoke(t, cmd("login", map[string]string{"method": "fax"})).answer(); !strings.Contains(got, "Unknown login method") {
		t.Errorf("bad method: %q", got)
	}
}

func TestLogoutPausesAndStaysLoggedOut(t *testing.T) {
	h := newHarness(t, true, nil)
	r := h.ch.invoke(t, cmd("logout", nil))
	if !strings.Contains(r.answer(), "Logged out by <@42>") || !h.eng.isPaused() {
		t.Fatalf("logout: %q, paused %v", r.answer(), h.eng.isPaused())
	}
	if _, ok := h.qq.Account(); ok || h.qq.logouts != 1 {
		t.Error("the credential was not forgotten")
	}
	if !h.c.LoginPending() {
		t.Error("logged out but not pending")
	}
	// The engine notices the missing credential: no QR is posted unasked.
	h.c.HandleEvent(bridge.Event{Kind: bridge.EventLoginNeeded})
	h.qq.noLogin(t, 50*time.Millisecond)
	if got := h.ch.invoke(t, cmd("status", nil)).answer(); !strings.Contains(got, "logged out") {
		t.Errorf("status after logout:\n%s", got)
	}
	// /login brings it back and resumes relaying.
	h.ch.invoke(t, cmd("login", nil))
	l := h.qq.nextLogin(t)
	l.send(t, LoginEvent{State: LoginWaiting, Image: qrPNG(t, "x")})
	l.send(t, LoginEvent{State: LoginDone, Account: Account{UIN: "10001"}})
	h.msg(0, "Logged in as **10001**")
	h.eventually("relaying to resume", func() bool { return !h.eng.isPaused() && h.eng.renewals() == 1 })
}

func TestPhoneLoginCommand(t *testing.T) {
	h := newHarness(t, false, nil)
	qr := h.qq.nextLogin(t)
	qr.send(t, LoginEvent{State: LoginWaiting, Image: qrPNG(t, "x")})
	h.msg(0, "Waiting")

	r := h.ch.invoke(t, cmd("login-phone", map[string]string{"number": "138 0013 8000"}))
	if r.modal != "login-phone-code:86:13800138000" || !strings.Contains(r.modalIn.Label, "+86 •••••••8000") {
		t.Fatalf("modal %q %+v (answer %q)", r.modal, r.modalIn, r.answer())
	}
	if len(h.qq.codes) != 1 || h.qq.codes[0] != "86/13800138000" {
		t.Errorf("codes asked %v", h.qq.codes)
	}
	sub := &fakeRequest{modalID: r.modal, values: map[string]string{"code": " 123456 "}, user: "42"}
	h.ch.invoke(t, sub)
	if !sub.deferred || !strings.Contains(sub.answer(), "Logged in as **Phoney (10002)**") {
		t.Fatalf("submit answer %q", sub.answer())
	}
	h.msg(0, "Logged in with a phone code as **Phoney (10002)**")
	h.eventually("relaying to resume", func() bool { return h.eng.renewals() == 1 })
	if h.c.LoginPending() {
		t.Error("still pending")
	}
}

func TestPhoneLoginOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts map[string]string
		set  func(q *fakeQQ)
		want string
	}{
		{"captcha", map[string]string{"number": "13800138000"}, func(q *fakeQQ) {
			q.phone = PhoneCode{Status: PhoneCodeCaptcha, SecurityURL: "https://t.captcha.qq.com/x"}
		}, "security check first. Open https://t.captcha.qq.com/x"},
		{"too frequent", map[string]string{"number": "13800138000"}, func(q *fakeQQ) { q.phone = PhoneCode{Status: PhoneCodeTooFrequent} }, "too often"},
		{"error", map[string]string{"number": "13800138000"}, func(q *fakeQQ) { q.phoneErr = errors.New("SendPhoneAuthCode: HTTP 502") }, "did not send a code: SendPhoneAuthCode: HTTP 502"},
		{"bad number", map[string]string{"number": "12"}, nil, "does not look like a phone number"},
		{"slow", map[string]string{"number": "13800138000"}, func(q *fakeQQ) { q.phoneDelay = 3 * time.Second }, "did not answer in time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, true, nil)
			if tc.set != nil {
				h.qq.set(tc.set)
			}
			r := h.ch.invoke(t, cmd("login-phone", tc.opts))
			if r.modal != "" || !strings.Contains(r.answer(), tc.want) || !r.ephemeral[0] {
				t.Errorf("answer %q (modal %q), want %q", r.answer(), r.modal, tc.want)
			}
		})
	}
	t.Run("code given", func(t *testing.T) {
		h := newHarness(t, false, nil)
		r := h.ch.invoke(t, cmd("login-phone", map[string]string{"number": "13800138000", "code": "654321"}))
		if r.modal != "" || len(h.qq.codes) != 0 || !strings.Contains(r.answer(), "Logged in as **Phoney (10002)**") {
			t.Errorf("answer %q, modal %q, codes sent %v", r.answer(), r.modal, h.qq.codes)
		}
	})
	t.Run("wrong code", func(t *testing.T) {
		h := newHarness(t, true, nil)
		h.qq.set(func(q *fakeQQ) { q.loginErr = errors.New("qq: wrong verification code; check it and try again") })
		sub := &fakeRequest{modalID: "login-phone-code:86:13800138000", values: map[string]string{"code": "1"}, user: "42"}
		h.ch.invoke(t, sub)
		if !strings.Contains(sub.answer(), "The phone login failed: qq: wrong verification code") {
			t.Errorf("answer %q", sub.answer())
		}
	})
	t.Run("unknown form", func(t *testing.T) {
		h := newHarness(t, true, nil)
		sub := &fakeRequest{modalID: "something-else", user: "42"}
		if got := h.ch.invoke(t, sub).answer(); !strings.Contains(got, "not known") {
			t.Errorf("answer %q", got)
		}
	})
}

// /logout says so when QQ Music did not confirm the logout (the credential
// is forgotten anyway), and when the credential file could not be deleted.
func TestLogoutSaysWhatFailed(t *testing.T) {
	server := fmt.Errorf("%w: qq: logging out of QQ Music: network down", ErrServerLogout)
	file := errors.New("deleting the credential file: permission denied")
	for _, tc := range []struct {
		name      string
		err       error
		want, not []string
	}{
		{"server refused", server, []string{"QQ Music did not confirm the logout", "network down"}, []string{"could not be deleted"}},
		{"file kept", file, []string{"could not be deleted", "permission denied"}, []string{"did not confirm"}},
		{"both", errors.Join(file, server), []string{"did not confirm the logout", "could not be deleted"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessWith(t, true, nil, func(h *harness) { h.qq.logoutErr = tc.err })
			h.ch.invoke(t, cmd("logout", nil))
			h.eventually("the logout warnings", func() bool {
				all := ""
				for _, m := range h.ch.snapshot() {
					all += m.Content + "\n"
				}
				for _, w := range tc.want {
					if !strings.Contains(all, w) {
						return false
					}
				}
				return true
			})
			for _, m := range h.ch.snapshot() {
				for _, n := range tc.not {
					if strings.Contains(m.Content, n) {
						t.Errorf("message %q says %q", m.Content, n)
					}
				}
			}
		})
	}
}
