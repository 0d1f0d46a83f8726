package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// TestLoginRenewsAnExpiredCode: `bridge login` shows a plain countdown,
// replaces an expired QR code with a new one as the admin channel does,
// and removes login-qr.png once logged in.
func TestLoginRenewsAnExpiredCode(t *testing.T) {
	e, l, credFile := loginEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := &syncBuffer{}
	cmd := exec.CommandContext(ctx, bridgeBinary(t), "login", "--config", e.cfgPath, "--method", "qq")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	png := filepath.Join(filepath.Dir(credFile), "login-qr.png")
	first, err := l.NextQR(ctx, qqtest.QRKindQQ)
	if err != nil {
		t.Fatalf("no QR code fetched: %v\n%s", err, out)
	}
	waitOut := func(s string) {
		t.Helper()
		for !strings.Contains(out.String(), s) {
			if ctx.Err() != nil {
				t.Fatalf("the terminal never showed %q:\n%s", s, out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitOut("Waiting for the scan")
	if _, err := os.Stat(png); err != nil {
		t.Errorf("the QR image is not saved while waiting: %v", err)
	}
	if err := first.Expire(); err != nil {
		t.Fatal(err)
	}
	second, err := l.NextQR(ctx, qqtest.QRKindQQ)
	if err != nil {
		t.Fatalf("no new QR code after the first expired: %v\n%s", err, out)
	}
	waitOut("here is a new one (2 of 4)")
	if err := second.Confirm(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("bridge login: %v\n%s", err, out)
	}
	text := out.String()
	if !regexp.MustCompile(`this code expires at \d\d:\d\d:\d\d UTC \(in (5m0s|4m5\ds)\)`).MatchString(text) {
		t.Errorf("no plain countdown:\n%s", text)
	}
	if strings.Contains(text, "<t:") {
		t.Errorf("Discord markup on the terminal:\n%s", text)
	}
	if !strings.Contains(text, "Logged in as QQ Music user") {
		t.Errorf("no login:\n%s", text)
	}
	if _, err := os.Stat(png); !os.IsNotExist(err) {
		t.Errorf("login-qr.png is still there after the login: %v", err)
	}
}
