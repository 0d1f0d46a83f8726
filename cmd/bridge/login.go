package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/config"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/qqport"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/qrterm"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
)

// scanHint says what to scan a QR code with.
var scanHint = map[qq.LoginMethod]string{
	qq.LoginMobile: "Scan it with the QQ Music app (我的 → scan icon), then confirm in the app.",
	qq.LoginQQ:     "Scan it with the QQ app, then confirm in QQ.",
	qq.LoginWeChat: "Scan it with WeChat, then confirm in WeChat.",
}

// cmdLogin logs the bridge's QQ Music account in from a terminal and writes
// the credential file. A running bridge picks the new file up by itself.
func cmdLogin(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("login", stderr)
	cfgPath := fs.String("config", "", "the configuration file (default: $BRIDGE_CONFIG, then config.toml)")
	method := fs.String("method", "", "mobile, qq, wx or phone (default: qq.login_method)")
	plain := fs.Bool("plain", false, "draw the QR code with full blocks, for terminals whose fonts draw half blocks badly")
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	cfg, ok := loadConfigWith(config.LoadWithoutToken, *cfgPath, stderr)
	if !ok {
		return exitUsage
	}
	m := *method
	if m == "" {
		m = cfg.QQ.LoginMethod
	}
	if m != "phone" {
		if _, err := qq.ParseLoginMethod(m); err != nil {
			fmt.Fprintf(stderr, "bridge login: --method must be mobile, qq, wx or phone, not %q\n", m)
			return exitUsage
		}
	}
	if err := os.MkdirAll(filepath.Dir(cfg.QQ.CredentialFile), 0o700); err != nil {
		fmt.Fprintf(stderr, "bridge login: creating the data folder: %v\n", err)
		return exitRuntime
	}
	if d, err := qqport.SetAsideDamaged(cfg.QQ.CredentialFile, time.Now()); err != nil {
		fmt.Fprintf(stderr, "bridge login: reading the credential file: %v\n", err)
		return exitRuntime
	} else if d != nil {
		fmt.Fprintf(stdout, "%s: the login below replaces it.\n", capitalize(d.Error()))
	}
	client, err := qq.New(qq.Options{
		Endpoints:      qq.Endpoints(cfg.QQ.Endpoints),
		DeviceFile:     cfg.QQ.DeviceFile,
		CredentialFile: cfg.QQ.CredentialFile,
	})
	if err != nil {
		fmt.Fprintf(stderr, "bridge login: %v\n", err)
		return exitRuntime
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	var cred *qq.Credential
	if m == "phone" {
		cred, err = phoneLogin(ctx, client, bufio.NewReader(stdin), stdout)
	} else {
		cred, err = qrLogin(ctx, client, qq.LoginMethod(m), cfg.QQ.CredentialFile, *plain, stdout)
	}
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "bridge login: cancelled; nothing was written")
		} else {
			fmt.Fprintf(stderr, "bridge login: %v\n", err)
		}
		return exitRuntime
	}
	if err := client.AdoptCredential(cred); err != nil {
		fmt.Fprintf(stderr, "bridge login: logged in, but the credential could not be written to %s: %v\n", cfg.QQ.CredentialFile, err)
		return exitRuntime
	}
	fmt.Fprintf(stdout, "Logged in as QQ Music user %d. The credential is in %s; a running bridge picks it up by itself.\n",
		cred.MusicID, cfg.QQ.CredentialFile)
	return exitOK
}

// qrLife is how long a QR code lasts; qrCodes is how many codes are
// shown (an expired one is renewed) before the login gives up, as in the
// admin channel.
const (
	qrLife  = 5 * time.Minute
	qrCodes = 4
)

// qrLogin shows QR codes until one logs in. login-qr.png is removed when
// the login ends: the code is of no use any more.
func qrLogin(ctx context.Context, client *qq.Client, m qq.LoginMethod, credFile string, plain bool, out io.Writer) (*qq.Credential, error) {
	defer removeQRFiles(credFile)
	for n := 1; ; n++ {
		cred, expired, err := qrAttempt(ctx, client, m, credFile, plain, out)
		if !expired {
			return cred, err
		}
		if n == qrCodes {
			return nil, fmt.Errorf("the QR code expired %d times without a scan; run bridge login again when you have the phone at hand", qrCodes)
		}
		fmt.Fprintf(out, "The QR code expired; here is a new one (%d of %d).\n", n+1, qrCodes)
	}
}

