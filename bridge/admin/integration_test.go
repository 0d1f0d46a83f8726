package admin_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/admin"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/qqport"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// These tests run the admin controller with the real adapters (the
// discord adapter, bridge/qqport over the qq client) and the real engine,
// against discordtest and qqtest with its login double (the QQ and WeChat
// web flows, and the mobile flow through the in-process MQTT broker).

type world struct {
	t      *testing.T
	qq     *qqtest.Server
	login  *qqtest.Login
	dc     *discordtest.Server
	client *qq.Client
	engine *bridge.Engine
	ctrl   *admin.Controller
	term   *syncBuffer
	dir    string
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newWorld(t *testing.T, method string, tune func(*admin.Config)) *world {
	t.Helper()
	return newWorldAs(t, method, tune, nil)
}

// newWorldAs starts with acct logged in (nil: no credential).
func newWorldAs(t *testing.T, method string, tune func(*admin.Config), acct *qqtest.Account) *world {
	t.Helper()
	w := &world{t: t, term: &syncBuffer{}, dir: t.TempDir()}
	var qqOpts []qqtest.Option
	var cred *qq.Credential
	if acct != nil {
		qqOpts = append(qqOpts, qqtest.WithAccount(*acct))
		cred = &qq.Credential{MusicID: acct.MusicID, MusicKey: acct.MusicKey, LoginType: acct.LoginType, OpenID: acct.OpenID,
			AccessToken: acct.AccessToken, RefreshToken: acct.RefreshToken, RefreshKey: acct.RefreshKey,
			ExpiredAt: acct.ExpiredAt, MusickeyCreateTime: acct.MusicKeyCreateTime, KeyExpiresIn: acct.KeyExpiresIn}
	}
	w.qq = qqtest.New(qqOpts...)
	w.login = qqtest.AttachLogin(w.qq)
	w.login.SetLongPoll(200 * time.Millisecond)
	t.Cleanup(func() { w.login.Close(); w.qq.Close() })
	w.dc = discordtest.New(discordtest.WithHeartbeatInterval(100 * time.Millisecond))
	t.Cleanup(w.dc.Close)
	credFile := filepath.Join(w.dir, "credential.json")
	var err error
	w.client, err = qq.New(qq.Options{
		HTTPClient: w.qq.Client(), Endpoints: w.qq.Endpoints(),
		DeviceFile: filepath.Join(w.dir, "device.json"), CredentialFile: credFile, Credential: cred,
		RateLimit: rate.Inf, QIMEIBackoff: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	port := qqport.New(w.client)
	ad, err := discord.New(discord.Options{
		Token: w.dc.Token, GuildID: w.dc.GuildID, AdminChannelID: w.dc.AdminChannelID, AdminRoleID: w.dc.AdminRoleID,
		APIURL: w.dc.APIURL(), Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(w.dir, "bridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	w.engine = bridge.NewEngine(bridge.EngineConfig{
		PollInterval: 50 * time.Millisecond, IdlePollInterval: 50 * time.Millisecond, Backfill: 20,
		RetryBase: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		OnEvent: func(ev bridge.Event) { w.ctrl.HandleEvent(ev) },
	}, st, port, ad, quiet)
	login := qqport.NewLogin(w.client, port, credFile, quiet)
	login.QROptions = []qq.QROption{qq.WithPollInterval(10 * time.Millisecond)}
	cfg := admin.Config{LoginMethod: method, CredentialFile: credFile, Version: "test", Terminal: w.term, ReloadEvery: 20 * time.Millisecond}
	if tune != nil {
		tune(&cfg)
	}
	w.ctrl = admin.New(cfg, login, ad.AdminChannel(), w.engine, quiet)

	ctx, cancel := context.WithCancel(context.Background())
	if err := ad.Start(ctx, w.engine); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = w.engine.Run(ctx) }()
	go func() { defer wg.Done(); _ = w.ctrl.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		ad.Close()
		st.Close()
	})
	return w
}

func (w *world) eventually(what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out waiting for %s; admin channel:\n%s", what, w.adminDump())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// adminPosts are the bot's own messages in the admin channel (not the
// answers to commands).
func (w *world) adminPosts() []discordtest.Message {
	var out []discordtest.Message
	for _, m := range w.dc.Messages(w.dc.AdminChannelID) {
		if m.Author.ID == w.dc.BotUserID && m.Interaction == nil {
			out = append(out, m)
		}
	}
	return out
}

func (w *world) adminDump() string {
	var b strings.Builder
	for _, m := range w.adminPosts() {
		b.WriteString("- " + m.Content + "\n")
	}
	return b.String()
}

// loginMessage waits for the one login message to say want.
func (w *world) loginMessage(want string) discordtest.Message {
	w.t.Helper()
	var m discordtest.Message
	w.eventually("the login message to say "+want, func() bool {
		ps := w.adminPosts()
		if len(ps) == 0 {
			return false
		}
		m = ps[0]
		return strings.Contains(m.Content, want)
	})
	return m
}

func TestIntegrationMobileLoginLifecycle(t *testing.T) {
	w := newWorld(t, "mobile", nil)
	alice := w.qq.AddUser(qqtest.User{Nick: "Alice"})
	sid := w.qq.AddSession(alice)
	if _, err := w.qq.Deliver(sid, qqtest.Text("hello while logged out")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	qr, err := w.login.NextQR(ctx, qqtest.QRKindMobile)
	if err != nil {
		t.Fatal(err)
	}
	m := w.loginMessage("Waiting for a scan")
	if len(m.Attachments) != 1 || !strings.HasSuffix(m.Attachments[0].Filename, ".png") {
		t.Fatalf("the login message has attachments %+v, want the QR code", m.Attachments)
	}
	if !strings.Contains(m.Content, "QQ Music app") || len(m.Pinged.Roles) != 1 || m.Pinged.Roles[0] != w.dc.AdminRoleID {
		t.Errorf("login message %q pinged %+v, want the admin role once", m.Content, m.Pinged)
	}
	if m.Pinged.Everyone || len(m.Pinged.Users) > 0 {
		t.Errorf("the login message pinged %+v", m.Pinged)
	}
	if !w.ctrl.LoginPending() {
		t.Error("no login pending")
	}
	if err := qr.Scan(); err != nil {
		t.Fatal(err)
	}
	w.loginMessage("Scanned")
	if err := qr.Confirm(); err != nil {
		t.Fatal(err)
	}
	m = w.loginMessage("Logged in as **logged-in tester (2000000001)**")
	if len(m.Attachments) != 0 {
		t.Errorf("the QR code is still attached after the login: %+v", m.Attachments)
	}
	if n := len(w.adminPosts()); n != 1 {
		t.Errorf("%d admin messages, want the one login message edited in place:\n%s", n, w.adminDump())
	}
	// Relaying resumed: the message that waited reaches its channel.
	w.eventually("the waiting message relayed", func() bool {
		for _, ch := range w.dc.Channels() {
			for _, msg := range w.dc.Messages(ch.ID) {
				if msg.WebhookID != "" && msg.Content == "hello while logged out" {
					return true
				}
			}
		}
		return false
	})
	if w.ctrl.LoginPending() {
		t.Error("login still pending")
	}
	if p := w.login.Broker().Problems(); len(p) > 0 {
		t.Errorf("broker problems: %q", p)
	}
	if p := w.login.Problems(); len(p) > 0 {
		t.Errorf("login double problems: %q", p)
	}
}

func TestIntegrationQRExpiredReplacedThenRefused(t *testing.T) {
	for _, tc := range []struct {
		method string
		kind   qqtest.QRKind
		hint   string
	}{
		{"qq", qqtest.QRKindQQ, "QQ app"},
		{"wx", qqtest.QRKindWeChat, "WeChat"},
		{"mobile", qqtest.QRKindMobile, "QQ Music app"},
	} {
		t.Run(tc.method, func(t *testing.T) {
			w := newWorld(t, tc.method, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			qr, err := w.login.NextQR(ctx, tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			first := w.loginMessage("Waiting for a scan")
			if !strings.Contains(first.Content, tc.hint) || len(first.Attachments) != 1 {
				t.Fatalf("login message %q, attachments %d", first.Content, len(first.Attachments))
			}
			if err := qr.Expire(); err != nil {
				t.Fatal(err)
			}
			qr2, err := w.login.NextQR(ctx, tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			second := w.loginMessage("QR code 2 of 4")
			if len(second.Attachments) != 1 || second.Attachments[0].ID == first.Attachments[0].ID {
				t.Errorf("the expired QR code was not replaced: %+v then %+v", first.Attachments, second.Attachments)
			}
			if err := qr2.Scan(); err != nil {
				t.Fatal(err)
			}
			w.loginMessage("Scanned")
			if err := qr2.Refuse(); err != nil {
				t.Fatal(err)
			}
			m := w.loginMessage("refused on the phone")
			if len(m.Attachments) != 0 {
				t.Error("the QR code is still attached after the refusal")
			}
			if n := len(w.adminPosts()); n != 1 {
				t.Errorf("%d admin messages, want one:\n%s", n, w.adminDump())
			}
			if !w.ctrl.LoginPending() {
				t.Error("a refused login ended the pending state")
			}
			// A /login from an admin starts again, on the same flow.
			in := w.dc.InvokeCommand(w.dc.AdminUserID, "login", map[string]any{"method": tc.method})
			if resp, err := in.Response(ctx); err != nil || !resp.Ephemeral() || !strings.Contains(resp.Content, "Starting") {
				t.Fatalf("/login answer %+v, %v", resp, err)
			}
			qr3, err := w.login.NextQR(ctx, tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			if err := qr3.Confirm(); err != nil {
				t.Fatal(err)
			}
			w.eventually("the new login message", func() bool {
				ps := w.adminPosts()
				return len(ps) == 2 && strings.Contains(ps[1].Content, "Logged in as")
			})
			w.eventually("the pending login to end", func() bool { return !w.ctrl.LoginPending() })
		})
	}
}

func TestIntegrationCommandsAreForAdminsOnly(t *testing.T) {
	w := newWorld(t, "mobile", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w.eventually("the commands", func() bool { return len(w.dc.Commands()) == len(admin.Commands()) })
	in := w.dc.InvokeCommand(w.dc.PlainUserID, "status", nil)
	resp, err := in.Response(ctx)
	if err != nil || !resp.Ephemeral() || !strings.Contains(resp.Content, "Only the bridge's admins") {
		t.Fatalf("a member without the role got %+v, %v", resp, err)
	}
	in = w.dc.InvokeCommand(w.dc.AdminUserID, "status", nil)
	resp, err = in.Response(ctx)
	if err != nil || !resp.Ephemeral() || !strings.Contains(resp.Content, "Login: ⏳ a login is needed") {
		t.Fatalf("/status %+v, %v", resp, err)
	}
	in = w.dc.InvokeCommand(w.dc.AdminUserID, "pause", nil)
	if resp, err := in.Response(ctx); err != nil || resp.Ephemeral() || !strings.Contains(resp.Content, "Relaying paused by <@"+w.dc.AdminUserID+">") {
		t.Fatalf("/pause %+v, %v", resp, err)
	}
	if st, _ := w.engine.Status(ctx); !st.Paused {
		t.Error("/pause did not pause the engine")
	}
}

func TestIntegrationPhoneLogin(t *testing.T) {
	w := newWorld(t, "mobile", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := w.login.NextQR(ctx, qqtest.QRKindMobile); err != nil {
		t.Fatal(err)
	}
	w.loginMessage("Waiting for a scan")
	w.eventually("the commands", func() bool { return len(w.dc.Commands()) == len(admin.Commands()) })
	in := w.dc.InvokeCommand(w.dc.AdminUserID, "login-phone", map[string]any{"number": "13800138000"})
	resp, err := in.Response(ctx)
	if err != nil || resp.Type != 9 {
		t.Fatalf("/login-phone answer %+v, %v", resp, err)
	}
	code, ok := w.login.PhoneCode("13800138000")
	if !ok {
		t.Fatal("no code was texted")
	}
	sub := w.dc.SubmitModal(w.dc.AdminUserID, resp.CustomID, map[string]string{"code": code})
	if _, err := sub.Response(ctx); err != nil {
		t.Fatal(err)
	}
	w.eventually("the answer", func() bool {
		orig, ok := sub.Original()
		return ok && strings.Contains(orig.Content, "Logged in as")
	})
	m := w.loginMessage("Logged in with a phone code")
	if len(m.Attachments) != 0 {
		t.Error("the QR code is still attached")
	}
	w.eventually("the pending login to end", func() bool { return !w.ctrl.LoginPending() })
}

func TestIntegrationRefreshBeforeExpiry(t *testing.T) {
	// Five minutes from expiry: well inside the refresh lead.
	acct := qqtest.Account{
		MusicID: 30003, MusicKey: "Q_H_L_old", LoginType: 2, Nick: "Owner",
		OpenID: "oid", AccessToken: "at", RefreshToken: "rt", RefreshKey: "rk", ExpiredAt: 1900000000,
		MusicKeyCreateTime: time.Now().Unix() - 259200 + 300, KeyExpiresIn: 259200,
	}
	w := newWorldAs(t, "mobile", nil, &acct)
	w.eventually("the credential to be refreshed", func() bool {
		return w.qq.Account().MusicKey != "Q_H_L_old" && w.client.Credential().MusicKey == w.qq.Account().MusicKey
	})
	var saved *qq.Credential
	w.eventually("the refreshed credential saved", func() bool {
		var err error
		saved, err = qq.LoadCredential(filepath.Join(w.dir, "credential.json"))
		return err == nil && saved.MusicKey == w.qq.Account().MusicKey
	})
	if !saved.ExpiresAt().After(time.Now().Add(time.Hour)) {
		t.Errorf("the refreshed credential expires %v", saved.ExpiresAt())
	}
	time.Sleep(100 * time.Millisecond)
	if w.ctrl.LoginPending() || len(w.adminPosts()) != 0 {
		t.Errorf("a refresh that worked bothered the admins:\n%s", w.adminDump())
	}
}

func TestIntegrationExpiredCredentialAsksForLogin(t *testing.T) {
	// Expired, and the server refuses to renew it: the QR code is posted.
	acct := qqtest.Account{
		MusicID: 30003, MusicKey: "Q_H_L_old", LoginType: 2, Nick: "Owner",
		OpenID: "oid", AccessToken: "at", RefreshToken: "rt", RefreshKey: "rk", ExpiredAt: 1900000000,
		MusicKeyCreateTime: time.Now().Unix() - 259200 - 60, KeyExpiresIn: 259200,
	}
	w := newWorldAs(t, "qq", nil, &acct)
	w.qq.Fail("Login", qqtest.Fault{Kind: qqtest.APIError, Code: 1000})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	qr, err := w.login.NextQR(ctx, qqtest.QRKindQQ)
	if err != nil {
		t.Fatal(err)
	}
	w.loginMessage("Waiting for a scan")
	if !w.ctrl.LoginPending() {
		t.Error("no login pending")
	}
	if err := qr.Confirm(); err != nil {
		t.Fatal(err)
	}
	w.loginMessage("Logged in as")
	w.eventually("the pending login to end", func() bool { return !w.ctrl.LoginPending() })
}

func TestIntegrationRefusedCredentialFileIsNotAdopted(t *testing.T) {
	acct := qqtest.Account{
		MusicID: 30003, MusicKey: "Q_H_L_current", LoginType: 2, Nick: "Owner",
		OpenID: "oid", AccessToken: "at", RefreshToken: "rt", RefreshKey: "rk", ExpiredAt: 1900000000,
		MusicKeyCreateTime: time.Now().Unix(), KeyExpiresIn: 259200,
	}
	w := newWorldAs(t, "mobile", nil, &acct)
	// An old backup put back by hand: QQ Music refuses its key and will
	// not renew it.
	w.qq.Fail("Login", qqtest.Fault{Kind: qqtest.APIError, Code: 1000})
	old := &qq.Credential{MusicID: 30003, MusicKey: "Q_H_L_from_an_old_backup", LoginType: 2, RefreshKey: "stale",
		MusickeyCreateTime: time.Now().Unix() - 400000, KeyExpiresIn: 259200}
	path := filepath.Join(w.dir, "credential.json")
	if err := qq.SaveCredential(path, old); err != nil {
		t.Fatal(err)
	}
	w.eventually("the file to be put back", func() bool {
		c, err := qq.LoadCredential(path)
		return err == nil && c.MusicKey == "Q_H_L_current"
	})
	if got := w.client.Credential().MusicKey; got != "Q_H_L_current" {
		t.Errorf("the login in use became %q", got)
	}
	time.Sleep(100 * time.Millisecond)
	if w.ctrl.LoginPending() || len(w.adminPosts()) != 0 {
		t.Errorf("a refused file disturbed a working login:\n%s", w.adminDump())
	}
}
