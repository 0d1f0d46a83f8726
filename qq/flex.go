package qq

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FlexInt is an integer field of a QQ reply. It decodes from a JSON number,
// a numeric string ("12", " 12 ", "1.0"), a boolean (1/0) or null (0); a
// string that is not a number decodes as 0, because the server is known to
// send such values in fields nobody relies on. It encodes as a JSON number.
type FlexInt int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *FlexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return fmt.Errorf("qq: empty value for an integer")
	}
	switch b[0] {
	case 'n':
		*n = 0
		return nil
	case 't':
		*n = 1
		return nil
	case 'f':
		*n = 0
		return nil
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*n = FlexInt(parseLooseInt(strings.TrimSpace(s)))
		return nil
	case '{', '[':
		return fmt.Errorf("qq: expected an integer, got %s", kindOf(b[0]))
	}
	if v, ok := parseDigits(b); ok {
		*n = FlexInt(v)
		return nil
	}
	v, ok := parseNumber(string(b))
	if !ok {
		return fmt.Errorf("qq: %q is not a number", truncate(string(b), 32))
	}
	*n = FlexInt(v)
	return nil
}

// parseDigits parses a short optionally negative decimal integer without
// allocating.
func parseDigits(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// parseNumber parses a JSON number into an int64, truncating fractions and
// clamping out-of-range values.
func parseNumber(s string) (int64, bool) {
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !isRangeErr(err) {
		return 0, false
	}
	switch {
	case math.IsNaN(f):
		return 0, true
	case f >= math.MaxInt64:
		return math.MaxInt64, true
	case f <= math.MinInt64:
		return math.MinInt64, true
	}
	return int64(f), true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func parseLooseInt(s string) int64 {
	if s == "" {
		return 0
	}
	v, _ := parseNumber(s)
	return v
}

// FlexString is a string field of a QQ reply. It decodes from a JSON string,
// a number (its literal text, so large ids keep every digit), a boolean
// ("true"/"false") or null (""). It encodes as a JSON string.
type FlexString string

// UnmarshalJSON implements json.Unmarshaler.
func (s *FlexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return fmt.Errorf("qq: empty value for a string")
	}
	switch b[0] {
	case '"':
		if len(b) >= 2 && bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b) {
			*s = FlexString(b[1 : len(b)-1]) // fast path: no escapes
			return nil
		}
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = FlexString(v)
		return nil
	case 'n':
		*s = ""
		return nil
	case '{', '[':
		return fmt.Errorf("qq: expected a string, got %s", kindOf(b[0]))
	}
	// true, false or a number: keep the literal.
	if !json.Valid(b) {
		return fmt.Errorf("qq: invalid JSON value %q", truncate(string(b), 32))
	}
	*s = FlexString(b)
	return nil
}

// String returns s as a plain string.
func (s FlexString) String() string { return string(s) }

// FlexBool is a boolean field of a QQ reply: it decodes from true/false, a
// number (non-zero is true), a string ("1", "true") or null (false).
type FlexBool bool

// UnmarshalJSON implements json.Unmarshaler.
func (v *FlexBool) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return fmt.Errorf("qq: empty value for a boolean")
	}
	switch b[0] {
	case 't':
		*v = true
	case 'f', 'n':
		*v = false
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.ToLower(strings.TrimSpace(s))
		*v = FlexBool(s == "true" || (s != "" && s != "false" && parseLooseInt(s) != 0))
	case '{', '[':
		return fmt.Errorf("qq: expected a boolean, got %s", kindOf(b[0]))
	default:
		n, ok := parseNumber(string(b))
		if !ok {
			return fmt.Errorf("qq: %q is not a boolean", truncate(string(b), 32))
		}
		*v = n != 0
	}
	return nil
}

func kindOf(c byte) string {
	if c == '{' {
		return "an object"
	}
	return "an array"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
