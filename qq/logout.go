package qq

import (
	"context"
	"fmt"
)

// Logout ends the login on QQ Music's side (music.login.LoginServer
// Logout, param {}, with the credential), so the musickey stops working
// there too, not only here. On success the client's credential is cleared
// in memory; the credential file is left alone (the caller decides about
// it). It refuses locally, before any request, with ErrCredentialRequired
// when there is no login. A failure leaves the credential in place and is
// typed like any call's (*APIError, *NetworkError, ...): the logout may or
// may not have reached the server when the error is a network one.
func (c *Client) Logout(ctx context.Context) error {
	cred := c.Credential()
	if !cred.HasLogin() {
		return fmt.Errorf("Logout: %w", ErrCredentialRequired)
	}
	if _, err := c.Call(ctx, Request{Module: moduleLogin, Method: "Logout", Param: Object{}, Credential: cred}); err != nil {
		return fmt.Errorf("qq: logging out of QQ Music: %w", err)
	}
	c.mu.Lock()
	if c.cred.MusicID == cred.MusicID && c.cred.MusicKey == cred.MusicKey {
		c.cred = &Credential{}
	}
	c.mu.Unlock()
	c.log.Info("qq: logged out of QQ Music", "musicid", cred.MusicID)
	return nil
}
