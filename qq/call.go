package qq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// Request is one musicu call.
type Request struct {
	Module, Method string
	// Param is the call's parameters: an Object (sent in its order, as
	// the reference sends them; every call of this package uses one) or a
	// map[string]any (keys sent sorted). Booleans anywhere inside are sent
	// as 0/1. Nil sends {}.
	Param any
	// Comm adds keys to (or overrides keys of) the Android comm for this
	// call: a key the comm has keeps its place, a new one is appended in
	// order; a nil value removes the key. In a batch every request's Comm
	// is merged into the one shared comm, and conflicting values are an
	// error.
	Comm Object
	// Signed sends the call through the signed musics.fcg gateway (zzc
	// sign). A batch is signed when any of its requests is.
	Signed bool
	// Credential replaces the client's credential for this call (a batch
	// uses its first request's); &Credential{} sends none.
	Credential *Credential
}

// Result is the outcome of one call of a batch.
type Result struct {
	Module, Method string
	// Code is the item's code (0 on success).
	Code int
	// Data is the item's data ({} when the reply had none).
	Data json.RawMessage
	// Err is nil on success; otherwise an *APIError, *RateLimitError or
	// *MalformedResponseError.
	Err error
}

// Call sends one musicu call and returns its item's data. Errors are
// typed: see ErrCredentialExpired, ErrRateLimited, ErrSignatureRequired,
// *APIError, *RateLimitError, *GatewayError, *HTTPStatusError,
// *NetworkError and *MalformedResponseError.
func (c *Client) Call(ctx context.Context, req Request) (json.RawMessage, error) {
	res, err := c.CallBatch(ctx, []Request{req})
	if err != nil {
		return nil, err
	}
	return res[0].Data, res[0].Err
}

// CallBatch sends the calls batched as req_0..req_N (at most 20 per HTTP
// request; more are split into several). The returned error is for the
// whole batch (gateway, HTTP, network, malformed reply); each Result
// carries its own item error.
func (c *Client) CallBatch(ctx context.Context, reqs []Request) ([]Result, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	for _, r := range reqs {
		if r.Module == "" || r.Method == "" {
			return nil, errors.New("qq: a request needs a module and a method")
		}
		switch r.Param.(type) {
		case nil, Object, map[string]any:
		default:
			return nil, fmt.Errorf("qq: %s.%s: Param is a %T; use a qq.Object or a map[string]any", r.Module, r.Method, r.Param)
		}
	}
	if err := c.bootstrap(ctx); err != nil {
		return nil, err
	}
	out := make([]Result, 0, len(reqs))
	for start := 0; start < len(reqs); start += maxBatch {
		end := min(start+maxBatch, len(reqs))
		res, err := c.send(ctx, reqs[start:end])
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
	}
	return out, nil
}

// send posts one batch without bootstrapping. Items answered 2000
// (signature required) are sent once more through the signed gateway, and
// their methods are signed from then on (see resendSigned).
func (c *Client) send(ctx context.Context, reqs []Request) ([]Result, error) {
	res, signed, err := c.sendOnce(ctx, reqs)
	if err == nil && !signed {
		res, err = c.resendSigned(ctx, reqs, res)
	}
	if c.onResult != nil {
		for i, r := range reqs {
			rerr := err
			if err == nil && i < len(res) {
				rerr = res[i].Err
			}
			c.onResult(r.Module, r.Method, rerr)
		}
	}
	return res, err
}

// sendOnce posts one batch and reports whether it went signed.
func (c *Client) sendOnce(ctx context.Context, reqs []Request) ([]Result, bool, error) {
	c.mu.Lock()
	dev := c.dev.clone()
	cred := c.cred.clone()
	c.mu.Unlock()
	if reqs[0].Credential != nil {
		cred = reqs[0].Credential.clone()
	}

	comm := androidComm(dev, cred)
	set := map[string]any{}
	signed := false
	for _, r := range reqs {
		signed = signed || r.Signed || c.needsSigning(r.Module, r.Method)
		for _, f := range r.Comm {
			if prev, ok := set[f.Key]; ok && fmt.Sprint(prev) != fmt.Sprint(f.Value) {
				return nil, false, fmt.Errorf("qq: batched requests set comm %q to different values; send them separately", f.Key)
			}
			set[f.Key] = f.Value
			if f.Value == nil {
				comm.Delete(f.Key)
			} else {
				comm.Set(f.Key, f.Value)
			}
		}
	}
	body := make(Object, 0, len(reqs)+1)
	body = append(body, Field{"comm", comm})
	for i, r := range reqs {
		param := any(Object{})
		if r.Param != nil {
			param = boolsToInts(r.Param)
		}
		body = append(body, Field{"req_" + strconv.Itoa(i), Object{{"module", r.Module}, {"method", r.Method}, {"param", param}}})
	}
	payload, err := encodeCompact(body)
	if err != nil {
		return nil, false, fmt.Errorf("qq: encoding %s.%s: %w", reqs[0].Module, reqs[0].Method, err)
	}

	target := musicuURL
	if signed {
		target = musicsURL + "?_=" + strconv.FormatInt(c.now().UnixMilli(), 10) + "&sign=" + Sign(payload)
	}
	raw, err := c.post(ctx, target, payload, dev, cred)
	if err != nil {
		return nil, signed, err
	}
	res, err := c.decodeBatch(raw, reqs, cred)
	return res, signed, err
}

