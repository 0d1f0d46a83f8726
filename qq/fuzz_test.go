package qq

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// The fuzz targets feed arbitrary replies to the decoders: they must
// return an error or a value, never panic, and never put a secret in an
// error. Their seeds (below and under testdata/fuzz) also run as normal
// tests.

const fuzzSecret = "Q_H_L_fuzzsecretvalue"

func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(`{"code":0,"req_0":{"code":0,"data":{"a":1}},"req_1":{"code":2001,"data":{"feedbackURL":"http://x"}}}`))
	f.Add([]byte(`{"code":"0","req_0":{"code":"1000"},"req_1":null}`))
	f.Add([]byte(`{"code":500}`))
	f.Add([]byte(`{"req_0":{"code":0,"data":null},"req_1":[]}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte(`{"code":0,"req_0":"` + fuzzSecret + `"}`))
	c := &Client{}
	reqs := []Request{{Module: "m", Method: "A"}, {Module: "m", Method: "B"}}
	cred := &Credential{MusicID: 1, MusicKey: fuzzSecret}
	f.Fuzz(func(t *testing.T, raw []byte) {
		res, err := c.decodeBatch(raw, reqs, cred)
		if err != nil {
			if strings.Contains(err.Error(), fuzzSecret) {
				t.Fatalf("error leaks the secret: %v", err)
			}
			return
		}
		if len(res) != 2 {
			t.Fatalf("%d results", len(res))
		}
		for _, r := range res {
			if r.Err != nil && strings.Contains(r.Err.Error(), fuzzSecret) {
				t.Fatalf("item error leaks the secret: %v", r.Err)
			}
			if r.Err == nil && r.Code != 0 {
				t.Fatalf("code %d without an error", r.Code)
			}
			var rl *RateLimitError
			if errors.As(r.Err, &rl) && !errors.Is(r.Err, ErrRateLimited) {
				t.Fatal("rate limit error does not match ErrRateLimited")
			}
		}
	})
}

// fuzzDecode decodes raw into T and, when that works, re-encodes and
// decodes the result again, which must work too.
func fuzzDecode[T any](t *testing.T, raw []byte) {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return
	}
	out, err := json.Marshal(&v)
	if err != nil {
		t.Fatalf("re-encoding a decoded value: %v", err)
	}
	var back T
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("decoding our own encoding %s: %v", out, err)
	}
}

func FuzzDecodeSessionList(f *testing.F) {
	f.Add([]byte(sessionListPage(3)))
	f.Add([]byte(`{"has_more":"1","sessions":[null,{"user":null,"new_msg":{"meta_data":null}}],"extra":null}`))
	f.Add([]byte(`{"sessions":[{"session_id":1e400,"sort_time":"x","Ext":{"a":true}}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) { fuzzDecode[SessionList](t, raw) })
}

func FuzzDecodeMessageList(f *testing.F) {
	f.Add([]byte(messagePage(3)))
	f.Add([]byte(`{"PatMap":null,"Attach":null,"messages":[{"id":5,"time":"170","meta_data":{"Duration":"1.5"}}]}`))
	f.Add([]byte(`{"PatMap":{"1":{"Nick":"n","PatTxt":"p"}},"session":{"TailTags":[1,"x",null]}}`))
	f.Fuzz(func(t *testing.T, raw []byte) { fuzzDecode[MessageList](t, raw) })
}

func FuzzDecodeOtherReplies(f *testing.F) {
	f.Add([]byte(`{"messages":[],"session":null,"reason":"3"}`))
	f.Add([]byte(`{"Entries":{"1":[{"EntryType":"2"}]},"CanBeDazi":"true","MsgIDs":{"a":{"id":"a"}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		fuzzDecode[SendResult](t, raw)
		fuzzDecode[ChatEntries](t, raw)
		fuzzDecode[MediaDetails](t, raw)
		fuzzDecode[ConfigResult](t, raw)
		fuzzDecode[OperationResult](t, raw)
		fuzzDecode[Credential](t, raw)
	})
}

func FuzzDecodeQIMEI(f *testing.F) {
	f.Add([]byte(`{"code":0,"data":"{\"data\":{\"q16\":\"a\",\"q36\":\"b\"}}"}`))
	f.Add([]byte(`{"data":{"data":{"q16":1,"q36":2}}}`))
	f.Add([]byte(`{"data":"not json"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		q16, q36, err := decodeQIMEI(raw)
		if err == nil && (q16 == "" || q36 == "") {
			t.Fatal("empty QIMEI without an error")
		}
	})
}
