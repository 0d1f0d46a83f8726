package qqport_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/qqport"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
)

func TestSetAsideDamagedCredential(t *testing.T) {
	now := time.Date(2026, 12, 3, 4, 5, 6, 0, time.UTC)
	const good = `{"musicid": 123, "musickey": "Q_H_L_secret", "loginType": 2}`
	tests := []struct {
		name    string
		content *string // nil: no file
		damaged bool
		because string // in the sentence
	}{
		{"missing", nil, false, ""},
		{"good", ptr(good), false, ""},
		{"good with musicid as a string", ptr(`{"musicid": "123", "musickey": "Q_k"}`), false, ""},
		{"no login fields at all", ptr(`{}`), false, ""},
		{"empty", ptr(""), true, "the file is empty"},
		{"only spaces", ptr(" \n"), true, "the file is empty"},
		{"truncated", ptr(good[:20]), true, "unexpected end of JSON input"},
		{"not JSON", ptr("garbage"), true, "invalid character"},
		{"musicid of the wrong type", ptr(`{"musicid": "abc", "musickey": "Q_k"}`), true, `musicid is "abc", not a number`},
		{"musicid a boolean", ptr(`{"musicid": true, "musickey": "Q_k"}`), true, "musicid is true, not a number"},
		{"musickey a number", ptr(`{"musicid": 1, "musickey": 12345}`), true, "musickey is not a string"},
		{"an array", ptr(`[1,2]`), true, "cannot unmarshal array"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "credential.json")
			if tc.content != nil {
				if err := os.WriteFile(path, []byte(*tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			d, err := qqport.SetAsideDamaged(path, now)
			if err != nil {
				t.Fatalf("SetAsideDamaged: %v", err)
			}
			if !tc.damaged {
				if d != nil {
					t.Fatalf("a readable file was set aside: %v", d)
				}
				if tc.content != nil {
					if _, err := os.Stat(path); err != nil {
						t.Errorf("a readable file is gone: %v", err)
					}
				}
				return
			}
			if d == nil {
				t.Fatal("a damaged file was not set aside")
			}
			wantAside := path + ".broken-20261203T040506Z"
			if d.Aside != wantAside {
				t.Errorf("set aside as %s, want %s", d.Aside, wantAside)
			}
			if raw, err := os.ReadFile(wantAside); err != nil || string(raw) != *tc.content {
				t.Errorf("the damaged file was not kept as it was: %q %v", raw, err)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the damaged file is still in place: %v", err)
			}
			msg := d.Error()
			for _, want := range []string{path, wantAside, tc.because, "log in again"} {
				if !strings.Contains(msg, want) {
					t.Errorf("the sentence lacks %q: %s", want, msg)
				}
			}
			if strings.Count(msg, path) != 2 || strings.Contains(msg, "Q_k") || strings.Contains(msg, "secret") {
				t.Errorf("the sentence repeats itself or shows a secret: %s", msg)
			}
			if !errors.Is(d, qq.ErrCredentialDamaged) {
				t.Errorf("%v does not match qq.ErrCredentialDamaged", d)
			}
			// The client now starts with no login instead of failing.
			c, err := qq.New(qq.Options{CredentialFile: path})
			if err != nil || c.Credential().HasLogin() {
				t.Errorf("the client does not start without a login: %v", err)
			}
		})
	}
}

func TestSetAsideDamagedTwiceInOneSecond(t *testing.T) {
	now := time.Date(2026, 12, 3, 4, 5, 6, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "credential.json")
	var asides []string
	for range 2 {
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		d, err := qqport.SetAsideDamaged(path, now)
		if err != nil || d == nil {
			t.Fatalf("not set aside: %v %v", d, err)
		}
		asides = append(asides, d.Aside)
	}
	if asides[0] == asides[1] {
		t.Errorf("the second damaged file overwrote the first: %v", asides)
	}
}

func ptr(s string) *string { return &s }
