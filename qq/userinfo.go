package qq

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
)

// LoginUser is what GetLoginUserInfo tells of the logged-in account.
type LoginUser struct {
	UIN        string
	Nick       string
	AvatarURL  string
	EncryptUIN string
}

// LoginUser asks the server who the credential belongs to
// (music.UserInfo.userInfoServer GetLoginUserInfo). The reply's shape is
// not documented: the nick is looked for at the top of data and in its
// usual sub-objects, and a reply without one gives an empty Nick, not an
// error. Errors are those of CheckCredential.
func (c *Client) LoginUser(ctx context.Context) (LoginUser, error) {
	if !c.Credential().HasLogin() {
		return LoginUser{}, fmt.Errorf("GetLoginUserInfo: %w", ErrCredentialRequired)
	}
	data, err := c.Call(ctx, Request{Module: moduleUserInfo, Method: "GetLoginUserInfo", Param: Object{}})
	if err != nil {
		return LoginUser{}, err
	}
	u := decodeLoginUser(data)
	if u.UIN == "" {
		u.UIN = strconv.FormatInt(c.Credential().MusicID, 10)
	}
	return u, nil
}

// decodeLoginUser reads the fields it knows from any of the shapes seen.
func decodeLoginUser(data json.RawMessage) LoginUser {
	type fields struct {
		UIN        *FlexString `json:"uin"`
		MusicID    *FlexString `json:"musicid"`
		Nick       *FlexString `json:"nick"`
		Nickname   *FlexString `json:"nickname"`
		Name       *FlexString `json:"name"`
		HeadPic    *FlexString `json:"headpic"`
		Avatar     *FlexString `json:"avatar"`
		EncryptUin *FlexString `json:"encryptUin"`
		EncryptUI2 *FlexString `json:"encrypt_uin"`
	}
	var top struct {
		fields
		Creator *fields `json:"creator"`
		Info    *fields `json:"info"`
		User    *fields `json:"user"`
	}
	var u LoginUser
	if json.Unmarshal(data, &top) != nil {
		return u
	}
	pick := func(vs ...*FlexString) string {
		for _, v := range vs {
			if v != nil && string(*v) != "" {
				return string(*v)
			}
		}
		return ""
	}
	for _, f := range []*fields{&top.fields, top.Creator, top.Info, top.User} {
		if f == nil {
			continue
		}
		if u.Nick == "" {
			u.Nick = pick(f.Nick, f.Nickname, f.Name)
		}
		if u.UIN == "" {
			u.UIN = pick(f.UIN, f.MusicID)
		}
		if u.AvatarURL == "" {
			u.AvatarURL = pick(f.HeadPic, f.Avatar)
		}
		if u.EncryptUIN == "" {
			u.EncryptUIN = pick(f.EncryptUin, f.EncryptUI2)
		}
	}
	if u.UIN == "0" {
		u.UIN = ""
	}
	return u
}
