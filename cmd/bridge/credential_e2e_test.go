package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// brokenAside returns the files set aside beside credFile.
func brokenAside(t *testing.T, credFile string) []string {
	t.Helper()
	m, err := filepath.Glob(credFile + ".broken-*")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestE2EDamagedCredentialDoesNotLockOut: a truncated credential file does
// not stop `run` (a Docker container would restart-loop): it is set aside,
// the log says so in one sentence, and the login QR is asked for.
func TestE2EDamagedCredentialDoesNotLockOut(t *testing.T) {
	e, login, credFile := loginEnv(t)
	if err := os.WriteFile(credFile, []byte(`{"musicid": 20002, "musickey": "Q_H_L_e2e-sec`), 0o600); err != nil {
		t.Fatal(err)
	}
	e.start()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	qr, err := login.NextQR(ctx, qqtest.QRKindMobile)
	if err != nil {
		t.Fatalf("no QR login was asked for: %v\n%s", err, e.logs.String())
	}
	aside := brokenAside(t, credFile)
	if len(aside) != 1 {
		t.Fatalf("set aside: %v, want one file", aside)
	}
	out := e.logs.String()
	if want := "could not be read (unexpected end of JSON input), so it was set aside as " + aside[0] + "; log in again"; !strings.Contains(out, want) {
		t.Errorf("the log lacks %q:\n%s", want, out)
	}
	if strings.Contains(out, "e2e-sec") {
		t.Error("the log shows part of the musickey")
	}
	if err := qr.Confirm(); err != nil {
		t.Fatal(err)
	}
	e.eventually("the login", 30*time.Second, func() bool { return strings.Contains(e.logs.String(), "admin: logged in to QQ Music") })
	if _, err := os.Stat(credFile); err != nil {
		t.Errorf("no new credential file after the login: %v", err)
	}
}

// TestLoginReplacesDamagedCredential: `bridge login` with an empty
// credential file sets it aside, says so, and logs in.
func TestLoginReplacesDamagedCredential(t *testing.T) {
	e, l, credFile := loginEnv(t)
	if err := os.WriteFile(credFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := &syncBuffer{}
	cmd := exec.CommandContext(ctx, bridgeBinary(t), "login", "--config", e.cfgPath, "--method", "mobile")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	qr, err := l.NextQR(ctx, qqtest.QRKindMobile)
	if err != nil {
		t.Fatalf("no QR code fetched: %v\n%s", err, out)
	}
	if err := qr.Confirm(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("bridge login: %v\n%s", err, out)
	}
	aside := brokenAside(t, credFile)
	if len(aside) != 1 {
		t.Fatalf("set aside: %v, want one file", aside)
	}
	text := out.String()
	for _, want := range []string{"The credential file " + credFile + " could not be read (the file is empty), so it was set aside as " + aside[0] + "; log in again: the login below replaces it.", "Logged in as QQ Music user"} {
		if !strings.Contains(text, want) {
			t.Errorf("the terminal lacks %q:\n%s", want, text)
		}
	}
}

// TestE2ELogsTheAccountAtStart: the log names the logged-in account (its
// musicid, never the musickey) when the bridge starts.
func TestE2ELogsTheAccountAtStart(t *testing.T) {
	e := newE2E(t)
	e.start()
	e.eventually("the bridge running", 30*time.Second, func() bool { return strings.Contains(e.logs.String(), "bridge: running") })
	out := e.logs.String()
	if !strings.Contains(out, `msg="bridge: QQ Music account" musicid=20002 credential_expires=`) {
		t.Errorf("the log does not name the account at start:\n%s", out)
	}
	if strings.Contains(out, e.account.MusicKey) {
		t.Error("the log shows the musickey")
	}
}
