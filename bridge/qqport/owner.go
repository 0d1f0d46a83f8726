package qqport

import (
	"context"
	"sync"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
)

// OwnerProfileTTL is how long the account's nick and avatar are reused
// before GetLoginUserInfo is asked again: a changed avatar shows, with its
// new URL, within that time.
const OwnerProfileTTL = 10 * time.Minute

// ownerCache keeps the account's profile (GetLoginUserInfo).
type ownerCache struct {
	mu   sync.Mutex
	uin  string
	user qq.LoginUser
	at   time.Time // when asked (also after a failure, to space out asking)
	ok   bool
}

// fillOwner shows the messages the owner typed in the phone app under the
// account's own nick and avatar: the message list may carry a placeholder
// or nothing for them. It asks GetLoginUserInfo only when such a message
// is there, at most once per OwnerProfileTTL; when that fails, the
// messages keep what QQ gave.
func (p *Port) fillOwner(ctx context.Context, msgs []bridge.Message) {
	cred := p.c.Credential()
	own := p.ownUIN()
	var enc string
	if cred != nil {
		enc = cred.EncryptUin
	}
	var mine []*bridge.Message
	for i := range msgs {
		m := &msgs[i]
		if !m.FromOwner && enc != "" && m.Sender.EncryptUIN == enc {
			m.FromOwner = true
			if m.Sender.UIN == "" {
				m.Sender.UIN = own
			}
		}
		if m.FromOwner {
			mine = append(mine, m)
		}
	}
	if len(mine) == 0 {
		return
	}
	u, ok := p.ownerProfile(ctx, own)
	if !ok {
		return
	}
	for _, m := range mine {
		if u.Nick != "" {
			m.Sender.Nick = u.Nick
		}
		if u.AvatarURL != "" {
			m.Sender.AvatarURL = u.AvatarURL
		}
	}
}

func (p *Port) ownerProfile(ctx context.Context, own string) (qq.LoginUser, bool) {
	c := &p.owner
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.uin == own && !c.at.IsZero() && time.Since(c.at) < OwnerProfileTTL {
		return c.user, c.ok
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u, err := p.c.LoginUser(ctx)
	c.uin, c.at = own, time.Now()
	if err != nil {
		// Keep the last profile of this account, if any, until the next try.
		p.c.Logger().Debug("qqport: the account's nick and avatar are unknown", "err", err)
		return c.user, c.ok && c.user.UIN == own
	}
	c.user, c.ok = u, true
	return u, true
}
