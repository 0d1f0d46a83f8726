package qq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Refresh timing.
const (
	// refreshLeadMin and refreshLeadMax bound how long before expiry a
	// credential is refreshed when the server did not say (needRefreshKeyIn):
	// a fifth of its lifetime, within these bounds.
	refreshLeadMin = 10 * time.Minute
	refreshLeadMax = 24 * time.Hour
	// absoluteTimeFloor tells a unix time from a duration in seconds.
	absoluteTimeFloor = 1_000_000_000
)

// RefreshAt is when the credential should be refreshed:
//   - musickeyCreateTime + needRefreshKeyIn when the server set
//     needRefreshKeyIn (seconds, shorter than keyExpiresIn; a value that is
//     itself a unix time is taken as is);
//   - otherwise ahead of expiry (musickeyCreateTime + keyExpiresIn) by a
//     fifth of the key's lifetime, at least 10 minutes and at most a day.
//
// It is the zero time when the credential carries no musickeyCreateTime or
// keyExpiresIn: only the server can then tell (CheckCredential).
func (c *Credential) RefreshAt() time.Time {
	if c == nil || c.MusickeyCreateTime <= 0 || c.KeyExpiresIn <= 0 {
		return time.Time{}
	}
	created := time.Unix(c.MusickeyCreateTime, 0)
	expires := created.Add(time.Duration(c.KeyExpiresIn) * time.Second)
	if n := c.NeedRefreshKeyIn; n > 0 {
		var at time.Time
		if n >= absoluteTimeFloor {
			at = time.Unix(n, 0)
		} else {
			at = created.Add(time.Duration(n) * time.Second)
		}
		if at.Before(expires) {
			return at
		}
	}
	lead := time.Duration(c.KeyExpiresIn) * time.Second / 5
	lead = max(refreshLeadMin, min(lead, refreshLeadMax))
	at := expires.Add(-lead)
	if at.Before(created) {
		return created
	}
	return at
}

// RefreshDue reports whether the credential should be refreshed at now. A
// credential without expiry information is never due by this test (ask the
// server with CheckCredential).
func (c *Credential) RefreshDue(now time.Time) bool {
	at := c.RefreshAt()
	return !at.IsZero() && !now.Before(at)
}

// ErrReloginRequired means the credential has expired and the server
// refuses to refresh it: only a new login (StartQRLogin, PhoneLogin) helps.
var ErrReloginRequired = errors.New("qq: the credential has expired and cannot be refreshed; log in again")

// CredentialSource is what a Keeper needs of a Client.
type CredentialSource interface {
	// Credential returns a copy of the current credential.
	Credential() *Credential
	// RefreshCredential renews it, makes the new one current and persists
	// it (a non-nil credential with an error means it is in use but was not
	// saved).
	RefreshCredential(ctx context.Context) (*Credential, error)
	// CheckCredential asks the server whether it is still accepted.
	CheckCredential(ctx context.Context) error
}

// KeeperOptions tune a Keeper. The zero value is sensible.
type KeeperOptions struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
	// After waits (default time.After); tests make it fast.
	After func(time.Duration) <-chan time.Time
	// CheckInterval is how often a credential without expiry information
	// is checked with the server (default 6 h).
	CheckInterval time.Duration
	// MaxSleep caps one wait, so that a suspended machine or a changed
	// clock is noticed (default 1 h).
	MaxSleep time.Duration
	// RetryMin and RetryMax bound the back-off after a failed refresh
	// (default 1 min doubling to 30 min).
	RetryMin, RetryMax time.Duration
	// OnRefresh is called after each successful refresh.
	OnRefresh func(*Credential)
	// OnError is called for each failure the Keeper retries after.
	OnError func(error)
	// OnChecked is called after each check in which the server accepted
	// the credential.
	OnChecked func()
	// Logger receives diagnostics (default: discarded). Secrets are never
	// logged.
	Logger *slog.Logger
}

// Keeper keeps a credential alive: it refreshes it ahead of expiry (see
// Credential.RefreshAt), checks with the server when the credential does
// not say when it expires, retries failures with back-off, and gives up
// with ErrReloginRequired only when the key has expired and the server
// refuses to renew it.
type Keeper struct {
	src  CredentialSource
	opts KeeperOptions
	kick chan struct{}
}

