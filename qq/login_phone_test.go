package qq_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

const testPhone = "13800138000"

func TestPhoneLoginDone(t *testing.T) {
	e := newLoginEnv(t)
	ctx := context.Background()
	res, err := e.c.SendPhoneCode(ctx, "138 0013 8000", "+86")
	if err != nil || res.Status != qq.PhoneCodeSent {
		t.Fatalf("SendPhoneCode = %+v, %v", res, err)
	}
	code, ok := e.l.PhoneCode(testPhone)
	if !ok {
		t.Fatal("the double texted no code")
	}
	cred, err := e.c.PhoneLogin(ctx, testPhone, code)
	if err != nil {
		t.Fatal(err)
	}
	if cred.MusicID != testMusicID || cred.MusicKey != e.s.Account().MusicKey {
		t.Fatalf("credential %v", cred)
	}
	if err := e.c.AdoptCredential(cred); err != nil {
		t.Fatal(err)
	}
	if err := e.c.CheckCredential(ctx); err != nil {
		t.Fatalf("the new credential does not work: %v", err)
	}
	e.checkClean(t)
}

func TestSendPhoneCodeOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		outcome qqtest.PhoneOutcome
		want    qq.PhoneCodeResult
	}{
		{"sent", qqtest.PhoneSend, qq.PhoneCodeResult{Status: qq.PhoneCodeSent}},
		{"captcha", qqtest.PhoneCaptcha, qq.PhoneCodeResult{Status: qq.PhoneCodeCaptcha, SecurityURL: qqtest.PhoneSecurityURL}},
		{"too frequent", qqtest.PhoneTooFrequent, qq.PhoneCodeResult{Status: qq.PhoneCodeTooFrequent}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newLoginEnv(t)
			e.l.PhoneNext(tt.outcome)
			got, err := e.c.SendPhoneCode(context.Background(), testPhone, "")
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
			_, texted := e.l.PhoneCode(testPhone)
			if texted != (tt.outcome == qqtest.PhoneSend) {
				t.Fatalf("texted = %v", texted)
			}
			e.checkClean(t)
		})
	}
}

func TestPhoneLoginRefused(t *testing.T) {
	e := newLoginEnv(t)
	ctx := context.Background()
	if _, err := e.c.SendPhoneCode(ctx, testPhone, "86"); err != nil {
		t.Fatal(err)
	}
	_, err := e.c.PhoneLogin(ctx, testPhone, "000000")
	if !errors.Is(err, qq.ErrLoginWrongCode) {
		t.Fatalf("wrong code: err %v, want ErrLoginWrongCode", err)
	}
	if e.c.Credential().HasLogin() {
		t.Fatal("a refused login changed the client's credential")
	}
}

func TestPhoneLoginExpiredCode(t *testing.T) {
	e := newLoginEnv(t)
	ctx := context.Background()
	if _, err := e.c.SendPhoneCode(ctx, testPhone, "86"); err != nil {
		t.Fatal(err)
	}
	code, _ := e.l.PhoneCode(testPhone)
	e.l.ExpirePhoneCode(testPhone)
	_, err := e.c.PhoneLogin(ctx, testPhone, code)
	if !errors.Is(err, qq.ErrLoginAuthExpired) {
		t.Fatalf("err %v, want ErrLoginAuthExpired", err)
	}
	// A new code works.
	if _, err := e.c.SendPhoneCode(ctx, testPhone, "86"); err != nil {
		t.Fatal(err)
	}
	code, _ = e.l.PhoneCode(testPhone)
	if _, err := e.c.PhoneLogin(ctx, testPhone, code); err != nil {
		t.Fatal(err)
	}
}

func TestPhoneServerErrors(t *testing.T) {
	e := newLoginEnv(t)
	ctx := context.Background()
	e.s.Fail("SendPhoneAuthCode", qqtest.Fault{Kind: qqtest.HTTP5xx, Code: 503, Times: 1})
	_, err := e.c.SendPhoneCode(ctx, testPhone, "86")
	var hs *qq.HTTPStatusError
	if !errors.As(err, &hs) || hs.Status != 503 {
		t.Fatalf("err %v, want HTTP 503", err)
	}
	e.s.Fail("SendPhoneAuthCode", qqtest.Fault{Kind: qqtest.APIError, Code: 20450, Times: 1})
	if _, err := e.c.SendPhoneCode(ctx, testPhone, "86"); !errors.Is(err, qq.ErrLoginBanned) {
		t.Fatalf("err %v, want ErrLoginBanned", err)
	}
	e.s.Fail("Login", qqtest.Fault{Kind: qqtest.HTTP5xx, Code: 502, Times: 1})
	if _, err := e.c.PhoneLogin(ctx, testPhone, "123456"); !errors.As(err, &hs) || hs.Status != 502 {
		t.Fatalf("Login: err %v, want HTTP 502", err)
	}
}

