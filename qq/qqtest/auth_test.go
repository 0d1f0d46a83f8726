package qqtest_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

func listSessions(c *client) int {
	code, _ := c.call(qqtest.ModuleRead, "GetSessionList", sessionListParam("", 0, 20))
	return code
}

func refreshParam(a qqtest.Account, key string) map[string]any {
	return map[string]any{
		"openid": a.OpenID, "access_token": a.AccessToken, "refresh_token": a.RefreshToken, "expired_in": a.ExpiredAt,
		"musicid": a.MusicID, "musickey": key, "refresh_key": a.RefreshKey, "loginMode": 2,
	}
}

func TestCredentialChecks(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(c *client)
	}{
		{"no comm credential", func(c *client) { c.setCredential(0, "") }},
		{"wrong musickey", func(c *client) { c.setCredential(testAccount.MusicID, "Q_H_L_wrong") }},
		{"wrong musicid", func(c *client) { c.setCredential(42, testAccount.MusicKey) }},
		{"credential in cookies only", func(c *client) {
			c.cookies = true
			delete(c.comm, "qq")
			delete(c.comm, "authst")
		}},
		{"comm authst missing", func(c *client) { delete(c.comm, "authst") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c, _ := newEnv(t)
			tc.set(c)
			if code := listSessions(c); code != qqtest.CodeExpired {
				t.Errorf("code %d, want %d", code, qqtest.CodeExpired)
			}
			if len(s.Deviations()) == 0 {
				t.Error("no deviation reported")
			}
			for _, d := range s.Deviations() {
				if strings.Contains(d, testAccount.MusicKey) || strings.Contains(d, "Q_H_L_wrong") {
					t.Errorf("deviation reveals a musickey: %s", d)
				}
			}
		})
	}
}

func TestExpireAndRefresh(t *testing.T) {
	s, c, clk := newEnv(t, qqtest.WithExpiredCode(104401), qqtest.WithKeyLifetime(time.Hour))
	if code, data := c.call(qqtest.ModuleUserInfo, "GetLoginUserInfo", map[string]any{}); code != 0 || str(data["nick"]) != "me" {
		t.Fatalf("GetLoginUserInfo: code %d %v", code, data)
	}
	s.ExpireCredential()
	if code := listSessions(c); code != 104401 {
		t.Fatalf("expired: code %d, want 104401", code)
	}
	if code, _ := c.call(qqtest.ModuleUserInfo, "GetLoginUserInfo", map[string]any{}); code != 104401 {
		t.Errorf("GetLoginUserInfo on an expired key: code %d", code)
	}

	// Wrong refresh key: refused, the key stays expired.
	bad := refreshParam(testAccount, testAccount.MusicKey)
	bad["refresh_key"] = "nope"
	c.comm["tmeLoginType"] = 2
	if code, _ := c.call(qqtest.ModuleLogin, "Login", bad); code != qqtest.CodeExpired {
		t.Errorf("refresh with a wrong refresh_key: code %d, want 1000", code)
	}

	clk.Advance(time.Minute)
	code, data := c.call(qqtest.ModuleLogin, "Login", refreshParam(testAccount, testAccount.MusicKey))
	if code != 0 {
		t.Fatalf("refresh: code %d %v", code, data)
	}
	newKey := str(data["musickey"])
	if newKey == "" || newKey == testAccount.MusicKey || !strings.HasPrefix(newKey, "Q_H_L_") {
		t.Fatalf("refresh issued musickey %q", newKey)
	}
	if num(data["musickeyCreateTime"]) != int(clk.Now().Unix()) || num(data["keyExpiresIn"]) != 3600 || num(data["musicid"]) != int(testAccount.MusicID) {
		t.Errorf("refresh credential %v", data)
	}
	if got := s.Account().MusicKey; got != newKey {
		t.Errorf("Account().MusicKey = %q, want the new key", got)
	}
	// The old key no longer works; the new one does.
	if code := listSessions(c); code != qqtest.CodeExpired {
		t.Errorf("old key after refresh: code %d", code)
	}
	s.ResetDeviations() // the old key was a deviation, reported as such
	c.setCredential(testAccount.MusicID, newKey)
	if code := listSessions(c); code != 0 {
		t.Errorf("new key: code %d", code)
	}
	// The new key expires with the clock.
	clk.Advance(time.Hour)
	if code := listSessions(c); code != 104401 {
		t.Errorf("new key after its lifetime: code %d, want 104401", code)
	}
	noDeviations(t, s)

	// Other login modes are not built: a clear refusal.
	code, data = c.call(qqtest.ModuleLogin, "Login", map[string]any{"code": "x", "loginMode": 1})
	if code != qqtest.CodeLoginBadParams || !strings.Contains(str(data["msg"]), "not built") {
		t.Errorf("loginMode 1: code %d %v", code, data)
	}
}

func TestRefreshDeviations(t *testing.T) {
	s, c, _ := newEnv(t)
	p := refreshParam(testAccount, testAccount.MusicKey)
	delete(p, "refresh_token")
	delete(c.comm, "tmeLoginType")
	if code, _ := c.call(qqtest.ModuleLogin, "Login", p); code != 0 {
		t.Fatalf("refresh: code %d", code)
	}
	want := []string{"lacks param refresh_token", "comm.tmeLoginType = (missing), want 2"}
	got := strings.Join(s.Deviations(), "\n")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("deviations lack %q:\n%s", w, got)
		}
	}
}

func TestCredentialJSON(t *testing.T) {
	b, err := qqtest.Account{MusicID: 1, MusicKey: "W_X_k", RefreshKey: "rk"}.CredentialJSON()
	if err != nil {
		t.Fatal(err)
	}
	got := decode(t, b)
	for key, want := range map[string]string{"musicid": "1", "musickey": "W_X_k", "refresh_key": "rk", "loginType": "1", "str_musicid": "1"} {
		if fmt.Sprint(got[key]) != want {
			t.Errorf("%s = %v, want %s", key, got[key], want)
		}
	}
	for _, key := range []string{"openid", "refresh_token", "access_token", "expired_at", "unionid", "musickeyCreateTime", "keyExpiresIn", "first_login", "bindAccountType", "needRefreshKeyIn", "encryptUin"} {
		if _, ok := got[key]; !ok {
			t.Errorf("credential lacks %s", key)
		}
	}
}
