package qq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

const (
	moduleUserInfo = "music.UserInfo.userInfoServer"
	moduleLogin    = "music.login.LoginServer"
)

// CheckCredential asks the server whether the current credential is still
// accepted (music.UserInfo.userInfoServer GetLoginUserInfo). It returns nil
// when it is, an error satisfying errors.Is(err, ErrCredentialExpired) when
// the server refuses it, ErrCredentialRequired (without any request) when
// there is no musicid/musickey, and other errors as Call does.
func (c *Client) CheckCredential(ctx context.Context) error {
	if !c.Credential().HasLogin() {
		return fmt.Errorf("GetLoginUserInfo: %w", ErrCredentialRequired)
	}
	_, err := c.Call(ctx, Request{Module: moduleUserInfo, Method: "GetLoginUserInfo", Param: Object{}})
	return err
}

// CheckCandidate asks the server whether cred (not the client's credential,
// which stays in use) is accepted, with the errors of CheckCredential. Use
// it before adopting a credential from elsewhere.
func (c *Client) CheckCandidate(ctx context.Context, cred *Credential) error {
	if !cred.HasLogin() {
		return fmt.Errorf("GetLoginUserInfo: %w", ErrCredentialRequired)
	}
	_, err := c.Call(ctx, Request{Module: moduleUserInfo, Method: "GetLoginUserInfo", Param: Object{}, Credential: cred.clone()})
	return err
}

// RefreshParams returns the Login (loginMode 2) parameters that refresh
// cred, chosen by its login type as the reference library does.
func RefreshParams(cred *Credential) Object {
	strID := cred.StrMusicID
	if strID == "" {
		strID = fmt.Sprint(cred.MusicID)
	}
	switch cred.LoginType {
	case LoginTypeWeChat:
		return Object{
			{"openid", cred.OpenID}, {"refresh_token", cred.RefreshToken}, {"str_musicid", strID},
			{"musickey", cred.MusicKey}, {"unionid", cred.UnionID}, {"refresh_key", cred.RefreshKey}, {"loginMode", 2},
		}
	case LoginTypeQQ:
		return Object{
			{"openid", cred.OpenID}, {"access_token", cred.AccessToken}, {"refresh_token", cred.RefreshToken},
			{"expired_in", cred.ExpiredAt}, {"musicid", cred.MusicID}, {"musickey", cred.MusicKey},
			{"refresh_key", cred.RefreshKey}, {"loginMode", 2},
		}
	default:
		return Object{
			{"openid", cred.OpenID}, {"access_token", cred.AccessToken}, {"refresh_token", cred.RefreshToken},
			{"expired_in", cred.ExpiredAt}, {"str_musicid", strID}, {"musicid", cred.MusicID}, {"musickey", cred.MusicKey},
			{"unionid", cred.UnionID}, {"refresh_key", cred.RefreshKey}, {"loginMode", 2},
		}
	}
}

// RefreshCredential renews the musickey (music.login.LoginServer Login,
// loginMode 2, parameters by login type, comm tmeLoginType). On success the
// new credential replaces the client's, is written to
// Options.CredentialFile when one is set, and is returned. Fields the reply
// leaves out keep their old values, and so does the login type.
//
// A refused refresh is an *APIError (errors.Is ErrCredentialExpired for
// 1000/104400/104401: log in again); LoginCodeText explains other codes.
//
// Concurrent calls do not refresh twice: a call that waited for another
// one's refresh returns that result.
func (c *Client) RefreshCredential(ctx context.Context) (*Credential, error) {
	c.mu.Lock()
	gen := c.refreshGen
	c.mu.Unlock()
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	c.mu.Lock()
	done := c.refreshGen != gen
	c.mu.Unlock()
	if done {
		return c.Credential(), nil
	}
	old := c.Credential()
	if !old.HasLogin() {
		return nil, fmt.Errorf("Login (refresh): %w", ErrCredentialRequired)
	}
	data, err := c.Call(ctx, Request{
		Module: moduleLogin, Method: "Login",
		Param:      RefreshParams(old),
		Comm:       Object{{"tmeLoginType", old.LoginType}},
		Credential: old,
	})
	if err != nil {
		return nil, err
	}
	fresh, err := mergeCredential(old, data)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.cred = fresh.clone()
	c.refreshGen++
	c.mu.Unlock()
	if c.credFile != "" {
		if err := SaveCredential(c.credFile, fresh); err != nil {
			return fresh, fmt.Errorf("qq: credential refreshed but not saved (it is in use in memory): %w", err)
		}
	}
	c.log.Info("qq: credential refreshed", "musicid", fresh.MusicID, "expires", fresh.ExpiresAt())
	return fresh, nil
}

// mergeCredential overlays a Login reply on old.
func mergeCredential(old *Credential, data json.RawMessage) (*Credential, error) {
	fresh := old.clone()
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil || keys == nil {
		if err == nil {
			err = errors.New("data is null")
		}
		return nil, &MalformedResponseError{What: "Login reply", Excerpt: excerpt(data, old.secrets()...), Err: err}
	}
	if err := json.Unmarshal(data, fresh); err != nil {
		return nil, &MalformedResponseError{What: "Login reply", Excerpt: excerpt(data, old.secrets()...), Err: err}
	}
	_, hasLT := keys["loginType"]
	_, hasLT2 := keys["login_type"]
	if !hasLT && !hasLT2 && old.LoginType != 0 {
		fresh.LoginType = old.LoginType
	}
	if fresh.MusicKey == "" || fresh.MusicID == 0 {
		return nil, &MalformedResponseError{What: "Login reply holds no musicid/musickey", Excerpt: excerpt(data, append(old.secrets(), fresh.secrets()...)...)}
	}
	return fresh, nil
}
