package qq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// ErrCredentialDamaged marks a credential file that exists but cannot be
// read as a credential: empty, truncated, not JSON, or a login field of the
// wrong type (a musicid that is not a number, a musickey that is not a
// string). Such a file is not "no login": the caller sets it aside and asks
// for a new login.
var ErrCredentialDamaged = errors.New("qq: the credential file is damaged")

// checkLoginFields refuses a login field of the wrong type, which the
// tolerant decoder would otherwise read as an absent login. A file without
// these fields, or with them empty, is a file without a login, not damage.
func checkLoginFields(raw []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	if v, ok := m["musicid"]; ok {
		v = bytes.TrimSpace(v)
		switch {
		case bytes.Equal(v, []byte("null")):
		case len(v) > 0 && v[0] == '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return err
			}
			if _, err := strconv.ParseInt(s, 10, 64); s != "" && err != nil {
				return fmt.Errorf("musicid is %s, not a number", truncate(string(v), 32))
			}
		default:
			var n json.Number
			if err := json.Unmarshal(v, &n); err != nil {
				return fmt.Errorf("musicid is %s, not a number", truncate(string(v), 32))
			}
		}
	}
	if v, ok := m["musickey"]; ok {
		v = bytes.TrimSpace(v)
		if len(v) == 0 || (v[0] != '"' && !bytes.Equal(v, []byte("null"))) {
			return errors.New("musickey is not a string")
		}
	}
	return nil
}
