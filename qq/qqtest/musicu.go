package qqtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
)

// item is one req_N of a gateway body.
type item struct {
	key    string
	module string
	method string
	param  map[string]any
	raw    json.RawMessage
	bad    string // why the item could not be understood
	spec   *Method
	fault  *Fault
}

func (s *Server) serveGateway(w http.ResponseWriter, r *http.Request, signed bool) {
	where := "musicu.fcg"
	if signed {
		where = "musics.fcg"
	}
	if r.Method != http.MethodPost {
		s.deviate("%s: HTTP method %s, want POST", where, r.Method)
		writeJSON(w, http.StatusOK, map[string]any{"code": CodeBadRequest})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		s.deviate("%s: reading the body: %v", where, err)
		writeJSON(w, http.StatusOK, map[string]any{"code": CodeBadRequest})
		return
	}
	comm, items, perr := parseEnvelope(body)
	if perr != "" {
		s.deviate("%s: %s", where, perr)
		writeJSON(w, http.StatusOK, map[string]any{"code": CodeBadRequest})
		return
	}
	names := make([]string, 0, len(items))
	for _, it := range items {
		names = append(names, it.method)
	}
	for _, d := range orderDeviations(fmt.Sprintf("%s[%s]", where, strings.Join(names, ",")), body) {
		s.deviate("%s", d)
	}

	signOK := true
	if signed {
		q := r.URL.Query()
		if q.Get("sign") != qq.Sign(body) {
			signOK = false
			s.deviate("musics.fcg: sign %q is not the zzc sign of the body bytes", q.Get("sign"))
		}
		if _, err := strconv.ParseInt(q.Get("_"), 10, 64); err != nil {
			s.deviate("musics.fcg: query _=%q is not a unix time in ms", q.Get("_"))
		}
	}

	cookies := map[string]string{}
	for _, c := range r.Cookies() {
		cookies[c.Name] = c.Value
	}

	s.admit(where, r, comm, cookies, items, signed)

	var whole *Fault
	for _, it := range items {
		if it.fault != nil && it.fault.whole() {
			whole = it.fault
			break
		}
	}
	if whole != nil && s.logger != nil {
		s.logger.Debug("qqtest: whole-request fault", "path", where, "kind", whole.Kind.String(), "after_apply", whole.AfterApply)
	}
	if whole != nil && !whole.AfterApply {
		if s.applyWhole(w, r, whole) {
			return
		}
	}

	// Besides the items, the reply carries ts, start_ts and traceid at the
	// top level, as real gateway replies are commonly seen to (not in the
	// facts sheet); a client must not take them for items.
	s.mu.Lock()
	start := s.clock().UnixMilli()
	trace := s.randHexLocked(16)
	s.mu.Unlock()
	resp := make(map[string]any, len(items)+4)
	resp["code"] = 0
	resp["start_ts"] = start
	resp["traceid"] = trace
	for _, it := range items {
		rep := s.dispatch(r, it, comm, cookies, signed, signOK)
		resp[it.key] = rep
		if s.logger != nil {
			s.logger.Debug("qqtest: gateway item", "path", where, "method", it.method, "code", rep["code"])
		}
	}

	s.mu.Lock()
	resp["ts"] = s.clock().UnixMilli()
	s.mu.Unlock()

	if whole != nil && whole.AfterApply {
		if s.applyWhole(w, r, whole) {
			return
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// admit looks the items up, checks the request against the facts, counts
// and logs the items and picks their faults (injected or rate limit).
func (s *Server) admit(where string, r *http.Request, comm map[string]any, cookies map[string]string, items []*item, signed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, it := range items {
		it.spec = s.methods[it.module+"/"+it.method]
	}
	for _, d := range s.checkRequestLocked(where, r, comm, cookies, items) {
		s.addDeviationLocked(d)
	}
	now := s.clock()
	for _, it := range items {
		s.counts[it.method]++
		s.logLocked(Request{Time: now, Path: r.URL.Path, Module: it.module, Method: it.method, Param: it.raw, Comm: comm, Cookies: cookies, Signed: signed})
		it.fault = s.takeFaultLocked(it.method)
		if it.fault == nil && it.spec != nil && it.spec.Auth && s.limiter != nil && !s.limiter.allow(now) {
			it.fault = &Fault{Kind: RateLimited}
		}
	}
}

// dispatch answers one item: its injected fault, or the refusal the real
// server would give, or the method's handler.
func (s *Server) dispatch(r *http.Request, it *item, comm map[string]any, cookies map[string]string, signed, signOK bool) map[string]any {
	if it.fault != nil && !it.fault.whole() {
		return s.faultReply(it.fault)
	}
	if it.bad != "" {
		return map[string]any{"code": CodeBadRequest, "data": map[string]any{"msg": it.bad}}
	}
	if it.spec == nil {
		return map[string]any{"code": CodeBadRequest, "data": map[string]any{"msg": "no such module/method"}}
	}
	if !signOK {
		return map[string]any{"code": CodeSignatureRequired, "data": map[string]any{}}
	}
	s.mu.Lock()
	needSign := s.signRequired[it.method]
	s.mu.Unlock()
	if needSign && !signed {
		return map[string]any{"code": CodeSignatureRequired, "data": map[string]any{}}
	}
	c := &Call{Module: it.module, Method: it.method, Param: it.param, Comm: comm, Cookies: cookies, Header: r.Header, Signed: signed, s: s}
	if it.spec.Auth {
		if code := s.authenticate(c); code != 0 {
			return map[string]any{"code": code, "data": map[string]any{}}
		}
	}
	rep := it.spec.Handle(c)
	data := rep.Data
	if data == nil {
		data = map[string]any{}
	}
	return map[string]any{"code": rep.Code, "data": data}
}

// parseEnvelope decodes a gateway body: comm and the items, sorted as
// req_0, req_1, ... req_10 (other keys after, by name).
func parseEnvelope(body []byte) (map[string]any, []*item, string) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, nil, fmt.Sprintf("body is not a JSON object: %v", err)
	}
	if top == nil {
		return nil, nil, "body is JSON null"
	}
	var comm map[string]any
	if raw, ok := top["comm"]; ok {
		if err := decodeNumbers(raw, &comm); err != nil || comm == nil {
			return nil, nil, "comm is not a JSON object"
		}
	} else {
		return nil, nil, "body has no comm"
	}
	var items []*item
	for k, raw := range top {
		if k == "comm" {
			continue
		}
		it := &item{key: k}
		var env struct {
			Module string          `json:"module"`
			Method string          `json:"method"`
			Param  json.RawMessage `json:"param"`
		}
		if err := json.Unmarshal(raw, &env); err != nil {
			it.bad = fmt.Sprintf("item %s is not a {module, method, param} object", k)
		} else {
			it.module, it.method, it.raw = env.Module, env.Method, env.Param
			if len(env.Param) == 0 || string(env.Param) == "null" {
				it.param = map[string]any{}
				it.raw = json.RawMessage("{}")
			} else if err := decodeNumbers(env.Param, &it.param); err != nil || it.param == nil {
				it.bad = fmt.Sprintf("item %s: param is not a JSON object", k)
				it.param = map[string]any{}
			}
		}
		items = append(items, it)
	}
	if len(items) == 0 {
		return nil, nil, "body has no req_N item"
	}
	sort.Slice(items, func(i, j int) bool { return itemLess(items[i].key, items[j].key) })
	return comm, items, ""
}

func itemLess(a, b string) bool {
	na, ea := strconv.Atoi(strings.TrimPrefix(a, "req_"))
	nb, eb := strconv.Atoi(strings.TrimPrefix(b, "req_"))
	switch {
	case ea == nil && eb == nil && strings.HasPrefix(a, "req_") && strings.HasPrefix(b, "req_"):
		return na < nb
	case strings.HasPrefix(a, "req_") != strings.HasPrefix(b, "req_"):
		return strings.HasPrefix(a, "req_")
	}
	return a < b
}

func decodeNumbers(raw []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}
