package qq

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A credential as the reference library exports it (Credential.model_dump_json
// by alias).
const referenceCredentialJSON = `{"openid":"oid","refresh_token":"rt","access_token":"at","expired_at":1800000000,"musicid":111,"musickey":"Q_H_L_x","unionid":"uid","str_musicid":"111","refresh_key":"rk","musickeyCreateTime":1763700000,"keyExpiresIn":259200,"first_login":0,"bindAccountType":1,"needRefreshKeyIn":86400,"encryptUin":"enc","loginType":2}`

func TestCredentialFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "exported.json")
	if err := os.WriteFile(in, []byte(referenceCredentialJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCredential(in)
	if err != nil {
		t.Fatal(err)
	}
	want := Credential{OpenID: "oid", RefreshToken: "rt", AccessToken: "at", ExpiredAt: 1800000000, MusicID: 111, MusicKey: "Q_H_L_x",
		UnionID: "uid", StrMusicID: "111", RefreshKey: "rk", MusickeyCreateTime: 1763700000, KeyExpiresIn: 259200,
		BindAccountType: 1, NeedRefreshKeyIn: 86400, EncryptUin: "enc", LoginType: 2}
	if *c != want {
		t.Fatalf("loaded %+v", *c)
	}
	out := filepath.Join(dir, "saved.json")
	if err := SaveCredential(out, c); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(out)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("saved credential mode: %v %v", st, err)
	}
	raw, _ := os.ReadFile(out)
	var a, b map[string]any
	json.Unmarshal(raw, &a)
	json.Unmarshal([]byte(referenceCredentialJSON), &b)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("saved JSON differs from the reference format:\n%s\nwant\n%s", raw, referenceCredentialJSON)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestCredentialDecodingTolerance(t *testing.T) {
	cases := []struct {
		in   string
		want Credential
	}{
		{`{"musicid":"42","musickey":"W_X_k"}`, Credential{MusicID: 42, MusicKey: "W_X_k", LoginType: 1}},
		{`{"musicid":42,"musickey":"Q_k","login_type":6}`, Credential{MusicID: 42, MusicKey: "Q_k", LoginType: 6}},
		{`{"musicid":42,"musickey":"Q_k","loginType":0}`, Credential{MusicID: 42, MusicKey: "Q_k", LoginType: 0}},
		{`{"musickey_create_time":5,"key_expires_in":"7","encrypt_uin":12}`, Credential{MusickeyCreateTime: 5, KeyExpiresIn: 7, EncryptUin: "12"}},
		{`{"musicid":null,"openid":null}`, Credential{}},
	}
	for _, tc := range cases {
		var c Credential
		if err := json.Unmarshal([]byte(tc.in), &c); err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if c != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.in, c, tc.want)
		}
	}
	var c Credential
	if err := json.Unmarshal([]byte(`{"musicid":{}}`), &c); err == nil {
		t.Error("an object as musicid decoded without error")
	}
}

func TestCredentialExpiryAndString(t *testing.T) {
	c := &Credential{MusicID: 1, MusicKey: "Q_H_L_topsecret", MusickeyCreateTime: 1000, KeyExpiresIn: 100}
	if c.Expired(time.Unix(1099, 0)) || !c.Expired(time.Unix(1100, 0)) {
		t.Error("expiry arithmetic wrong")
	}
	for _, s := range []string{c.String(), fmt.Sprintf("%v %+v %#v %v %+v %#v %s", c, c, c, *c, *c, *c, []Credential{*c})} {
		if strings.Contains(s, "topsecret") {
			t.Errorf("String leaks the musickey: %s", s)
		}
	}
	if !c.HasLogin() || (&Credential{MusicID: 1}).HasLogin() || (*Credential)(nil).HasLogin() {
		t.Error("HasLogin wrong")
	}
	if InferLoginType("") != 0 || InferLoginType("W_X1") != 1 || InferLoginType("Q_H") != 2 {
		t.Error("InferLoginType wrong")
	}
}

func TestNewLoadsCredentialFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cred.json")
	os.WriteFile(path, []byte(referenceCredentialJSON), 0o600)
	c, err := New(Options{CredentialFile: path})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Credential(); got.MusicID != 111 || got.MusicKey != "Q_H_L_x" {
		t.Errorf("credential not loaded: %v", got)
	}
	c.SetCredential(&Credential{MusicID: 222, MusicKey: "Q_new"})
	if err := c.SaveCredential(); err != nil {
		t.Fatal(err)
	}
	back, err := LoadCredential(path)
	if err != nil || back.MusicID != 222 || back.LoginType != 0 {
		t.Errorf("saved credential: %v %v", back, err)
	}
	os.WriteFile(path, []byte("garbage"), 0o600)
	if _, err := New(Options{CredentialFile: path}); err == nil {
		t.Error("a corrupt credential file was accepted")
	}
	if _, err := New(Options{CredentialFile: filepath.Join(dir, "absent.json")}); err != nil {
		t.Errorf("a missing credential file is an error: %v", err)
	}
}

func TestSaveCreatesParentDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "qq", "credential.json")
	if err := SaveCredential(path, &Credential{MusicID: 1, MusicKey: "Q_k"}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Dir(path))
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("parent directory: %v %v", st, err)
	}
	if c, err := LoadCredential(path); err != nil || c.MusicKey != "Q_k" || c.LoginType != 0 {
		t.Errorf("loaded %v, %v", c, err)
	}
}