// NewKeeper returns a Keeper for src (usually a *Client).
func NewKeeper(src CredentialSource, opts KeeperOptions) *Keeper {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.After == nil {
		opts.After = time.After
	}
	if opts.CheckInterval <= 0 {
		opts.CheckInterval = 6 * time.Hour
	}
	if opts.MaxSleep <= 0 {
		opts.MaxSleep = time.Hour
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = time.Minute
	}
	if opts.RetryMax < opts.RetryMin {
		opts.RetryMax = max(30*time.Minute, opts.RetryMin)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Keeper{src: src, opts: opts, kick: make(chan struct{}, 1)}
}

// Step is one decision of the Keeper.
type Step int

const (
	// StepNothing: the credential is fine; nothing was done.
	StepNothing Step = iota
	// StepChecked: the server confirmed a credential without expiry data.
	StepChecked
	// StepRefreshed: the credential was refreshed (and persisted).
	StepRefreshed
)

func (s Step) String() string {
	switch s {
	case StepNothing:
		return "nothing"
	case StepChecked:
		return "checked"
	case StepRefreshed:
		return "refreshed"
	}
	return fmt.Sprintf("Step(%d)", int(s))
}

// A *Client is what a Keeper keeps.
var _ CredentialSource = (*Client)(nil)

// Tick decides once and returns what it did: a due credential (see
// Credential.RefreshAt) is refreshed; otherwise, when checkServer is set,
// the server is asked whether it still accepts the credential, and it is
// refreshed when it does not. Errors are typed: ErrReloginRequired when
// nothing but a new login helps, ErrCredentialRequired when there is no
// credential; others are transient.
func (k *Keeper) Tick(ctx context.Context, checkServer bool) (Step, error) {
	cred := k.src.Credential()
	if !cred.HasLogin() {
		return StepNothing, fmt.Errorf("qq: keeper: %w", ErrCredentialRequired)
	}
	now := k.opts.Now()
	if cred.RefreshDue(now) {
		return k.refresh(ctx, cred, cred.Expired(now))
	}
	if !checkServer {
		return StepNothing, nil
	}
	err := k.src.CheckCredential(ctx)
	if err == nil {
		return StepChecked, nil
	}
	if !errors.Is(err, ErrCredentialExpired) {
		return StepNothing, fmt.Errorf("qq: keeper: checking the credential: %w", err)
	}
	k.opts.Logger.Warn("qq: the server no longer accepts the credential; refreshing", "musicid", cred.MusicID)
	return k.refresh(ctx, cred, true)
}

// Kick makes a running Run check the credential with the server now, for
// example after a call failed with ErrCredentialExpired. It never blocks.
func (k *Keeper) Kick() {
	select {
	case k.kick <- struct{}{}:
	default:
	}
}

// refresh renews cred; expired says whether the key is known to be dead.
func (k *Keeper) refresh(ctx context.Context, cred *Credential, expired bool) (Step, error) {
	fresh, err := k.src.RefreshCredential(ctx)
	if fresh != nil {
		k.opts.Logger.Info("qq: credential refreshed", "musicid", fresh.MusicID, "loginType", fresh.LoginType, "expires", fresh.ExpiresAt())
		if k.opts.OnRefresh != nil {
			k.opts.OnRefresh(fresh)
		}
		if err != nil {
			// In use but not persisted: report, do not retry the refresh.
			return StepRefreshed, fmt.Errorf("qq: keeper: %w", err)
		}
		return StepRefreshed, nil
	}
	if refreshRefused(err) && (expired || k.src.Credential().Expired(k.opts.Now())) {
		return StepNothing, fmt.Errorf("%w (musicid %d, login type %d): %w", ErrReloginRequired, cred.MusicID, cred.LoginType, err)
	}
	return StepNothing, fmt.Errorf("qq: keeper: refreshing the credential: %w", err)
}

// refreshRefused reports whether the server refused the refresh itself
// (as opposed to a network or gateway failure worth retrying).
func refreshRefused(err error) bool {
	if errors.Is(err, ErrCredentialExpired) {
		return true
	}
	var api *APIError
	if errors.As(err, &api) {
		switch loginKind(api.Code) {
		case ErrLoginAuthExpired, ErrLoginBadParams, ErrLoginAccountBinding, ErrLoginRestricted, ErrLoginBanned, ErrLoginDeviceLimit:
			return true
		}
	}
	return false
}

// Run keeps the credential alive until ctx ends (it then returns ctx's
// error) or the credential cannot be saved from expiry (it then returns an
// error wrapping ErrReloginRequired, or ErrCredentialRequired when there
// is no credential at all). It checks with the server at start, every
// CheckInterval and on Kick.
func (k *Keeper) Run(ctx context.Context) error {
	retry := time.Duration(0)
	lastCheck := time.Time{}
	force := true
	for {
		now := k.opts.Now()
		checkServer := force || now.Sub(lastCheck) >= k.opts.CheckInterval
		force = false
		step, err := k.Tick(ctx, checkServer)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if checkServer && (err == nil || step != StepNothing) {
			lastCheck = now
		}
		var wait time.Duration
		switch {
		case errors.Is(err, ErrReloginRequired), errors.Is(err, ErrCredentialRequired):
			k.opts.Logger.Warn("qq: credential cannot be kept alive", "error", err)
			return err
		case err != nil && step != StepRefreshed:
			retry = min(max(retry*2, k.opts.RetryMin), k.opts.RetryMax)
			wait = retry
			k.opts.Logger.Warn("qq: credential check or refresh failed; will retry", "error", err, "retryIn", wait)
			if k.opts.OnError != nil {
				k.opts.OnError(err)
			}
		default:
			if err != nil && k.opts.OnError != nil {
				k.opts.OnError(err)
			}
			if err == nil && step == StepChecked && k.opts.OnChecked != nil {
				k.opts.OnChecked()
			}
			retry = 0
			wait = k.nextWait(now, lastCheck)
			if step == StepRefreshed {
				// Never refresh in a loop, whatever the new credential says.
				wait = max(wait, k.opts.RetryMin)
			}
		}
		wait = min(max(wait, time.Millisecond), k.opts.MaxSleep)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-k.kick:
			force = true
		case <-k.opts.After(wait):
		}
	}
}

// nextWait is how long to sleep before the next decision: until the
// refresh time or the next server check, whichever comes first.
func (k *Keeper) nextWait(now, lastCheck time.Time) time.Duration {
	wait := lastCheck.Add(k.opts.CheckInterval).Sub(now)
	if at := k.src.Credential().RefreshAt(); !at.IsZero() {
		wait = min(wait, at.Sub(now))
	}
	return wait
}
