package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// restartKeeper (re)starts the credential keeper.
func (c *Controller) restartKeeper() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.restartKeeperLocked()
}

// restartKeeperLocked runs a new keeper under Run's context.
func (c *Controller) restartKeeperLocked() {
	ctx := c.base
	c.stopKeeperLocked()
	kctx, cancel := context.WithCancel(ctx)
	c.keeperGen++
	gen := c.keeperGen
	done := make(chan struct{})
	c.keeper, c.keeperDone = cancel, done
	go func() {
		err := c.qq.Keep(kctx, KeepHooks{Refreshed: c.refreshed, Failed: c.refreshFailed, OK: c.keeperOK})
		close(done)
		select {
		case c.keepCh <- keepResult{gen: gen, err: err}:
		case <-ctx.Done():
		}
	}()
}

func (c *Controller) stopKeeper() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopKeeperLocked()
}

// stopKeeperLocked stops the keeper and returns a channel closed once it
// has ended (nil when none ran).
func (c *Controller) stopKeeperLocked() <-chan struct{} {
	if c.keeper == nil {
		return nil
	}
	c.keeper()
	c.keeper = nil
	return c.keeperDone
}

// keeperEnded handles the end of a keeper run.
func (c *Controller) keeperEnded(ctx context.Context, r keepResult) {
	c.mu.Lock()
	stale := r.gen != c.keeperGen || c.keeper == nil
	loggedOut := c.loggedOut
	c.mu.Unlock()
	if stale || ctx.Err() != nil || loggedOut {
		return
	}
	if errors.Is(r.err, bridge.ErrLoginRequired) {
		c.loginRequired("the QQ Music login expired and QQ Music refused to renew it")
		return
	}
	// Unexpected: keep trying after a pause.
	c.log.Warn("admin: the credential keeper stopped; restarting it", "err", r.err)
	go func() {
		select {
		case <-ctx.Done():
		case <-time.After(c.cfg.RecoverMin):
			c.mu.Lock()
			if c.keeperGen == r.gen && !c.pending && !c.loggedOut {
				c.restartKeeperLocked()
			}
			c.mu.Unlock()
		}
	}()
}

// refreshed is the keeper's report of a refresh.
func (c *Controller) refreshed(a Account) {
	c.recovered(" was refreshed again" + expiresText(a.Expires))
}

// keeperOK is the keeper's report of a successful check.
func (c *Controller) keeperOK() { c.recovered(" works again") }

// recovered ends a streak of keeper failures, telling the admin channel
// when it was told of the streak.
func (c *Controller) recovered(what string) {
	c.mu.Lock()
	was := c.reported
	c.refreshFails = 0
	c.reported = false
	c.mu.Unlock()
	if was {
		c.post(context.Background(), Message{Content: "✅ The QQ Music login" + what + "."})
	}
}

// refreshFailed is the keeper's report of a failed refresh or check.
func (c *Controller) refreshFailed(err error) {
	c.mu.Lock()
	c.refreshFails++
	n := c.refreshFails
	tell := n >= c.cfg.RefreshFailures && !c.reported
	if tell {
		c.reported = true
	}
	c.mu.Unlock()
	c.log.Warn("admin: refreshing the QQ Music login failed; retrying", "failures", n, "err", err)
	if tell {
		a, _ := c.qq.Account()
		c.post(context.Background(), Message{Content: fmt.Sprintf(
			"⚠️ Refreshing the QQ Music login has failed %d times in a row (latest: %s). The bridge keeps trying%s; if it expires, a login QR code will be posted here.",
			n, oneLine(err.Error(), 300), expiresText(a.Expires))})
	}
}
