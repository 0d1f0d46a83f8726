package qqport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/admin"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
)

// Login is the admin channel's QQ port (admin.QQ) over a *qq.Client: the
// QR and phone logins, the credential keeper, and the credential file.
type Login struct {
	c    *qq.Client
	port *Port
	file string
	log  *slog.Logger
	// QROptions tune every QR login (tests shorten the time-outs).
	QROptions []qq.QROption
	// QRTimeout is how long a QR code is shown before the login counts as
	// expired (default 5 minutes).
	QRTimeout time.Duration
	// Keeper tunes the credential keeper.
	Keeper qq.KeeperOptions

	mu    sync.Mutex
	stamp fileStamp
}

var _ admin.QQ = (*Login)(nil)

// NewLogin returns the login port. credentialFile is the client's
// credential file (Reload watches it); port is the engine's QQ port,
// whose refresh back-off is reset whenever a new credential arrives.
func NewLogin(c *qq.Client, port *Port, credentialFile string, log *slog.Logger) *Login {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Login{c: c, port: port, file: credentialFile, log: log, stamp: stampOf(credentialFile)}
}

type fileStamp struct {
	mod  time.Time
	size int64
	ok   bool
}

func stampOf(path string) fileStamp {
	if path == "" {
		return fileStamp{}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{fi.ModTime(), fi.Size(), true}
}

func accountOf(cred *qq.Credential) admin.Account {
	a := admin.Account{UIN: strconv.FormatInt(cred.MusicID, 10)}
	if cred.MusickeyCreateTime > 0 && cred.KeyExpiresIn > 0 {
		a.Expires = cred.ExpiresAt()
	}
	return a
}

// Account returns the account of the credential in use.
func (l *Login) Account() (admin.Account, bool) {
	cred := l.c.Credential()
	if !cred.HasLogin() {
		return admin.Account{}, false
	}
	return accountOf(cred), true
}

// Describe adds the nick (GetLoginUserInfo) to Account, best effort.
func (l *Login) Describe(ctx context.Context) admin.Account {
	a, ok := l.Account()
	if !ok {
		return a
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u, err := l.c.LoginUser(ctx)
	if err != nil {
		l.log.Debug("qqport: the account's nick is unknown", "err", err)
		return a
	}
	a.Nick = u.Nick
	return a
}

// adopt makes cred the credential in use and saves it; the file written is
// not taken for a new one by Reload.
func (l *Login) adopt(cred *qq.Credential) error {
	err := l.c.AdoptCredential(cred)
	l.mu.Lock()
	l.stamp = stampOf(l.file)
	l.mu.Unlock()
	l.port.ResetRefresh()
	return err
}

var states = map[qq.LoginState]admin.LoginState{
	qq.LoginWaiting:   admin.LoginWaiting,
	qq.LoginScanned:   admin.LoginScanned,
	qq.LoginConfirmed: admin.LoginConfirmed,
	qq.LoginRefused:   admin.LoginRefused,
	qq.LoginExpired:   admin.LoginExpired,
	qq.LoginDone:      admin.LoginDone,
	qq.LoginFailed:    admin.LoginFailed,
}

// StartQRLogin starts a QR login; on LoginDone the credential is in use
// and saved.
func (l *Login) StartQRLogin(ctx context.Context, method string) (<-chan admin.LoginEvent, error) {
	m, err := qq.ParseLoginMethod(method)
	if err != nil {
		return nil, err
	}
	life := l.QRTimeout
	if life <= 0 {
		life = 5 * time.Minute
	}
	in, err := l.c.StartQRLogin(ctx, m, append([]qq.QROption{qq.WithQRTimeout(life)}, l.QROptions...)...)
	if err != nil {
		return nil, err
	}
	expires := time.Now().Add(life)
	out := make(chan admin.LoginEvent, 1)
	go func() {
		defer close(out)
		for ev := range in {
			a := admin.LoginEvent{State: states[ev.State], Image: ev.Image, MIME: ev.MIME, Err: ev.Err}
			if a.State == 0 {
				continue
			}
			if len(a.Image) > 0 {
				a.Expires = expires
			}
			if ev.State == qq.LoginDone {
				var saveErr error
				if err := l.adopt(ev.Credential); err != nil {
					if !ev.Credential.HasLogin() {
						a = admin.LoginEvent{State: admin.LoginFailed, Err: err}
					} else {
						// In use, but a restart would lose it.
						saveErr = err
					}
				}
				if a.State == admin.LoginDone {
					a.Account = l.Describe(context.WithoutCancel(ctx))
					a.Account.SaveErr = saveErr
				}
			}
			select {
			case out <- a:
			case <-ctx.Done():
				// The run was stopped; a login that went through is in
				// use all the same, and the controller's next check
				// finds it.
				return
			}
		}
	}()
	return out, nil
}

// SendPhoneCode texts a verification code.
func (l *Login) SendPhoneCode(ctx context.Context, area, phone string) (admin.PhoneCode, error) {
	res, err := l.c.SendPhoneCode(ctx, phone, area)
	if err != nil {
		return admin.PhoneCode{}, err
	}
	switch res.Status {
	case qq.PhoneCodeCaptcha:
		return admin.PhoneCode{Status: admin.PhoneCodeCaptcha, SecurityURL: res.SecurityURL}, nil
	case qq.PhoneCodeTooFrequent:
		return admin.PhoneCode{Status: admin.PhoneCodeTooFrequent}, nil
	}
	return admin.PhoneCode{Status: admin.PhoneCodeSent}, nil
}

// PhoneLogin logs in with an SMS code.
func (l *Login) PhoneLogin(ctx context.Context, area, phone, code string) (admin.Account, error) {
	cred, err := l.c.PhoneLogin(ctx, phone, code)
	if err != nil {
		return admin.Account{}, err
	}
	err = l.adopt(cred)
	if err != nil && !cred.HasLogin() {
		return admin.Account{}, err
	}
	a := l.Describe(ctx)
	a.SaveErr = err
	return a, nil
}

// logoutTimeout bounds the server-side logout, so /logout never hangs on
// an unreachable QQ Music.
const logoutTimeout = 20 * time.Second

// Logout ends the login on QQ Music's side (qq.Client.Logout), then
// forgets the credential and deletes the credential file, whatever the
// server said. A server-side failure is returned wrapping
// admin.ErrServerLogout, beside any file error.
func (l *Login) Logout(ctx context.Context) error {
	var serverErr error
	if l.c.Credential().HasLogin() {
		sctx, cancel := context.WithTimeout(ctx, logoutTimeout)
		if err := l.c.Logout(sctx); err != nil {
			serverErr = fmt.Errorf("%w: %w", admin.ErrServerLogout, err)
			l.log.Warn("qqport: QQ Music did not confirm the logout; the credential is forgotten anyway", "err", err)
		}
		cancel()
	}
	l.c.SetCredential(nil)
	l.mu.Lock()
	defer l.mu.Unlock()
	var fileErr error
	if l.file != "" {
		if err := os.Remove(l.file); err != nil && !errors.Is(err, os.ErrNotExist) {
			fileErr = fmt.Errorf("deleting the credential file: %w", err)
		}
	}
	l.stamp = stampOf(l.file)
	return errors.Join(fileErr, serverErr)
}

// Reload adopts the credential file when it changed and holds a login
// other than the one in use.
func (l *Login) Reload(ctx context.Context) (bool, error) {
	if l.file == "" {
		return false, nil
	}
	s := stampOf(l.file)
	l.mu.Lock()
	same := s == l.stamp
	l.stamp = s
	l.mu.Unlock()
	if same || !s.ok {
		return false, nil
	}
	cred, err := qq.LoadCredential(l.file)
	if err != nil {
		return false, err
	}
	if !cred.HasLogin() {
		return false, nil
	}
	cur := l.c.Credential()
	if cur.HasLogin() && cur.MusicID == cred.MusicID && cur.MusicKey == cred.MusicKey {
		return false, nil // our own refresh or login wrote it
	}
	// A file restored from an old backup must not replace a login that
	// works: ask the server first, with the new credential on the side.
	if cur.HasLogin() {
		if err := l.c.CheckCandidate(ctx, cred); errors.Is(err, qq.ErrCredentialExpired) {
			if serr := l.c.SaveCredential(); serr == nil {
				l.mu.Lock()
				l.stamp = stampOf(l.file)
				l.mu.Unlock()
			}
			return false, fmt.Errorf("the credential in %s was refused by QQ Music (expired); the login in use is kept and written back: %w", l.file, err)
		}
	}
	l.c.SetCredential(cred)
	l.port.ResetRefresh()
	return true, nil
}

func (l *Login) keeper(h admin.KeepHooks) *qq.Keeper {
	opts := l.Keeper
	opts.Logger = l.log
	opts.OnRefresh = func(cred *qq.Credential) {
		l.mu.Lock()
		l.stamp = stampOf(l.file)
		l.mu.Unlock()
		l.port.ResetRefresh()
		if h.Refreshed != nil {
			h.Refreshed(accountOf(cred))
		}
	}
	opts.OnError = h.Failed
	opts.OnChecked = h.OK
	return qq.NewKeeper(l.c, opts)
}

// loginRequired maps the keeper's "log in again" errors onto the bridge's.
func loginRequired(err error) error {
	if errors.Is(err, qq.ErrReloginRequired) || errors.Is(err, qq.ErrCredentialRequired) {
		return fmt.Errorf("%w: %w", bridge.ErrLoginRequired, err)
	}
	return err
}

// Check reports whether the credential in use works, refreshing it when
// due or refused.
func (l *Login) Check(ctx context.Context) error {
	if _, err := l.keeper(admin.KeepHooks{}).Tick(ctx, true); err != nil {
		return loginRequired(err)
	}
	l.port.ResetRefresh()
	return nil
}

// Keep keeps the credential alive until ctx ends or only a new login helps.
func (l *Login) Keep(ctx context.Context, h admin.KeepHooks) error {
	return loginRequired(l.keeper(h).Run(ctx))
}