func TestPhoneInputChecked(t *testing.T) {
	e := newLoginEnv(t)
	for _, p := range []string{"", "12ab", "1234", "1234567890123456"} {
		if _, err := e.c.SendPhoneCode(context.Background(), p, "86"); !errors.Is(err, qq.ErrLoginBadParams) {
			t.Errorf("phone %q: err %v, want ErrLoginBadParams", p, err)
		}
	}
	if _, err := e.c.SendPhoneCode(context.Background(), testPhone, "86a"); !errors.Is(err, qq.ErrLoginBadParams) {
		t.Errorf("bad area code accepted: %v", err)
	}
	if _, err := e.c.PhoneLogin(context.Background(), testPhone, " "); !errors.Is(err, qq.ErrLoginWrongCode) {
		t.Errorf("empty code: %v", err)
	}
	if n := len(e.s.Requests()); n != 0 {
		t.Fatalf("%d requests sent for bad input", n)
	}
}

// Every documented login error code becomes its typed error.
func TestLoginErrorCodes(t *testing.T) {
	tests := []struct {
		code int
		want error
	}{
		{1000, qq.ErrLoginAuthExpired}, {104400, qq.ErrLoginAuthExpired}, {104401, qq.ErrLoginAuthExpired},
		{20261, qq.ErrLoginBadParams}, {20271, qq.ErrLoginWrongCode},
		{20272, qq.ErrLoginAccountBinding}, {20274, qq.ErrLoginAccountBinding},
		{20277, qq.ErrLoginRestricted}, {20278, qq.ErrLoginRestricted},
		{20279, qq.ErrLoginDeviceLimit}, {20450, qq.ErrLoginBanned},
		{104604, qq.ErrLoginTooFrequent}, {12345, qq.ErrLoginRejected},
	}
	e := newLoginEnv(t)
	for _, tt := range tests {
		e.s.Fail("Login", qqtest.Fault{Kind: qqtest.APIError, Code: tt.code, Times: 1})
		_, err := e.c.PhoneLogin(context.Background(), testPhone, "123456")
		if !errors.Is(err, tt.want) {
			t.Errorf("code %d: err %v, want %v", tt.code, err, tt.want)
			continue
		}
		var le *qq.LoginError
		if !errors.As(err, &le) || le.Code != tt.code {
			t.Errorf("code %d: LoginError %+v", tt.code, le)
		}
		var api *qq.APIError
		if !errors.As(err, &api) || api.Code != tt.code {
			t.Errorf("code %d: no APIError underneath", tt.code)
		}
	}
}

// A phone number held only in its encrypted form goes as encryptedPhoneNo
// in both calls, and the login works.
func TestEncryptedPhoneLoginDone(t *testing.T) {
	e := newLoginEnv(t)
	ctx := context.Background()
	const enc = "ENCRYPTED+phone/Number=="
	res, err := e.c.SendEncryptedPhoneCode(ctx, " "+enc+" ", "")
	if err != nil || res.Status != qq.PhoneCodeSent {
		t.Fatalf("SendEncryptedPhoneCode = %+v, %v", res, err)
	}
	code, ok := e.l.PhoneCode(enc)
	if !ok {
		t.Fatal("the double texted no code for the encrypted number")
	}
	cred, err := e.c.EncryptedPhoneLogin(ctx, enc, code)
	if err != nil {
		t.Fatal(err)
	}
	if cred.MusicID != testMusicID {
		t.Fatalf("credential %v", cred)
	}
	for _, r := range e.s.Requests() {
		if strings.Contains(string(r.Param), `"phoneNo"`) {
			t.Errorf("%s sent phoneNo %v; want only encryptedPhoneNo", r.Method, r.Param)
		}
	}
	if _, err := e.c.SendEncryptedPhoneCode(ctx, "two words", ""); !errors.Is(err, qq.ErrLoginBadParams) {
		t.Errorf("an encrypted number with a space: err %v, want ErrLoginBadParams", err)
	}
	e.checkClean(t)
}
