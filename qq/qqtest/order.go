package qqtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// AndroidCommOrder is the order in which the reference sends the Android
// comm keys (its CommonParams declaration; qqmusic-protocol.md section 1).
// Keys a call adds come after them, in the call's order.
var AndroidCommOrder = []string{
	"ct", "cv", "v", "tmeAppID", "chid", "qq", "authst", "tmeLoginType", "QIMEI", "QIMEI36",
	"OpenUDID", "OpenUDID2", "udid", "aid", "uid", "sid", "os_ver", "phonetype", "devicelevel",
	"newdevicelevel", "rom",
}

// orderDeviations compares the key order of a gateway body with the
// reference's: comm first, then req_0, req_1, ...; the comm keys in
// AndroidCommOrder up to rom, the call's own after; each item as module,
// method, param. The reference sends its dicts in insertion order, so a
// client that sorts keys (or sends them at random) stands out.
func orderDeviations(where string, body []byte) []string {
	var out []string
	top, err := objectKeys(body)
	if err != nil {
		return nil // parseEnvelope reports a body that is not an object
	}
	want := []string{"comm"}
	for i := range len(top) - 1 {
		want = append(want, fmt.Sprintf("req_%d", i))
	}
	if !slices.Equal(keysOf(top), want) {
		out = append(out, fmt.Sprintf("%s: body keys in the order %s, want %s", where, strings.Join(keysOf(top), ","), strings.Join(want, ",")))
	}
	for _, kv := range top {
		keys, err := objectKeys(kv.raw)
		if err != nil {
			continue
		}
		if kv.key == "comm" {
			if bad := commOrder(keysOf(keys)); bad != "" {
				out = append(out, where+": "+bad)
			}
			continue
		}
		if got := keysOf(keys); !slices.Equal(got, []string{"module", "method", "param"}) {
			out = append(out, fmt.Sprintf("%s: %s keys in the order %s, want module,method,param", where, kv.key, strings.Join(got, ",")))
		}
	}
	return out
}

// commOrder checks the comm keys: those of AndroidCommOrder, up to rom,
// in that order.
func commOrder(keys []string) string {
	end := slices.Index(keys, "rom")
	if end < 0 {
		end = len(keys) - 1
	}
	last := -1
	for _, k := range keys[:end+1] {
		i := slices.Index(AndroidCommOrder, k)
		if i < 0 {
			return fmt.Sprintf("comm key %s comes before rom; the reference appends a call's own keys after the Android comm", k)
		}
		if i < last {
			return fmt.Sprintf("comm keys in the order %s, want the reference's %s", strings.Join(keys, ","), strings.Join(AndroidCommOrder, ","))
		}
		last = i
	}
	return ""
}

type keyRaw struct {
	key string
	raw json.RawMessage
}

func keysOf(kvs []keyRaw) []string {
	out := make([]string, len(kvs))
	for i, kv := range kvs {
		out[i] = kv.key
	}
	return out
}

// objectKeys returns a JSON object's keys and raw values in the order
// they were sent.
func objectKeys(raw []byte) ([]keyRaw, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("not an object")
	}
	var out []keyRaw
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, keyRaw{k, v})
	}
	return out, nil
}

// checkParamOrder reports param keys sent out of the reference's order.
func checkParamOrder(where string, order []string, raw json.RawMessage) []string {
	if order == nil {
		return nil
	}
	kvs, err := objectKeys(raw)
	if err != nil {
		return nil
	}
	var got []string
	last := -1
	bad := false
	for _, k := range keysOf(kvs) {
		i := slices.Index(order, k)
		if i < 0 {
			continue
		}
		got = append(got, k)
		if i < last {
			bad = true
		}
		last = max(last, i)
	}
	if !bad {
		return nil
	}
	return []string{fmt.Sprintf("%s: param keys in the order %s, want the reference's %s", where, strings.Join(got, ","), strings.Join(order, ","))}
}