// qrAttempt follows one QR code; expired says a new one may be shown.
func qrAttempt(ctx context.Context, client *qq.Client, m qq.LoginMethod, credFile string, plain bool, out io.Writer) (cred *qq.Credential, expired bool, err error) {
	events, err := client.StartQRLogin(ctx, m, qq.WithQRTimeout(qrLife))
	if err != nil {
		return nil, false, fmt.Errorf("could not start the %s QR login: %w", m, err)
	}
	expires := time.Now().Add(qrLife)
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	waiting := false
	for {
		var ev qq.LoginEvent
		var ok bool
		select {
		case ev, ok = <-events:
		case now := <-tick.C:
			if waiting {
				fmt.Fprintf(out, "%s left to scan this code.\n", expires.Sub(now).Round(time.Second))
			}
			continue
		}
		if !ok {
			break
		}
		if len(ev.Image) > 0 {
			showQR(ev.Image, ev.MIME, m, credFile, plain, out)
		}
		waiting = ev.State == qq.LoginWaiting
		switch ev.State {
		case qq.LoginWaiting:
			fmt.Fprintf(out, "Waiting for the scan; this code expires at %s (in %s).\n",
				expires.UTC().Format("15:04:05 UTC"), time.Until(expires).Round(time.Second))
		case qq.LoginScanned:
			fmt.Fprintln(out, "Scanned. Waiting for the confirmation ...")
		case qq.LoginConfirmed:
			fmt.Fprintln(out, "Confirmed. Finishing the login ...")
		case qq.LoginDone:
			if ev.Credential == nil || !ev.Credential.HasLogin() {
				return nil, false, errors.New("the login finished without a usable credential")
			}
			return ev.Credential, false, nil
		case qq.LoginRefused:
			return nil, false, errors.New("the login was refused in the app; run bridge login again to retry")
		case qq.LoginExpired:
			return nil, true, nil
		case qq.LoginFailed:
			return nil, false, fmt.Errorf("the login failed: %w", ev.Err)
		}
	}
	if ctx.Err() != nil {
		return nil, false, ctx.Err()
	}
	return nil, false, errors.New("the login ended without an answer")
}

// removeQRFiles deletes the QR images showQR saved.
func removeQRFiles(credFile string) {
	for _, ext := range []string{".png", ".jpg"} {
		_ = os.Remove(filepath.Join(filepath.Dir(credFile), "login-qr"+ext))
	}
}

// showQR saves the QR image beside the credential file and draws it.
func showQR(img []byte, mime string, m qq.LoginMethod, credFile string, plain bool, out io.Writer) {
	ext := ".png"
	if strings.Contains(mime, "jpeg") {
		ext = ".jpg"
	}
	path := filepath.Join(filepath.Dir(credFile), "login-qr"+ext)
	saved := os.WriteFile(path, img, 0o600) == nil
	if art, err := qrterm.FromImage(img, plain); err == nil {
		fmt.Fprintln(out, art)
	} else {
		fmt.Fprintf(out, "(The QR code cannot be drawn here: %v.)\n", err)
	}
	if saved {
		fmt.Fprintf(out, "The QR code image is also saved as %s.\n", path)
	}
	fmt.Fprintln(out, scanHint[m])
}

// phoneLogin asks for the number and the SMS code on stdin.
func phoneLogin(ctx context.Context, client *qq.Client, in *bufio.Reader, out io.Writer) (*qq.Credential, error) {
	phone, err := prompt(in, out, "Phone number (digits; mainland China numbers, +86): ")
	if err != nil {
		return nil, err
	}
	phone = strings.TrimPrefix(strings.ReplaceAll(phone, " ", ""), "+86")
	res, err := client.SendPhoneCode(ctx, phone, "")
	if err != nil {
		return nil, fmt.Errorf("sending the SMS code: %w", err)
	}
	switch res.Status {
	case qq.PhoneCodeSent:
	case qq.PhoneCodeCaptcha:
		return nil, fmt.Errorf("QQ Music wants a security check first: open %s in a browser, pass it, then run bridge login again", res.SecurityURL)
	case qq.PhoneCodeTooFrequent:
		return nil, errors.New("QQ Music says codes were asked for too often; wait a while and try again")
	default:
		return nil, fmt.Errorf("unexpected answer to the SMS code request: %v", res.Status)
	}
	code, err := prompt(in, out, "SMS code: ")
	if err != nil {
		return nil, err
	}
	cred, err := client.PhoneLogin(ctx, phone, code)
	if err != nil {
		return nil, fmt.Errorf("logging in with the code: %w", err)
	}
	return cred, nil
}

func prompt(in *bufio.Reader, out io.Writer, question string) (string, error) {
	fmt.Fprint(out, question)
	line, err := in.ReadString('\n')
	line = strings.TrimSpace(line)
	if line == "" {
		if err != nil {
			return "", fmt.Errorf("no answer on standard input: %w", err)
		}
		return "", errors.New("empty answer")
	}
	return line, nil
}

// capitalize upper-cases the first letter of a sentence.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
