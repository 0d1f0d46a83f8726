package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// loginEnv is an e2e environment whose credential file does not exist yet,
// with the login double attached.
func loginEnv(t *testing.T) (*e2e, *qqtest.Login, string) {
	t.Helper()
	e := newE2E(t)
	l := qqtest.AttachLogin(e.qq)
	t.Cleanup(l.Close)
	credFile := filepath.Join(e.dir, "data", "credential.json")
	if err := os.Remove(credFile); err != nil {
		t.Fatal(err)
	}
	return e, l, credFile
}

func TestLoginMobileSubprocess(t *testing.T) {
	e, l, credFile := loginEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := &syncBuffer{}
	cmd := exec.CommandContext(ctx, bridgeBinary(t), "login", "--config", e.cfgPath, "--method", "mobile")
	cmd.Env = append(os.Environ(), "BRIDGE_DISCORD_TOKEN=")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	qr, err := l.NextQR(ctx, qqtest.QRKindMobile)
	if err != nil {
		t.Fatalf("no QR code fetched: %v\n%s", err, out)
	}
	waitFor := func(s string) {
		t.Helper()
		for !strings.Contains(out.String(), s) {
			if ctx.Err() != nil {
				t.Fatalf("the terminal never showed %q:\n%s", s, out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("Waiting for the scan")
	if err := qr.Scan(); err != nil {
		t.Fatal(err)
	}
	waitFor("Scanned")
	if err := qr.Confirm(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("bridge login: %v\n%s", err, out)
	}
	text := out.String()
	for _, want := range []string{"▀", "QQ Music app", "login-qr.png", "Logged in as QQ Music user"} {
		if !strings.Contains(text, want) {
			t.Errorf("the terminal lacks %q:\n%s", want, text)
		}
	}
	fi, err := os.Stat(credFile)
	if err != nil {
		t.Fatalf("no credential file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("credential file mode %v, want 0600", fi.Mode().Perm())
	}
	raw, _ := os.ReadFile(credFile)
	var cred map[string]any
	if err := json.Unmarshal(raw, &cred); err != nil {
		t.Fatalf("credential file is not JSON: %v", err)
	}
	if cred["musickey"] == "" || cred["musicid"] == nil || cred["loginType"] == nil {
		t.Errorf("credential file lacks the reference fields: %v", cred)
	}
	if strings.Contains(text, cred["musickey"].(string)) {
		t.Error("the terminal shows the musickey")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(credFile), "login-qr.png")); !os.IsNotExist(err) {
		t.Errorf("the QR image is still there after the login: %v", err)
	}
}

func TestLoginRefusedAndBadMethod(t *testing.T) {
	e, l, credFile := loginEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := &syncBuffer{}
	cmd := exec.CommandContext(ctx, bridgeBinary(t), "login", "--config", e.cfgPath, "--method", "qq", "--plain")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	qr, err := l.NextQR(ctx, qqtest.QRKindQQ)
	if err != nil {
		t.Fatal(err)
	}
	if err := qr.Refuse(); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if cmd.ProcessState.ExitCode() != 1 {
		t.Errorf("exit %d (%v), want 1\n%s", cmd.ProcessState.ExitCode(), err, out)
	}
	if !strings.Contains(out.String(), "refused") || !strings.Contains(out.String(), "██") {
		t.Errorf("output lacks the plain QR or the refusal:\n%s", out)
	}
	if _, err := os.Stat(credFile); err == nil {
		t.Error("a refused login wrote a credential file")
	}

	code, _, stderr := runCLI(t, "login", "--config", e.cfgPath, "--method", "email")
	if code != 2 || !strings.Contains(stderr, "--method") {
		t.Errorf("bad method: exit %d, %s", code, stderr)
	}
}

func TestLoginPhoneSubprocess(t *testing.T) {
	e, l, credFile := loginEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bridgeBinary(t), "login", "--config", e.cfgPath, "--method", "phone")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const phone = "13800138000"
	if _, err := stdin.Write([]byte(phone + "\n")); err != nil {
		t.Fatal(err)
	}
	var sms string
	for {
		if c, ok := l.PhoneCode(phone); ok {
			sms = c
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no SMS code was asked for:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := stdin.Write([]byte(sms + "\n")); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("bridge login --method phone: %v\n%s", err, out)
	}
	if !strings.Contains(out.String(), "SMS code:") || !strings.Contains(out.String(), "Logged in") {
		t.Errorf("output:\n%s", out)
	}
	if _, err := os.Stat(credFile); err != nil {
		t.Errorf("no credential file: %v", err)
	}
}

// A bridge started without a login waits; `bridge login` in another
// terminal writes the credential and the running bridge starts relaying.
func TestRunPicksUpLoginFromAnotherTerminal(t *testing.T) {
	e, l, _ := loginEnv(t)
	alice := e.qq.AddUser(qqtest.User{Nick: "Alice"})
	sid := e.qq.AddSession(alice)
	if _, err := e.qq.Deliver(sid, qqtest.Text("waiting for you")); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.eventually("the bridge to say a login is needed", 20*time.Second, func() bool {
		return strings.Contains(e.logs.String(), "bridge login")
	})
	if _, ok := e.sessionChannel(sid); ok {
		t.Fatal("a channel was made without a login")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bridgeBinary(t), "login", "--config", e.cfgPath, "--method", "wx")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	qr, err := l.NextQR(ctx, qqtest.QRKindWeChat)
	if err != nil {
		t.Fatal(err)
	}
	if err := qr.Scan(); err != nil {
		t.Fatal(err)
	}
	if err := qr.Confirm(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("bridge login: %v\n%s", err, out)
	}
	e.eventually("the relay after the login", 30*time.Second, func() bool {
		ch, ok := e.sessionChannel(sid)
		return ok && len(e.webhookContents(ch.ID)) == 1
	})
}
