package qq

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Sentinel errors. Use errors.Is: an *APIError or *RateLimitError reports
// the sentinel that matches its code.
var (
	// ErrCredentialExpired means the server refused the credential as
	// expired or invalid (item codes 1000, 104400 and 104401). Refresh it
	// (RefreshCredential) or log in again.
	ErrCredentialExpired = errors.New("qq: credential expired or invalid; refresh it or log in again")
	// ErrRateLimited means the server's risk control refused the call
	// (item code 2001). Slow down; the *RateLimitError may carry a
	// feedback URL for a human to pass a security check.
	ErrRateLimited = errors.New("qq: rate limited by QQ Music risk control")
	// ErrSignatureRequired means the call must go through the signed
	// musics.fcg gateway (item code 2000): set Request.Signed.
	ErrSignatureRequired = errors.New("qq: the call needs the signed gateway (set Request.Signed)")
	// ErrCredentialRequired is returned, before any request is sent, by a
	// call that needs a logged-in credential (musicid and musickey) when the
	// client has none.
	ErrCredentialRequired = errors.New("qq: this call needs a logged-in credential (musicid and musickey); log in first")
)

// Item codes with a meaning of their own.
const (
	CodeOK                = 0
	CodeSignatureRequired = 2000
	CodeRateLimited       = 2001
)

// IsCredentialExpiredCode reports whether an item code means the credential
// is expired or invalid.
func IsCredentialExpiredCode(code int) bool {
	return code == 1000 || code == 104400 || code == 104401
}

// loginCodeText explains the error codes of music.login.LoginServer.
var loginCodeText = map[int]string{
	1000:   "login parameters invalid or expired",
	104400: "login parameters invalid or expired",
	104401: "login parameters invalid or expired",
	20261:  "bad login parameters",
	20271:  "wrong verification code",
	20272:  "account binding problem",
	20274:  "account binding missing",
	20277:  "account restricted",
	20278:  "account restricted",
	20279:  "too many devices logged in",
	20450:  "account banned",
	104604: "too many attempts, wait before retrying",
}

// LoginCodeText returns a short English explanation of a login error code
// (music.login.LoginServer), or "" for a code it does not know.
func LoginCodeText(code int) string { return loginCodeText[code] }

// APIError is a non-zero item code: the gateway accepted the batch but
// refused this call. Data is the item's raw data (it may hold details such
// as a message); it is never part of Error().
type APIError struct {
	Module, Method string
	Code           int
	Data           json.RawMessage
}

func (e *APIError) Error() string {
	var what string
	switch {
	case IsCredentialExpiredCode(e.Code):
		what = "credential expired or invalid; refresh it or log in again"
	case e.Code == CodeSignatureRequired:
		what = "signature required; send it through the signed gateway"
	case e.Code == CodeRateLimited:
		what = "rate limited by risk control; slow down"
	default:
		what = "refused"
		if t := LoginCodeText(e.Code); t != "" && strings.HasPrefix(e.Module, "music.login.") {
			what = t
		}
	}
	return fmt.Sprintf("qq: %s.%s: code %d: %s", e.Module, e.Method, e.Code, what)
}

// Is makes errors.Is(err, ErrCredentialExpired / ErrSignatureRequired /
// ErrRateLimited) true for the matching codes.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrCredentialExpired:
		return IsCredentialExpiredCode(e.Code)
	case ErrSignatureRequired:
		return e.Code == CodeSignatureRequired
	case ErrRateLimited:
		return e.Code == CodeRateLimited
	}
	return false
}

// RateLimitError is item code 2001 (risk control). FeedbackURL, when the
// server gives one (data.feedbackURL), is a page where a human can pass the
// security check. errors.Is(err, ErrRateLimited) is true; errors.As to
// *APIError also works.
type RateLimitError struct {
	APIError    *APIError
	FeedbackURL string
}

func (e *RateLimitError) Error() string {
	s := e.APIError.Error()
	if e.FeedbackURL != "" {
		s += " (a security check may be passed at the feedback URL)"
	}
	return s
}

// Is reports ErrRateLimited.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// Unwrap returns the underlying *APIError.
func (e *RateLimitError) Unwrap() error { return e.APIError }

// VerificationURL is FeedbackURL: the page where the person whose phone is
// logged in can pass QQ Music's verification ("" when none was given).
// Callers that must not import this package find it through an interface
// with this method.
func (e *RateLimitError) VerificationURL() string { return e.FeedbackURL }

// GatewayError is a non-zero top-level code: the gateway refused the whole
// batch.
type GatewayError struct {
	Code int
}

func (e *GatewayError) Error() string {
	return fmt.Sprintf("qq: the musicu gateway refused the request (top-level code %d)", e.Code)
}

// HTTPStatusError is a reply with an HTTP status other than 200.
type HTTPStatusError struct {
	Status int
	// URL is the address requested, without its query.
	URL string
}

func (e *HTTPStatusError) Error() string {
	return fmt.Sprintf("qq: %s answered HTTP %d", e.URL, e.Status)
}

// NetworkError is a failure to reach the server or read its reply. It wraps
// the transport error, so errors.Is(err, context.DeadlineExceeded) works.
type NetworkError struct {
	// URL is the address requested, without its query.
	URL string
	Err error
}

func (e *NetworkError) Error() string {
	return fmt.Sprintf("qq: request to %s failed: %v", e.URL, e.Err)
}

func (e *NetworkError) Unwrap() error { return e.Err }

// MalformedResponseError is a reply that could not be understood. Excerpt
// is the start of the reply with every credential value masked.
type MalformedResponseError struct {
	What    string // what was being decoded
	Excerpt string
	Err     error
}

func (e *MalformedResponseError) Error() string {
	s := "qq: malformed response"
	if e.What != "" {
		s += " (" + e.What + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.Excerpt != "" {
		s += fmt.Sprintf("; reply starts %q", e.Excerpt)
	}
	return s
}

func (e *MalformedResponseError) Unwrap() error { return e.Err }

const excerptLen = 160

// secretKeyRE matches a JSON member or cookie/query pair whose value is a
// credential, to mask its value.
var secretKeyRE = regexp.MustCompile(`(?i)("?(?:musickey|authst|qm_keyst|qqmusic_key|refresh_token|access_token|refresh_key|token|p_skey|skey|openid|unionid|encryptUin|wx_code|vkey|session_vkey)"?\s*[:=]\s*"?)([^"&;,}\s]*)`)

// excerpt returns the start of body with secrets masked, at most
// excerptLen bytes, valid UTF-8.
func excerpt(body []byte, secrets ...string) string {
	if len(body) > 64<<10 {
		body = body[:64<<10]
	}
	s := string(body)
	for _, sec := range secrets {
		if len(sec) >= 3 {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	s = secretKeyRE.ReplaceAllString(s, "${1}***")
	if len(s) > excerptLen {
		cut := excerptLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
