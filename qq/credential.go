package qq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Login types (Credential.LoginType, comm tmeLoginType).
const (
	LoginTypeWeChat = 1
	LoginTypeQQ     = 2
	LoginTypeMobile = 6 // QR code scanned with the QQ Music app
)

// Credential is a QQ Music login. Its JSON field names are those of the
// reference library (qqmusic_api Credential), so a credential file exported
// by that library loads as is; the library's Python field names
// (login_type, musickey_create_time, ...) are accepted on input too.
//
// Musickey, RefreshToken, AccessToken and RefreshKey are secrets: never log
// them (String masks them).
type Credential struct {
	OpenID             string `json:"openid"`
	RefreshToken       string `json:"refresh_token"`
	AccessToken        string `json:"access_token"`
	ExpiredAt          int64  `json:"expired_at"`
	MusicID            int64  `json:"musicid"`
	MusicKey           string `json:"musickey"`
	UnionID            string `json:"unionid"`
	StrMusicID         string `json:"str_musicid"`
	RefreshKey         string `json:"refresh_key"`
	MusickeyCreateTime int64  `json:"musickeyCreateTime"`
	KeyExpiresIn       int64  `json:"keyExpiresIn"`
	FirstLogin         int64  `json:"first_login"`
	BindAccountType    int64  `json:"bindAccountType"`
	NeedRefreshKeyIn   int64  `json:"needRefreshKeyIn"`
	EncryptUin         string `json:"encryptUin"`
	LoginType          int    `json:"loginType"`
}

// credentialWire is the tolerant input form: every alias, numbers as
// strings and strings as numbers.
type credentialWire struct {
	OpenID             *FlexString `json:"openid"`
	RefreshToken       *FlexString `json:"refresh_token"`
	AccessToken        *FlexString `json:"access_token"`
	ExpiredAt          *FlexInt    `json:"expired_at"`
	MusicID            *FlexInt    `json:"musicid"`
	MusicKey           *FlexString `json:"musickey"`
	UnionID            *FlexString `json:"unionid"`
	StrMusicID         *FlexString `json:"str_musicid"`
	RefreshKey         *FlexString `json:"refresh_key"`
	MusickeyCreateTime *FlexInt    `json:"musickeyCreateTime"`
	MusickeyCreateTim2 *FlexInt    `json:"musickey_create_time"`
	KeyExpiresIn       *FlexInt    `json:"keyExpiresIn"`
	KeyExpiresIn2      *FlexInt    `json:"key_expires_in"`
	FirstLogin         *FlexInt    `json:"first_login"`
	BindAccountType    *FlexInt    `json:"bindAccountType"`
	BindAccountType2   *FlexInt    `json:"bind_account_type"`
	NeedRefreshKeyIn   *FlexInt    `json:"needRefreshKeyIn"`
	NeedRefreshKeyIn2  *FlexInt    `json:"need_refresh_key_in"`
	EncryptUin         *FlexString `json:"encryptUin"`
	EncryptUin2        *FlexString `json:"encrypt_uin"`
	LoginType          *FlexInt    `json:"loginType"`
	LoginType2         *FlexInt    `json:"login_type"`
}

// UnmarshalJSON decodes a credential. Only the fields present in the input
// are set, so decoding into an existing credential merges; when neither
// loginType nor login_type is present the login type is inferred from the
// musickey: "W_X..." is WeChat (1), any other non-empty key QQ (2).
func (c *Credential) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	var w credentialWire
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("qq: decoding credential: %w", err)
	}
	setS := func(dst *string, vs ...*FlexString) {
		for _, v := range vs {
			if v != nil {
				*dst = string(*v)
				return
			}
		}
	}
	setI := func(dst *int64, vs ...*FlexInt) {
		for _, v := range vs {
			if v != nil {
				*dst = int64(*v)
				return
			}
		}
	}
	setS(&c.OpenID, w.OpenID)
	setS(&c.RefreshToken, w.RefreshToken)
	setS(&c.AccessToken, w.AccessToken)
	setI(&c.ExpiredAt, w.ExpiredAt)
	setI(&c.MusicID, w.MusicID)
	setS(&c.MusicKey, w.MusicKey)
	setS(&c.UnionID, w.UnionID)
	setS(&c.StrMusicID, w.StrMusicID)
	setS(&c.RefreshKey, w.RefreshKey)
	setI(&c.MusickeyCreateTime, w.MusickeyCreateTime, w.MusickeyCreateTim2)
	setI(&c.KeyExpiresIn, w.KeyExpiresIn, w.KeyExpiresIn2)
	setI(&c.FirstLogin, w.FirstLogin)
	setI(&c.BindAccountType, w.BindAccountType, w.BindAccountType2)
	setI(&c.NeedRefreshKeyIn, w.NeedRefreshKeyIn, w.NeedRefreshKeyIn2)
	setS(&c.EncryptUin, w.EncryptUin, w.EncryptUin2)
	switch {
	case w.LoginType != nil:
		c.LoginType = int(*w.LoginType)
	case w.LoginType2 != nil:
		c.LoginType = int(*w.LoginType2)
	case w.MusicKey != nil && *w.MusicKey != "":
		c.LoginType = InferLoginType(c.MusicKey)
	}
	return nil
}