// post sends payload and returns the reply body of a 200 answer.
func (c *Client) post(ctx context.Context, target string, payload []byte, dev *Device, cred *Credential) ([]byte, error) {
	target = c.URL(target)
	shown := stripQuery(target)
	if err := c.Wait(ctx); err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("qq: building request to %s: %w", shown, err)
	}
	hreq.Header.Set("Content-Type", "application/json;charset=utf-8")
	hreq.Header.Set("User-Agent", androidUserAgent(dev))
	// No cookies: the reference carries the credential in comm.qq and
	// comm.authst only; cookies on the gateway would set us apart.
	start := c.now()
	resp, err := c.hc.Do(hreq)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &NetworkError{URL: shown, Err: ctx.Err()}
		}
		return nil, &NetworkError{URL: shown, Err: scrubURLError(err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyLen+1))
	if err != nil {
		return nil, &NetworkError{URL: shown, Err: err}
	}
	c.log.Debug("qq: musicu reply", "url", shown, "status", resp.StatusCode, "bytes", len(raw), "elapsed", c.now().Sub(start))
	if resp.StatusCode != http.StatusOK {
		return nil, &HTTPStatusError{Status: resp.StatusCode, URL: shown}
	}
	if len(raw) > maxBodyLen {
		return nil, &MalformedResponseError{What: "reply larger than 8 MiB", Excerpt: excerpt(raw, cred.secrets()...)}
	}
	return raw, nil
}

// scrubURLError drops the URL (which may hold a sign) from a *url.Error.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

func stripQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.RawQuery = ""
	u.Fragment = ""
	u.User = nil
	return u.String()
}

type wireItem struct {
	Code *FlexInt        `json:"code"`
	Data json.RawMessage `json:"data"`
}

func (c *Client) decodeBatch(raw []byte, reqs []Request, cred *Credential) ([]Result, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		if err == nil {
			err = errors.New("reply is null")
		}
		return nil, &MalformedResponseError{What: "musicu reply is not a JSON object", Excerpt: excerpt(raw, cred.secrets()...), Err: err}
	}
	if rc, ok := top["code"]; ok {
		var code FlexInt
		if err := json.Unmarshal(rc, &code); err != nil {
			return nil, &MalformedResponseError{What: "top-level code", Excerpt: excerpt(raw, cred.secrets()...), Err: err}
		}
		if code != 0 {
			return nil, &GatewayError{Code: int(code)}
		}
	}
	out := make([]Result, len(reqs))
	for i, r := range reqs {
		res := Result{Module: r.Module, Method: r.Method}
		key := "req_" + strconv.Itoa(i)
		rawItem, ok := top[key]
		var item wireItem
		switch {
		case !ok:
			res.Err = &MalformedResponseError{What: "reply has no " + key + " for " + r.Module + "." + r.Method, Excerpt: excerpt(raw, cred.secrets()...)}
		default:
			if err := json.Unmarshal(rawItem, &item); err != nil {
				res.Err = &MalformedResponseError{What: key + " of " + r.Module + "." + r.Method, Excerpt: excerpt(rawItem, cred.secrets()...), Err: err}
			}
		}
		if res.Err == nil {
			if item.Code != nil {
				res.Code = int(*item.Code)
			}
			res.Data = item.Data
			if len(bytes.TrimSpace(res.Data)) == 0 {
				res.Data = json.RawMessage("{}")
			}
			res.Err = itemError(r.Module, r.Method, res.Code, res.Data)
		}
		out[i] = res
	}
	return out, nil
}

// itemError turns a non-zero item code into its typed error.
func itemError(module, method string, code int, data json.RawMessage) error {
	if code == 0 {
		return nil
	}
	ae := &APIError{Module: module, Method: method, Code: code, Data: data}
	if code == CodeRateLimited {
		var d struct {
			FeedbackURL FlexString `json:"feedbackURL"`
		}
		_ = json.Unmarshal(data, &d) // best effort: the URL is optional
		return &RateLimitError{APIError: ae, FeedbackURL: string(d.FeedbackURL)}
	}
	return ae
}
