package qq

import (
	"encoding/json"
	"testing"
)

func TestDecodeLoginUser(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       LoginUser
	}{
		{"top level", `{"uin":123,"nick":"Alice","headpic":"https://a/b.jpg","encryptUin":"enc"}`, LoginUser{UIN: "123", Nick: "Alice", AvatarURL: "https://a/b.jpg", EncryptUIN: "enc"}},
		{"creator", `{"creator":{"musicid":"456","nick":"Bob","avatar":"x"}}`, LoginUser{UIN: "456", Nick: "Bob", AvatarURL: "x"}},
		{"info nickname", `{"info":{"nickname":"Carol"}}`, LoginUser{Nick: "Carol"}},
		{"nulls", `{"uin":null,"nick":null,"creator":null}`, LoginUser{}},
		{"zero uin", `{"uin":0}`, LoginUser{}},
		{"not an object", `[1,2]`, LoginUser{}},
		{"wrong types", `{"nick":{"a":1}}`, LoginUser{}},
		{"empty", ``, LoginUser{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := decodeLoginUser(json.RawMessage(tc.data)); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
