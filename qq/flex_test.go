package qq

import (
	"encoding/json"
	"testing"
)

func TestFlexInt(t *testing.T) {
	for in, want := range map[string]FlexInt{
		`12`: 12, `-7`: -7, `"12"`: 12, `" 13 "`: 13, `"1.9"`: 1, `1.9`: 1, `1e3`: 1000, `null`: 0, `true`: 1, `false`: 0,
		`""`: 0, `"abc"`: 0, `1e400`: 9223372036854775807, `-1e400`: -9223372036854775808, `12345678901234567890`: 9223372036854775807,
	} {
		var v struct{ N FlexInt }
		if err := json.Unmarshal([]byte(`{"N":`+in+`}`), &v); err != nil {
			t.Errorf("%s: %v", in, err)
		} else if v.N != want {
			t.Errorf("%s -> %d, want %d", in, v.N, want)
		}
	}
	for _, in := range []string{`{}`, `[1]`} {
		var v struct{ N FlexInt }
		if err := json.Unmarshal([]byte(`{"N":`+in+`}`), &v); err == nil {
			t.Errorf("%s decoded as an integer", in)
		}
	}
}

func TestFlexString(t *testing.T) {
	for in, want := range map[string]FlexString{
		`"a"`: "a", `"a\"b\u00e9"`: `a"bé`, `12345678901234567890`: "12345678901234567890", `1.5`: "1.5", `true`: "true", `null`: "", `"中文"`: "中文",
	} {
		var v struct{ S FlexString }
		if err := json.Unmarshal([]byte(`{"S":`+in+`}`), &v); err != nil {
			t.Errorf("%s: %v", in, err)
		} else if v.S != want {
			t.Errorf("%s -> %q, want %q", in, v.S, want)
		}
	}
	var v struct{ S FlexString }
	if err := json.Unmarshal([]byte(`{"S":{"x":1}}`), &v); err == nil {
		t.Error("object decoded as a string")
	}
}

func TestFlexBool(t *testing.T) {
	for in, want := range map[string]FlexBool{`true`: true, `false`: false, `1`: true, `0`: false, `"1"`: true, `"true"`: true, `"false"`: false, `""`: false, `null`: false, `2`: true} {
		var v struct{ B FlexBool }
		if err := json.Unmarshal([]byte(`{"B":`+in+`}`), &v); err != nil {
			t.Errorf("%s: %v", in, err)
		} else if v.B != want {
			t.Errorf("%s -> %v", in, v.B)
		}
	}
}
