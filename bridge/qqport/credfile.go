package qqport

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
)

// DamagedCredential says that a damaged credential file was set aside.
type DamagedCredential struct {
	File  string // the credential file's path
	Aside string // where the damaged file is now
	Cause error  // why it could not be read (matches qq.ErrCredentialDamaged)
}

// Error is one sentence naming the cause and what to do; the file holds
// secrets, so none of its content is quoted beyond the field at fault.
func (d *DamagedCredential) Error() string {
	return fmt.Sprintf("the credential file %s could not be read (%v), so it was set aside as %s; log in again", d.File, d.Cause, d.Aside)
}

func (d *DamagedCredential) Unwrap() error { return d.Cause }

// SetAsideDamaged checks the credential file before the QQ Music client
// loads it. A damaged file (empty, truncated, wrong field types) would stop
// every start and every `bridge login` with the same error, so it is moved
// aside, atomically, as <file>.broken-<UTC time>, and a *DamagedCredential
// says where; the caller then asks for a login. A missing or good file
// returns nil, nil. Any other failure (unreadable file, rename refused) is
// returned as is: the file stays where it is.
func SetAsideDamaged(path string, now time.Time) (*DamagedCredential, error) {
	if path == "" {
		return nil, nil
	}
	_, err := qq.LoadCredential(path)
	switch {
	case err == nil, errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case !errors.Is(err, qq.ErrCredentialDamaged):
		return nil, err
	}
	aside := path + ".broken-" + now.UTC().Format("20060102T150405Z")
	for i := 2; ; i++ {
		if _, serr := os.Lstat(aside); errors.Is(serr, fs.ErrNotExist) {
			break
		}
		aside = fmt.Sprintf("%s.broken-%s-%d", path, now.UTC().Format("20060102T150405Z"), i)
	}
	if rerr := os.Rename(path, aside); rerr != nil {
		return nil, fmt.Errorf("%w; setting it aside failed too: %w", err, rerr)
	}
	return &DamagedCredential{File: path, Aside: aside, Cause: causeOf(err)}, nil
}

// causeOf strips the path and advice from a damaged-file error, keeping
// the reason.
func causeOf(err error) error {
	var inner error = err
	for {
		u, ok := inner.(interface{ Unwrap() []error })
		if !ok {
			break
		}
		errs := u.Unwrap()
		if len(errs) < 2 {
			break
		}
		inner = errs[len(errs)-1]
	}
	if inner == err {
		return err
	}
	return &causeErr{inner, err}
}

// causeErr prints the reason and matches the whole error.
type causeErr struct{ reason, full error }

func (c *causeErr) Error() string { return c.reason.Error() }
func (c *causeErr) Unwrap() error { return c.full }
