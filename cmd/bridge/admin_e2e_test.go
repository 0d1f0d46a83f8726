package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// adminPosts are the bridge's own messages in the admin channel.
func (e *e2e) adminPosts() []discordtest.Message {
	var out []discordtest.Message
	for _, m := range e.dc.Messages(e.dc.AdminChannelID) {
		if m.Author.ID == e.dc.BotUserID && m.Interaction == nil {
			out = append(out, m)
		}
	}
	return out
}

// TestE2EExpiryMidStreamLoginInAdminChannel: the login expires (and QQ
// Music refuses to renew it) while messages flow both ways; the login QR
// code appears in the admin channel, the test completes the login there,
// and every message arrives exactly once, in order.
func TestE2EExpiryMidStreamLoginInAdminChannel(t *testing.T) {
	e := newE2E(t)
	login := qqtest.AttachLogin(e.qq)
	t.Cleanup(login.Close)
	// The same account logs in again (only its musickey changes).
	again := e.account
	again.MusicKey = ""
	login.SetAccount(again)
	raw, err := os.ReadFile(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.cfgPath, []byte(strings.Replace(string(raw), `login_method = "mobile"`, `login_method = "qq"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}

	const sessions, perPhase = 3, 4
	var sids []string
	for i := range sessions {
		sids = append(sids, e.qq.AddSession(e.qq.AddUser(qqtest.User{Nick: fmt.Sprint("Peer", i)})))
	}
	deliver := func(phase string) {
		for i, sid := range sids {
			for n := range perPhase {
				if _, err := e.qq.Deliver(sid, qqtest.Text(fmt.Sprintf("%s s%d m%d", phase, i, n))); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	deliver("before")
	e.start()
	channels := make([]string, sessions)
	for i, sid := range sids {
		e.eventually("session channel", 30*time.Second, func() bool {
			ch, ok := e.sessionChannel(sid)
			channels[i] = ch.ID
			return ok
		})
	}
	e.eventually("the first messages", 30*time.Second, func() bool {
		for _, ch := range channels {
			if len(e.webhookContents(ch)) < perPhase {
				return false
			}
		}
		return true
	})

	// The login dies and cannot be renewed; traffic goes on both ways.
	e.qq.Fail("Login", qqtest.Fault{Kind: qqtest.APIError, Code: 1000})
	e.qq.ExpireCredential()
	deliver("during")
	for i, ch := range channels {
		e.dc.Type(ch, e.dc.AdminUserID, fmt.Sprintf("reply %d while expired", i))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	qr, err := login.NextQR(ctx, qqtest.QRKindQQ)
	if err != nil {
		t.Fatalf("no QR login was started: %v\n%s", err, e.logs.String())
	}
	e.eventually("the QR code in the admin channel", 30*time.Second, func() bool {
		ps := e.adminPosts()
		return len(ps) == 1 && len(ps[0].Attachments) == 1 && strings.Contains(ps[0].Content, "Waiting for a scan")
	})
	if code, body := e.get("/healthz"); code != 503 || !strings.Contains(body, "login pending") {
		t.Errorf("/healthz while the login is pending: %d %s", code, body)
	}
	if n := len(e.qq.Sent()); n != 0 {
		t.Errorf("%d replies reached QQ with an expired login", n)
	}
	e.qq.ClearFaults()
	if err := qr.Scan(); err != nil {
		t.Fatal(err)
	}
	if err := qr.Confirm(); err != nil {
		t.Fatal(err)
	}
	e.eventually("the login message to say logged in", 30*time.Second, func() bool {
		ps := e.adminPosts()
		return len(ps) == 1 && len(ps[0].Attachments) == 0 && strings.Contains(ps[0].Content, "Logged in as")
	})
	deliver("after")

	e.eventually("every message relayed", 60*time.Second, func() bool {
		for _, ch := range channels {
			if len(e.webhookContents(ch)) < 3*perPhase {
				return false
			}
		}
		return len(e.qq.Sent()) >= sessions
	})
	time.Sleep(time.Second) // anything doubled would show up by now
	for i, ch := range channels {
		got := e.webhookContents(ch)
		var want []string
		for _, phase := range []string{"before", "during", "after"} {
			for n := range perPhase {
				want = append(want, fmt.Sprintf("%s s%d m%d", phase, i, n))
			}
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("session %d shows\n%q\nwant\n%q", i, got, want)
		}
	}
	sent := e.qq.Sent()
	if len(sent) != sessions {
		t.Errorf("QQ received %d replies, want %d (each once)", len(sent), sessions)
	}
	for _, s := range sent {
		if !strings.HasSuffix(s.Meta.Content, "while expired") {
			t.Errorf("unexpected reply %q", s.Meta.Content)
		}
	}
	if code, body := e.get("/healthz"); code != 200 {
		t.Errorf("/healthz after the login: %d %s", code, body)
	}
	for _, secret := range []string{e.account.MusicKey, e.qq.Account().MusicKey, e.dc.Token} {
		if strings.Contains(e.logs.String(), secret) {
			t.Error("a secret appears in the logs")
		}
	}
}

// TestE2ELoginQROnTerminalWithoutDiscord: with no credential and Discord
// unreachable, the login QR code goes to standard output and to
// login-qr.png beside the credential file, the log says why (and never
// that it is in the admin channel), /healthz does not claim a login, and
// the file is removed after the login.
func TestE2ELoginQROnTerminalWithoutDiscord(t *testing.T) {
	e, login, credFile := loginEnv(t)
	raw, err := os.ReadFile(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + freeAddr(t) + "/api/v10"
	cfg := strings.Replace(string(raw), fmt.Sprintf("api_url = %q", e.dc.APIURL()), fmt.Sprintf("api_url = %q", dead), 1)
	if err := os.WriteFile(e.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e.start()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	qr, err := login.NextQR(ctx, qqtest.QRKindMobile)
	if err != nil {
		t.Fatalf("no QR login was started: %v\n%s", err, e.logs.String())
	}
	png := filepath.Join(filepath.Dir(credFile), "login-qr.png")
	e.eventually("the QR code on the terminal", 30*time.Second, func() bool {
		_, err := os.Stat(png)
		return err == nil && strings.Contains(e.logs.String(), "▀")
	})
	out := e.logs.String()
	for _, want := range []string{"Discord cannot be reached, so the login QR code is drawn on this terminal", "The QR code is also saved as " + png} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "posted in the admin channel") {
		t.Errorf("the log claims the QR code is in the admin channel:\n%s", out)
	}
	code, body := e.get("/healthz")
	if code != 503 || strings.Contains(body, `"logged in"`) || !strings.Contains(body, "the one on the bridge's terminal") {
		t.Errorf("/healthz with no login and no Discord: %d %s", code, body)
	}
	if err := qr.Confirm(); err != nil {
		t.Fatal(err)
	}
	e.eventually("the login", 30*time.Second, func() bool { return strings.Contains(e.logs.String(), "QQ Music login: ✅ Logged in as") })
	if _, err := os.Stat(credFile); err != nil {
		t.Errorf("no credential file after the login: %v", err)
	}
	if _, err := os.Stat(png); !os.IsNotExist(err) {
		t.Errorf("login-qr.png is still there after the login: %v", err)
	}
}
