package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// Config tunes a Controller. Zero values take the defaults noted.
type Config struct {
	// LoginMethod is the QR login posted when a login is needed: "mobile"
	// (default), "qq" or "wx" (qq.login_method).
	LoginMethod string
	// CredentialFile is the credential's path; the terminal fallback saves
	// the QR code as login-qr.png beside it.
	CredentialFile string
	// Version is shown by /status.
	Version string
	// QRRenewals is how many times an expired QR code is replaced by a new
	// one before the login message says how to try again (default 3).
	QRRenewals int
	// RecoverMin and RecoverMax bound the back-off of the checks, while a
	// login is pending, for a working credential that appeared some other
	// way (default 30s doubling to 10m).
	RecoverMin, RecoverMax time.Duration
	// ReloadEvery is how often the credential file is looked at for a login
	// written by `bridge login` or by hand (default 3s).
	ReloadEvery time.Duration
	// RefreshFailures is how many refresh failures in a row are reported in
	// the admin channel (default 3); fewer are only logged.
	RefreshFailures int
	// StartRetries is how many times a QR login that could not start is
	// retried (default 3), RetryWait the first wait (default 10s, doubling).
	StartRetries int
	RetryWait    time.Duration
	// SessionsPerPage is the /sessions page size (default 10).
	SessionsPerPage int
	// Terminal is where the QR code is drawn when the admin channel cannot
	// be used (default os.Stdout).
	Terminal io.Writer
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.LoginMethod == "" {
		c.LoginMethod = "mobile"
	}
	if c.QRRenewals <= 0 {
		c.QRRenewals = 3
	}
	if c.RecoverMin <= 0 {
		c.RecoverMin = 30 * time.Second
	}
	if c.RecoverMax < c.RecoverMin {
		c.RecoverMax = max(10*time.Minute, c.RecoverMin)
	}
	if c.ReloadEvery <= 0 {
		c.ReloadEvery = 3 * time.Second
	}
	if c.RefreshFailures <= 0 {
		c.RefreshFailures = 3
	}
	if c.StartRetries <= 0 {
		c.StartRetries = 3
	}
	if c.RetryWait <= 0 {
		c.RetryWait = 10 * time.Second
	}
	if c.SessionsPerPage <= 0 {
		c.SessionsPerPage = 10
	}
	if c.Terminal == nil {
		c.Terminal = os.Stdout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Controller runs the admin channel. Make one with New, then call Run.
type Controller struct {
	cfg     Config
	qq      QQ
	ch      Channel
	eng     Engine
	log     *slog.Logger
	started time.Time

	mu sync.Mutex
	// base is Run's context: what outlives a command (login runs, the
	// keeper) runs under it.
	base context.Context
	// pending: no working credential; a login is awaited.
	pending bool
	// asked: a QR login was started since the login became pending (the
	// back-off checks never start another one by themselves).
	asked bool
	// loggedOut: /logout forgot the credential; no login is started
	// automatically until /login.
	loggedOut bool
	// pausedForLogout: the controller paused the engine at /logout.
	pausedForLogout bool
	// run is the QR login in progress, nil when none; openMsg the message
	// of the latest one when it ended without a login.
	run     *loginRun
	openMsg string
	// nextCheck is when a pending login next tries the old credential.
	nextCheck time.Time
	checkWait time.Duration
	// falseAlarm is when the engine last reported an expiry that the
	// server check did not confirm.
	falseAlarm time.Time
	// refreshFails counts keeper failures in a row; reported says the
	// admin channel was told.
	refreshFails int
	reported     bool
	// keeper is the running credential keeper's cancel and done channel,
	// keeperGen its generation (results of older ones are ignored).
	keeper     context.CancelFunc
	keeperDone chan struct{}
	keeperGen  int
	// nicks are the account nicks learnt, by uin.
	nicks map[string]string

	wake   chan struct{}
	needCh chan struct{}
	keepCh chan keepResult
	// noticeCh carries engine events to post as they are (risk.go).
	noticeCh chan bridge.Event
}

type keepResult struct {
	gen int
	err error
}

// falseAlarmWindow: an engine expiry report this soon after one the server
// check did not confirm is believed (the credential works for the check,
// not for the private-message calls).
const falseAlarmWindow = 10 * time.Minute

// New returns a controller. cfg's zero values take defaults.
func New(cfg Config, q QQ, ch Channel, eng Engine, log *slog.Logger) *Controller {
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Controller{
		cfg: cfg, qq: q, ch: ch, eng: eng, log: log,
		started: cfg.Now(),
		base:    context.Background(),
		nicks:   map[string]string{},
		wake:    make(chan struct{}, 1),
		needCh:  make(chan struct{}, 1),
		keepCh:  make(chan keepResult, 4),

		noticeCh: make(chan bridge.Event, noticeQueue),
	}
}

// HandleEvent passes an engine event on (bridge.EngineConfig.OnEvent). It
// never blocks, and a "login needed" report is never lost (reports that
// arrive while one waits are merged).
func (c *Controller) HandleEvent(ev bridge.Event) {
	if c.queueNotice(ev) {
		return
	}
	if ev.Kind != bridge.EventLoginNeeded {
		return
	}
	select {
	case c.needCh <- struct{}{}:
	default:
	}
}

func (c *Controller) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// LoginPending reports whether the bridge waits for a QQ Music login.
func (c *Controller) LoginPending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pending
}

// Run registers the slash commands, starts a login when there is no
// credential, and keeps the credential alive until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	c.mu.Lock()
	c.base = ctx
	c.mu.Unlock()
	c.ch.OnRequest(c.handle)
	go c.registerCommands(ctx)
	go c.postNotices(ctx)

	if _, ok := c.qq.Account(); !ok {
		c.loginRequired("there is no QQ Music login yet")
	} else {
		c.restartKeeper()
		go c.learnNick(ctx)
	}

	reload := time.NewTicker(c.cfg.ReloadEvery)
	defer reload.Stop()
	defer c.stopKeeper()
	for {
		select {
		case <-ctx.Done():
			c.mu.Lock()
			r := c.run
			c.mu.Unlock()
			if r != nil {
				// It says so rather than leave a dead QR code up.
				select {
				case <-r.done:
				case <-time.After(3 * time.Second):
				}
			}
			return nil
		case <-c.needCh:
			c.engineExpired(ctx)
		case r := <-c.keepCh:
			c.keeperEnded(ctx, r)
		case <-reload.C:
			c.reload(ctx)
		case <-c.wake:
		}
		c.checkPending(ctx)
	}
}

