package qqtest

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Method is one module/method the gateway serves. The built-in methods are
// registered by New; Register adds more (or replaces one), which is how the
// login calls can be added in their own files.
type Method struct {
	Module string // e.g. "music.privateMsg.PrivateMsgRead"
	Name   string // e.g. "GetSessionList"; counts and faults are keyed by it

	// Auth makes the double check the account's comm.qq/authst
	// before calling Handle, answering the expired code when they do not
	// match or the musickey has expired.
	Auth bool

	// Params describes the expected param keys, to report deviations:
	// "s" string, "i" integer, "o" object, "a" array; a trailing "!" marks
	// the key as always sent. Keys not listed are reported. Nil skips the
	// check.
	Params map[string]string

	// ParamOrder is the order in which the reference sends the param keys
	// (qqmusic-protocol.md section 4); keys sent out of it are reported.
	// Keys it does not list are not checked for order. Nil skips the check.
	ParamOrder []string

	// Comm lists the comm keys this call adds to or overrides in the
	// Android comm, with their expected values (e.g. {"tmeLoginType": 2}).
	// A nil value only allows the key.
	Comm map[string]any

	// Handle answers the call. It runs without the server's lock held, so
	// it may call the Server's exported methods.
	Handle func(c *Call) Reply
}

// Reply is one item's answer: {"code": Code, "data": Data}. A nil Data is
// sent as {}.
type Reply struct {
	Code int
	Data any
}

// Call is one gateway item as a Method's handler sees it.
type Call struct {
	Module, Method string
	Param          map[string]any // numbers are json.Number
	Comm           map[string]any // numbers are json.Number
	Cookies        map[string]string
	Header         http.Header
	Signed         bool // it came through musics.fcg with a good sign

	s *Server
}

// Server returns the server the call came to.
func (c *Call) Server() *Server { return c.s }

// Str returns param key as a string ("" when absent; a number's text when
// the client sent a number).
func (c *Call) Str(key string) string { return asString(c.Param[key]) }

// Int returns param key as an integer (0 when absent or not a number; a
// numeric string is accepted).
func (c *Call) Int(key string) int64 { return asInt(c.Param[key]) }

// Has reports whether the client sent param key.
func (c *Call) Has(key string) bool { _, ok := c.Param[key]; return ok }

func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "1"
		}
		return "0"
	}
	return ""
}

func asInt(v any) int64 {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		if f, err := x.Float64(); err == nil {
			return int64(f)
		}
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
			return n
		}
	case bool:
		if x {
			return 1
		}
	}
	return 0
}

// Register adds m to the gateway (replacing any method with the same
// module and name).
func (s *Server) Register(m Method) {
	if m.Handle == nil {
		m.Handle = func(*Call) Reply {
			return Reply{Code: CodeBadRequest, Data: map[string]any{"msg": "qqtest: " + m.Name + " has no handler"}}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	mm := m
	s.methods[m.Module+"/"+m.Name] = &mm
}

// Lookup returns the registered method, to wrap a built-in handler.
func (s *Server) Lookup(module, name string) (Method, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.methods[module+"/"+name]
	if !ok {
		return Method{}, false
	}
	return *m, true
}

// checkParams reports param keys that are missing, unexpected or of the
// wrong type, and booleans anywhere (the protocol sends them as 0/1).
func checkParams(where string, spec map[string]string, param map[string]any) []string {
	var out []string
	if hasBool(param) {
		out = append(out, where+": param holds a JSON boolean; booleans are sent as 0/1")
	}
	if spec == nil {
		return out
	}
	for key, kind := range spec {
		v, ok := param[key]
		if !ok {
			if strings.HasSuffix(kind, "!") {
				out = append(out, where+": param "+key+" is missing")
			}
			continue
		}
		want := strings.TrimSuffix(kind, "!")
		if got := kindOf(v); got != want && !(want == "o" && v == nil) {
			out = append(out, where+": param "+key+" is "+kindName(got)+", want "+kindName(want))
		}
	}
	var extra []string
	for key := range param {
		if _, ok := spec[key]; !ok {
			extra = append(extra, key)
		}
	}
	sort.Strings(extra)
	for _, key := range extra {
		out = append(out, where+": unexpected param "+key)
	}
	return out
}

func kindOf(v any) string {
	switch x := v.(type) {
	case string:
		return "s"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "i"
		}
		return "f"
	case map[string]any:
		return "o"
	case []any:
		return "a"
	case bool:
		return "b"
	case nil:
		return "null"
	}
	return "?"
}

func kindName(k string) string {
	switch k {
	case "s":
		return "a string"
	case "i":
		return "an integer"
	case "f":
		return "a fractional number"
	case "o":
		return "an object"
	case "a":
		return "an array"
	case "b":
		return "a boolean"
	case "null":
		return "null"
	}
	return "of unknown type"
}

func hasBool(v any) bool {
	switch x := v.(type) {
	case bool:
		return true
	case map[string]any:
		for _, e := range x {
			if hasBool(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasBool(e) {
				return true
			}
		}
	}
	return false
}
