package qq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// PhoneCodeStatus is the outcome of asking for an SMS verification code.
type PhoneCodeStatus int

const (
	// PhoneCodeSent: the code is on its way; call PhoneLogin with it.
	PhoneCodeSent PhoneCodeStatus = iota + 1
	// PhoneCodeCaptcha: a human must pass a security check first, at
	// PhoneCodeResult.SecurityURL; then ask for the code again.
	PhoneCodeCaptcha
	// PhoneCodeTooFrequent: codes were asked for too often; wait.
	PhoneCodeTooFrequent
)

func (s PhoneCodeStatus) String() string {
	switch s {
	case PhoneCodeSent:
		return "sent"
	case PhoneCodeCaptcha:
		return "captcha"
	case PhoneCodeTooFrequent:
		return "too frequent"
	}
	return fmt.Sprintf("PhoneCodeStatus(%d)", int(s))
}

// PhoneCodeResult is SendPhoneCode's answer.
type PhoneCodeResult struct {
	Status PhoneCodeStatus
	// SecurityURL is the page of the security check (PhoneCodeCaptcha).
	SecurityURL string
}

// Codes of SendPhoneAuthCode.
const (
	codePhoneCaptcha     = 20276
	codePhoneTooFrequent = 100001
)

// DefaultAreaCode is mainland China's calling code.
const DefaultAreaCode = "86"

// SendPhoneCode asks QQ Music to text a verification code to phone (digits
// only; area is the calling code without "+", "" meaning 86). The three
// expected outcomes come back as a PhoneCodeResult; any other refusal is a
// typed *LoginError.
func (c *Client) SendPhoneCode(ctx context.Context, phone, area string) (PhoneCodeResult, error) {
	phone, area, err := cleanPhone(phone, area)
	if err != nil {
		return PhoneCodeResult{}, err
	}
	return c.sendPhoneCode(ctx, Field{"phoneNo", phone}, area)
}

// SendEncryptedPhoneCode is SendPhoneCode for a phone number given already
// encrypted (as QQ Music's apps hold it): it goes as encryptedPhoneNo.
func (c *Client) SendEncryptedPhoneCode(ctx context.Context, encryptedPhone, area string) (PhoneCodeResult, error) {
	enc, area, err := cleanEncryptedPhone(encryptedPhone, area)
	if err != nil {
		return PhoneCodeResult{}, err
	}
	return c.sendPhoneCode(ctx, Field{"encryptedPhoneNo", enc}, area)
}

func (c *Client) sendPhoneCode(ctx context.Context, phone Field, area string) (PhoneCodeResult, error) {
	_, err := c.Call(ctx, Request{
		Module: loginModule, Method: "SendPhoneAuthCode",
		Param:      Object{{"tmeAppid", "qqmusic"}, {"areaCode", area}, phone},
		Comm:       Object{{"tmeLoginMethod", 3}},
		Credential: &Credential{},
	})
	if err == nil {
		return PhoneCodeResult{Status: PhoneCodeSent}, nil
	}
	var api *APIError
	if !errors.As(err, &api) {
		return PhoneCodeResult{}, loginCallError("SendPhoneAuthCode", err)
	}
	switch api.Code {
	case codePhoneCaptcha:
		var d struct {
			SecurityURL string `json:"securityURL"`
		}
		_ = json.Unmarshal(api.Data, &d)
		return PhoneCodeResult{Status: PhoneCodeCaptcha, SecurityURL: d.SecurityURL}, nil
	case codePhoneTooFrequent:
		return PhoneCodeResult{Status: PhoneCodeTooFrequent}, nil
	}
	return PhoneCodeResult{}, loginCallError("SendPhoneAuthCode", err)
}

// PhoneLogin logs in with the SMS code that SendPhoneCode had sent. The
// client's credential is not changed: pass the result to AdoptCredential.
func (c *Client) PhoneLogin(ctx context.Context, phone, code string) (*Credential, error) {
	phone, _, err := cleanPhone(phone, "")
	if err != nil {
		return nil, err
	}
	return c.phoneLogin(ctx, Field{"phoneNo", phone}, code)
}

// EncryptedPhoneLogin is PhoneLogin for a phone number given already
// encrypted: it goes as encryptedPhoneNo.
func (c *Client) EncryptedPhoneLogin(ctx context.Context, encryptedPhone, code string) (*Credential, error) {
	enc, _, err := cleanEncryptedPhone(encryptedPhone, "")
	if err != nil {
		return nil, err
	}
	return c.phoneLogin(ctx, Field{"encryptedPhoneNo", enc}, code)
}

func (c *Client) phoneLogin(ctx context.Context, phone Field, code string) (*Credential, error) {
	code = strings.TrimSpace(code)
	if code == "" {
		return nil, &LoginError{Step: "Login", Kind: ErrLoginWrongCode, Msg: "empty verification code"}
	}
	return c.callLogin(ctx, loginModule, "Login",
		Object{{"code", code}, {"loginMode", 1}, phone},
		Object{{"tmeLoginMethod", 3}, {"tmeLoginType", 0}})
}

// cleanEncryptedPhone checks an encrypted phone number (not empty, no
// spaces inside) and the area code.
func cleanEncryptedPhone(enc, area string) (string, string, error) {
	enc = strings.TrimSpace(enc)
	if enc == "" || strings.ContainsAny(enc, " \t\r\n") {
		return "", "", &LoginError{Step: "phone number", Kind: ErrLoginBadParams, Msg: "an encrypted phone number is one word, not empty"}
	}
	_, area, err := cleanPhone("00000", area)
	if err != nil {
		return "", "", err
	}
	return enc, area, nil
}

// cleanPhone checks a phone number and area code (spaces and dashes are
// dropped, a leading "+" of the area code too).
func cleanPhone(phone, area string) (string, string, error) {
	strip := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == ' ' || r == '-' {
				return -1
			}
			return r
		}, strings.TrimSpace(s))
	}
	phone = strip(phone)
	area = strings.TrimPrefix(strip(area), "+")
	if area == "" {
		area = DefaultAreaCode
	}
	if !allDigits(phone) || len(phone) < 5 || len(phone) > 15 {
		return "", "", &LoginError{Step: "phone number", Kind: ErrLoginBadParams, Msg: "a phone number is 5 to 15 digits"}
	}
	if !allDigits(area) || len(area) > 4 {
		return "", "", &LoginError{Step: "phone number", Kind: ErrLoginBadParams, Msg: "an area code is 1 to 4 digits"}
	}
	return phone, area, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