// learnNick asks for the account's nick once, for /status.
func (c *Controller) learnNick(ctx context.Context) {
	a := c.qq.Describe(ctx)
	if a.Nick == "" {
		return
	}
	c.mu.Lock()
	c.nicks[a.UIN] = a.Nick
	c.mu.Unlock()
}

// registerCommands installs the slash commands, retrying while Discord
// refuses.
func (c *Controller) registerCommands(ctx context.Context) {
	wait := 5 * time.Second
	for {
		err := c.ch.RegisterCommands(ctx, Commands())
		if err == nil {
			c.log.Info("admin: slash commands registered")
			return
		}
		if ctx.Err() != nil {
			return
		}
		c.log.Warn("admin: could not register the slash commands; retrying", "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, 10*time.Minute)
	}
}

// engineExpired handles the engine's "login needed": the engine reports
// any refresh that failed, so the server is asked first. A confirmed
// expiry asks for a login; a credential the server still accepts resumes
// the engine (unless that happened moments ago); an answer that says
// nothing is tried again with back-off.
func (c *Controller) engineExpired(ctx context.Context) {
	c.mu.Lock()
	if c.pending || c.loggedOut {
		c.mu.Unlock()
		return
	}
	recent := !c.falseAlarm.IsZero() && c.cfg.Now().Sub(c.falseAlarm) < falseAlarmWindow
	c.mu.Unlock()
	err := c.qq.Check(ctx)
	switch {
	case err == nil && !recent:
		c.mu.Lock()
		c.falseAlarm = c.cfg.Now()
		c.mu.Unlock()
		c.log.Warn("admin: QQ Music refused a call, but the login still works; relaying resumes")
		c.eng.CredentialRenewed()
	case err == nil, errors.Is(err, bridge.ErrLoginRequired):
		c.loginRequired("QQ Music refused the login and a refresh could not renew it")
	default:
		c.log.Warn("admin: QQ Music refused a call and whether the login still works cannot be told yet; checking again with back-off", "err", err)
		c.setPending()
	}
}

// setPending records that relaying waits for a working credential, and
// schedules the back-off checks.
func (c *Controller) setPending() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setPendingLocked()
}

func (c *Controller) setPendingLocked() {
	if !c.pending {
		// The engine says it once, with the cause, at error level; this
		// is the same fact seen from the admin channel's side.
		c.log.Debug("admin: relaying is paused until QQ Music accepts a login; nothing is lost")
	}
	c.pending = true
	if c.checkWait == 0 {
		c.checkWait = c.cfg.RecoverMin
		c.nextCheck = c.cfg.Now().Add(c.checkWait)
	}
	c.stopKeeperLocked()
}

// loginRequired records that only a new login helps and starts the QR
// login of qq.login_method, unless one is already under way or /logout
// asked for none.
func (c *Controller) loginRequired(why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setPendingLocked()
	if c.loggedOut || c.run != nil {
		return
	}
	c.startLoginLocked(c.cfg.LoginMethod, why, true)
}