// InferLoginType returns the login type a musickey implies: 1 (WeChat) for
// keys starting "W_X", 2 (QQ) for any other non-empty key, 0 for none.
func InferLoginType(musickey string) int {
	switch {
	case musickey == "":
		return 0
	case strings.HasPrefix(musickey, "W_X"):
		return LoginTypeWeChat
	default:
		return LoginTypeQQ
	}
}

// HasLogin reports whether c has the musicid and musickey that logged-in
// calls need.
func (c *Credential) HasLogin() bool {
	return c != nil && c.MusicID != 0 && c.MusicKey != ""
}

// ExpiresAt is when the musickey expires: musickeyCreateTime + keyExpiresIn.
func (c *Credential) ExpiresAt() time.Time {
	return time.Unix(c.MusickeyCreateTime+c.KeyExpiresIn, 0)
}

// Expired reports whether the musickey has expired at now (now >=
// musickeyCreateTime + keyExpiresIn), as the reference library computes it.
// A credential without these times counts as expired; ask the server
// (CheckCredential) to be sure.
func (c *Credential) Expired(now time.Time) bool {
	return now.Unix() >= c.MusickeyCreateTime+c.KeyExpiresIn
}

// UIN is the account number as the login pages' cookies carry it:
// str_musicid when set, else musicid.
func (c *Credential) UIN() string {
	if c.StrMusicID != "" {
		return c.StrMusicID
	}
	if c.MusicID == 0 {
		return ""
	}
	return strconv.FormatInt(c.MusicID, 10)
}

// String describes the credential without its secrets.
func (c Credential) String() string {
	return fmt.Sprintf("qq.Credential{musicid:%d loginType:%d musickey:%s expires:%s}",
		c.MusicID, c.LoginType, mask(c.MusicKey), c.ExpiresAt().UTC().Format(time.RFC3339))
}

// GoString is String, so %#v does not print secrets either.
func (c Credential) GoString() string { return c.String() }

func mask(s string) string {
	if s == "" {
		return `""`
	}
	return fmt.Sprintf("<%d chars>", len(s))
}

func (c *Credential) clone() *Credential {
	if c == nil {
		return &Credential{}
	}
	cc := *c
	return &cc
}

// secrets returns the credential's secret values, for masking.
func (c *Credential) secrets() []string {
	if c == nil {
		return nil
	}
	return []string{c.MusicKey, c.RefreshToken, c.AccessToken, c.RefreshKey}
}

// LoadCredential reads a credential file (the reference library's JSON). A
// file that is empty, not a JSON credential, or whose musicid or musickey
// has the wrong type is an error that matches ErrCredentialDamaged.
func LoadCredential(path string) (*Credential, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("qq: reading credential file: %w", err)
	}
	var c Credential
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("%w: %s is not a valid credential (%w); log in again to replace it", ErrCredentialDamaged, path, errors.New("the file is empty"))
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%w: %s is not a valid credential (%w); log in again to replace it", ErrCredentialDamaged, path, err)
	}
	if err := checkLoginFields(raw); err != nil {
		return nil, fmt.Errorf("%w: %s is not a valid credential (%w); log in again to replace it", ErrCredentialDamaged, path, err)
	}
	return &c, nil
}

// SaveCredential writes c to path atomically with mode 0600, in the
// reference library's JSON format.
func SaveCredential(path string, c *Credential) error {
	if c == nil {
		return fmt.Errorf("qq: no credential to save")
	}
	raw, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("qq: encoding credential: %w", err)
	}
	return writeFileAtomic(path, raw)
}
