package qqtest

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Constants of the QIMEI request (qqmusic-protocol.md, QIMEI).
const (
	qimeiHeaderSalt = "qimei_qq_androidpzAuCmaFAaFaHrdakPjLIEqKrGnSOOvH"
	qimeiSecret     = "ZdJqM15EeO2zWc08"
	qimeiExtra      = `{"appKey":"0AND0HD6FE4HY80F"}`
	qimeiMaxSkew    = 5 * time.Minute
)

// Codes the QIMEI proxy refuses with (the double's choices).
const (
	CodeQIMEIBadSign   = 1001 // a header or body sign does not match
	CodeQIMEIBadParams = 1002 // headers or body not in the expected shape
)

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// QIMEIHeaderSign is the sign header of a QIMEI request made at unix time ts.
func QIMEIHeaderSign(ts int64) string {
	return md5hex(qimeiHeaderSalt + strconv.FormatInt(ts, 10))
}

// QIMEIBodySign is qimeiParams.sign for the given key, params, nonce and
// extra at unix time ts.
func QIMEIBodySign(key, params string, ts int64, nonce, extra string) string {
	return md5hex(key + params + strconv.FormatInt(ts*1000, 10) + nonce + qimeiSecret + extra)
}

// serveQIMEI answers POST /tme/trpc/proxy (GetQimei). It decrypts nothing:
// it checks the headers and their sign, the body's shape and its sign, and
// issues the server's QIMEI pair.
func (s *Server) serveQIMEI(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.counts["GetQimei"]++
	now := s.clock()
	f := s.takeFaultLocked("GetQimei")
	s.mu.Unlock()

	if f != nil {
		if f.whole() {
			if s.applyWhole(w, r, f) {
				return
			}
		} else {
			rep := s.faultReply(f)
			writeJSON(w, http.StatusOK, map[string]any{"code": rep["code"], "msg": "qqtest: injected fault", "data": "{}"})
			return
		}
	}
	refuse := func(code int, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		s.deviate("QIMEI proxy: %s", msg)
		writeJSON(w, http.StatusOK, map[string]any{"code": code, "msg": msg, "data": "{}"})
	}
	if r.Method != http.MethodPost {
		refuse(CodeQIMEIBadParams, "HTTP method %s, want POST", r.Method)
		return
	}
	h := r.Header
	if ua := h.Get("User-Agent"); ua != "QQMusic" {
		s.deviate("QIMEI proxy: User-Agent %q, want %q", ua, "QQMusic")
	}
	for _, hw := range [][2]string{
		{"method", "GetQimei"},
		{"service", "trpc.tme_datasvr.qimeiproxy.QimeiProxy"},
		{"appid", "qimei_qq_android"},
	} {
		key, want := hw[0], hw[1]
		if got := h.Get(key); got != want {
			refuse(CodeQIMEIBadParams, "header %s = %q, want %q", key, got, want)
			return
		}
	}
	tsText := h.Get("timestamp")
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		refuse(CodeQIMEIBadParams, "header timestamp = %q, want unix seconds", tsText)
		return
	}
	if skew := now.Sub(time.Unix(ts, 0)); skew > qimeiMaxSkew || skew < -qimeiMaxSkew {
		refuse(CodeQIMEIBadSign, "header timestamp %d is %s away from the server's clock", ts, skew.Round(time.Second))
		return
	}
	if got := h.Get("sign"); got != QIMEIHeaderSign(ts) {
		refuse(CodeQIMEIBadSign, "header sign %q is not md5(salt + timestamp)", got)
		return
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		refuse(CodeQIMEIBadParams, "reading the body: %v", err)
		return
	}
	var req struct {
		App    *json.Number `json:"app"`
		OS     *json.Number `json:"os"`
		Params *struct {
			Key    *string `json:"key"`
			Params *string `json:"params"`
			Time   *string `json:"time"`
			Nonce  *string `json:"nonce"`
			Sign   *string `json:"sign"`
			Extra  *string `json:"extra"`
		} `json:"qimeiParams"`
	}
	if err := decodeNumbers(body, &req); err != nil {
		refuse(CodeQIMEIBadParams, "body is not the {app, os, qimeiParams} object: %v", err)
		return
	}
	switch {
	case req.App == nil || req.App.String() != "0":
		refuse(CodeQIMEIBadParams, "body app is not 0")
		return
	case req.OS == nil || req.OS.String() != "1":
		refuse(CodeQIMEIBadParams, "body os is not 1")
		return
	case req.Params == nil:
		refuse(CodeQIMEIBadParams, "body has no qimeiParams")
		return
	}
	p := req.Params
	for name, v := range map[string]*string{"key": p.Key, "params": p.Params, "time": p.Time, "nonce": p.Nonce, "sign": p.Sign, "extra": p.Extra} {
		if v == nil {
			refuse(CodeQIMEIBadParams, "qimeiParams.%s is missing or not a string", name)
			return
		}
	}
	if k, err := base64.StdEncoding.DecodeString(*p.Key); err != nil || len(k) != 128 {
		refuse(CodeQIMEIBadParams, "qimeiParams.key is not base64 of a 1024-bit RSA block")
		return
	}
	if c, err := base64.StdEncoding.DecodeString(*p.Params); err != nil || len(c) == 0 || len(c)%16 != 0 {
		refuse(CodeQIMEIBadParams, "qimeiParams.params is not base64 of AES-CBC blocks")
		return
	}
	if *p.Time != tsText {
		refuse(CodeQIMEIBadParams, "qimeiParams.time %q is not the timestamp header %q", *p.Time, tsText)
		return
	}
	if !hex16Pattern.MatchString(*p.Nonce) {
		refuse(CodeQIMEIBadParams, "qimeiParams.nonce %q is not 16 hex digits", *p.Nonce)
		return
	}
	if *p.Extra != qimeiExtra {
		refuse(CodeQIMEIBadParams, "qimeiParams.extra = %q, want %q", *p.Extra, qimeiExtra)
		return
	}
	if *p.Sign != QIMEIBodySign(*p.Key, *p.Params, ts, *p.Nonce, *p.Extra) {
		refuse(CodeQIMEIBadSign, "qimeiParams.sign is not md5(key + params + ms + nonce + secret + extra)")
		return
	}

	s.mu.Lock()
	q16, q36 := s.qimei16, s.qimei36
	s.qimeiIssued = true
	s.mu.Unlock()
	inner, err := json.Marshal(map[string]any{"code": 0, "msg": "ok", "data": map[string]string{"q16": q16, "q36": q36}})
	if err != nil {
		http.Error(w, "qqtest: encoding the QIMEI reply", http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"code": 0, "msg": "", "data": string(inner)})
}

// QIMEI returns the pair the proxy issues.
func (s *Server) QIMEI() (q16, q36 string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.qimei16, s.qimei36
}