// startLoginLocked starts a QR login; a login already under way is
// cancelled first.
func (c *Controller) startLoginLocked(method, why string, mention bool) {
	if c.run != nil {
		c.run.stop("Cancelled: a new login was started.")
	}
	if c.pending {
		c.asked = true
	}
	c.openMsg = ""
	r := newLoginRun(c.base, c, method, why, mention)
	c.run = r
	go r.loop(c.base)
}

// runEnded is called by a login run when it ends; account is set when it
// logged in.
func (c *Controller) runEnded(r *loginRun, account *Account) {
	c.mu.Lock()
	if c.run == r {
		c.run = nil
		if account == nil && !r.stoppedFromOutside() {
			c.openMsg = r.msgID
			// Perhaps the login went through as the run ended: look now.
			c.nextCheck = c.cfg.Now()
		}
	}
	c.mu.Unlock()
	if account != nil {
		c.loggedIn(*account, "QR login")
	}
	c.poke()
}

// loggedIn makes a new working credential count: relaying resumes and the
// keeper looks after the new credential.
func (c *Controller) loggedIn(a Account, how string) {
	c.mu.Lock()
	c.pending = false
	c.asked = false
	c.loggedOut = false
	c.openMsg = ""
	c.checkWait = 0
	c.nextCheck = time.Time{}
	c.refreshFails = 0
	c.reported = false
	resume := c.pausedForLogout
	c.pausedForLogout = false
	if a.Nick != "" {
		c.nicks[a.UIN] = a.Nick
	}
	c.restartKeeperLocked()
	c.mu.Unlock()
	c.log.Info("admin: logged in to QQ Music", "account", a.UIN, "how", how)
	if a.SaveErr != nil {
		c.log.Error("admin: logged in, but the credential file could not be written: the login is lost at the next restart", "file", c.cfg.CredentialFile, "err", a.SaveErr)
	}
	if resume {
		c.eng.Resume()
	}
	c.eng.CredentialRenewed()
	c.poke()
}

// found is a working credential that appeared some other way: a new
// credential file, or the old login working again.
func (c *Controller) found(ctx context.Context, how string) {
	a := c.qq.Describe(ctx)
	c.mu.Lock()
	r := c.run
	open := c.openMsg
	c.mu.Unlock()
	text := fmt.Sprintf("✅ A working login was found (%s): logged in as **%s**. Relaying resumes; this QR code is no longer needed.", how, a.Name())
	switch {
	case r != nil:
		r.stop(text)
	case open != "":
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		if err := c.ch.Edit(ectx, open, Edit{Content: text, RemoveImage: true}); err != nil {
			c.log.Warn("admin: could not edit the login message", "err", err)
		}
		cancel()
	}
	c.loggedIn(a, how)
}

// reload adopts a credential file written by `bridge login` or by hand.
func (c *Controller) reload(ctx context.Context) {
	changed, err := c.qq.Reload(ctx)
	if err != nil {
		c.log.Warn("admin: the credential file changed but cannot be used", "file", c.cfg.CredentialFile, "err", err)
		return
	}
	if changed {
		c.log.Info("admin: new QQ Music credential file found", "file", c.cfg.CredentialFile)
		c.found(ctx, "a new credential file")
	}
}

// checkPending tries, with back-off, whether the credential works (again)
// while a login is pending. An expiry it confirms asks for a QR login when
// none was asked for yet.
func (c *Controller) checkPending(ctx context.Context) {
	c.mu.Lock()
	due := c.pending && !c.loggedOut && !c.nextCheck.IsZero() && !c.cfg.Now().Before(c.nextCheck)
	if due {
		c.checkWait = min(max(c.checkWait*2, c.cfg.RecoverMin), c.cfg.RecoverMax)
		c.nextCheck = c.cfg.Now().Add(c.checkWait)
	}
	asked := c.asked
	c.mu.Unlock()
	if !due {
		return
	}
	if _, ok := c.qq.Account(); !ok {
		return
	}
	err := c.qq.Check(ctx)
	switch {
	case err == nil:
		c.found(ctx, "the old login works again")
	case errors.Is(err, bridge.ErrLoginRequired) && !asked:
		c.loginRequired("QQ Music refused the login and a refresh could not renew it")
	default:
		c.log.Debug("admin: the old login still does not work", "err", err)
	}
}

// post posts a notice, logging a failure.
func (c *Controller) post(ctx context.Context, m Message) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := c.ch.Post(ctx, m); err != nil {
		c.log.Warn("admin: could not post in the admin channel", "err", err)
	}
}

// expiresText is ", it expires <relative time>" or "".
func expiresText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fmt.Sprintf("; it expires <t:%d:R>", t.Unix())
}

// oneLine shortens s to one line of at most n characters.
func oneLine(s string, n int) string {
	out := make([]rune, 0, min(len(s), n))
	for _, r := range s {
		if r == '\n' || r == '\r' {
			r = ' '
		}
		if len(out) == n {
			out = append(out[:n-1], '…')
			break
		}
		out = append(out, r)
	}
	return string(out)
}
