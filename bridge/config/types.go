package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as a Go duration string ("2s",
// "1m30s"). A bare number is refused: it would silently mean nanoseconds.
type Duration struct {
	time.Duration
}

// UnmarshalTOML implements toml.Unmarshaler.
func (d *Duration) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("must be a duration string such as \"2s\" or \"1m\", not %v", v)
	}
	x, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration: write a number with a unit, such as \"2s\" or \"1m\"", s)
	}
	if x < 0 {
		return fmt.Errorf("%q is negative", s)
	}
	d.Duration = x
	return nil
}

// MarshalText writes the duration back as a string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Snowflake is a Discord id. The file may give it as a string (recommended)
// or as an integer.
type Snowflake string

// UnmarshalTOML implements toml.Unmarshaler.
func (s *Snowflake) UnmarshalTOML(v any) error {
	var str string
	switch x := v.(type) {
	case string:
		str = strings.TrimSpace(x)
	case int64:
		str = strconv.FormatInt(x, 10)
	default:
		return fmt.Errorf("must be a Discord id (a string of digits), not %v", v)
	}
	if str == "" {
		*s = ""
		return nil
	}
	if n, err := strconv.ParseUint(str, 10, 64); err != nil || n == 0 {
		return fmt.Errorf("%q is not a Discord id: copy it with Developer Mode's \"Copy ID\"", str)
	}
	*s = Snowflake(str)
	return nil
}

// String returns the id.
func (s Snowflake) String() string { return string(s) }

// findKeyLine returns the 1-based line where a dotted key is set, or 0.
// It understands [table] headers and bare or quoted keys; it is only used
// to point at the line in error messages.
func findKeyLine(text, key string) int {
	if key == "" {
		return 0
	}
	parts := splitKey(key)
	table := ""
	for i, line := range strings.Split(text, "\n") {
		l := strings.TrimSpace(line)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, "[") {
			h := strings.Trim(stripComment(l), "[] \t")
			table = strings.Join(splitKey(h), ".")
			if table == strings.Join(parts, ".") {
				return i + 1
			}
			continue
		}
		k, _, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		full := strings.Join(splitKey(strings.TrimSpace(k)), ".")
		if table != "" {
			full = table + "." + full
		}
		if full == strings.Join(parts, ".") {
			return i + 1
		}
	}
	// A key of an inline table or a nested key: point at its parent.
	if len(parts) > 1 {
		return findKeyLine(text, strings.Join(quoteParts(parts[:len(parts)-1]), "."))
	}
	return 0
}

func stripComment(l string) string {
	if i := strings.Index(l, "#"); i >= 0 {
		return l[:i]
	}
	return l
}

// splitKey splits a dotted TOML key into unquoted parts.
func splitKey(k string) []string {
	var parts []string
	var cur strings.Builder
	quote := rune(0)
	for _, r := range k {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote = r
		case r == '.':
			parts = append(parts, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	return append(parts, strings.TrimSpace(cur.String()))
}

func quoteParts(parts []string) []string {
	out := make([]string, len(parts))
	for i, p := range parts {
		if strings.ContainsAny(p, ". ") {
			p = strconv.Quote(p)
		}
		out[i] = p
	}
	return out
}
