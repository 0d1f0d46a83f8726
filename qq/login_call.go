package qq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// LoginError is a refused or broken login step.
type LoginError struct {
	Step string // e.g. "QQLogin", "ptqrlogin", "SendPhoneAuthCode"
	Code int    // the server's code, 0 when there is none
	Kind error  // one of the ErrLogin* sentinels
	Err  error  // the underlying error, if any
	Msg  string // detail, never a secret
}

func (e *LoginError) Error() string {
	var b strings.Builder
	b.WriteString("qq: login step ")
	b.WriteString(e.Step)
	if e.Code != 0 {
		fmt.Fprintf(&b, " (code %d)", e.Code)
	}
	b.WriteString(": ")
	b.WriteString(strings.TrimPrefix(e.Kind.Error(), "qq: "))
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	if e.Err != nil && e.Kind != ErrLoginAuthExpired {
		var api *APIError
		if !errors.As(e.Err, &api) {
			b.WriteString(": ")
			b.WriteString(e.Err.Error())
		}
	}
	return b.String()
}

// Is makes errors.Is(err, ErrLoginXxx) work.
func (e *LoginError) Is(target error) bool { return target == e.Kind }

// Unwrap gives the underlying error (an *APIError for refused calls, a
// network error, ...).
func (e *LoginError) Unwrap() error { return e.Err }

// loginKind maps a login error code to its sentinel.
func loginKind(code int) error {
	switch code {
	case 1000, 104400, 104401:
		return ErrLoginAuthExpired
	case 20261:
		return ErrLoginBadParams
	case 20271:
		return ErrLoginWrongCode
	case 20272, 20274:
		return ErrLoginAccountBinding
	case 20277, 20278:
		return ErrLoginRestricted
	case 20450:
		return ErrLoginBanned
	case 20279:
		return ErrLoginDeviceLimit
	case 104604, 100001:
		return ErrLoginTooFrequent
	}
	return ErrLoginRejected
}

// loginCallError types the error of a login musicu call.
func loginCallError(step string, err error) error {
	var api *APIError
	if errors.As(err, &api) {
		return &LoginError{Step: step, Code: api.Code, Kind: loginKind(api.Code), Err: err}
	}
	return fmt.Errorf("qq: login step %s: %w", step, err)
}

func protocolError(step, format string, args ...any) error {
	return &LoginError{Step: step, Kind: ErrLoginProtocol, Msg: fmt.Sprintf(format, args...)}
}

// Module and methods of the login calls.
const (
	loginModule   = "music.login.LoginServer"
	qqLoginModule = "QQConnectLogin.LoginServer"
)

// callLogin makes a login musicu call without any credential and decodes
// the credential it returns. (The reference sends the credential it holds,
// if any, in these calls' comm; a fresh login, the case compared with it,
// holds none, and an expired key is not offered to a login call here.)
func (c *Client) callLogin(ctx context.Context, module, method string, param, comm Object) (*Credential, error) {
	data, err := c.Call(ctx, Request{Module: module, Method: method, Param: param, Comm: comm, Credential: &Credential{}})
	if err != nil {
		return nil, loginCallError(method, err)
	}
	var cred Credential
	if err := json.Unmarshal(data, &cred); err != nil {
		return nil, protocolError(method, "the answer is not a credential: %v", err)
	}
	if !cred.HasLogin() {
		return nil, protocolError(method, "the answer has no musicid or musickey")
	}
	return &cred, nil
}

// loginHTTPClient is the client's HTTP client without its overall time-out
// (long polls need more), without a cookie jar (the flows handle their own
// cookies) and, when noRedirect, without following redirects.
func (c *Client) loginHTTPClient(noRedirect bool) *http.Client {
	hc := *c.HTTPClient()
	hc.Timeout = 0
	hc.Jar = nil
	if noRedirect {
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	} else {
		hc.CheckRedirect = nil
	}
	return &hc
}

// maxLoginBody bounds every login page or image read.
const maxLoginBody = 4 << 20

// loginDo sends one request of a login flow and reads its body (bounded).
func (c *Client) loginDo(ctx context.Context, hc *http.Client, req *http.Request, step string) (*http.Response, []byte, error) {
	if err := c.Wait(ctx); err != nil {
		return nil, nil, err
	}
	req = req.WithContext(ctx)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("qq: login step %s: %w", step, &NetworkError{URL: stripQuery(req.URL.String()), Err: scrubURLError(err)})
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxLoginBody+1))
	if err != nil {
		return nil, nil, fmt.Errorf("qq: login step %s: reading the answer: %w", step, err)
	}
	if len(body) > maxLoginBody {
		return nil, nil, protocolError(step, "the answer is larger than %d bytes", maxLoginBody)
	}
	if resp.StatusCode >= 400 {
		return resp, body, &LoginError{Step: step, Kind: ErrLoginProtocol, Msg: fmt.Sprintf("HTTP %d", resp.StatusCode),
			Err: &HTTPStatusError{Status: resp.StatusCode, URL: stripQuery(req.URL.String())}}
	}
	return resp, body, nil
}

// sleepCtx waits d or until ctx ends (false then).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// imageMIME is the MIME type of a QR image answer: its Content-Type when
// that names an image, else fallback.
func imageMIME(resp *http.Response, fallback string) string {
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "image/") {
		return strings.TrimSpace(strings.SplitN(ct, ";", 2)[0])
	}
	return fallback
}
