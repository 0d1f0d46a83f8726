// Package store is the durable memory of the bridge: an embedded SQLite
// database (modernc.org/sqlite, pure Go) in WAL mode that keeps which Discord
// channel each QQ session lives in, how far each session has been relayed,
// which Discord messages each QQ message became, the last Discord message
// seen per channel, and an outbox of deliveries in both directions.
//
// The schema is versioned with PRAGMA user_version and migrated at Open from
// SQL files embedded in the binary. A database that is corrupt, belongs to
// something else, or was written by a newer bridge is refused with a clear
// error (ErrCorrupt, ErrNotBridge, ErrNewerSchema); it is never recreated.
//
// The store knows nothing of package bridge (which imports it): it deals in
// ids, numbers and opaque payloads.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// applicationID marks the file as a bridge database ("QMDB").
const applicationID = 0x514d4442

var (
	// ErrCorrupt means the database file is damaged or is not an SQLite
	// database at all.
	ErrCorrupt = errors.New("bridge database is corrupt")
	// ErrNewerSchema means the database was written by a newer version of
	// the bridge than this one.
	ErrNewerSchema = errors.New("bridge database has a newer schema than this bridge knows")
	// ErrNotBridge means the file is an SQLite database of something else.
	ErrNotBridge = errors.New("file is not a bridge database")
	// ErrLocked means another process (another bridge) has the database
	// open.
	ErrLocked = errors.New("bridge database is in use by another process")
)

// Store is the bridge database. It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
	now  func() time.Time
	lock *os.File
}

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration %q has no version prefix", name)
		}
		b, err := migrationFS.ReadFile(path.Join("migrations", name))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("store: migration versions are not 1..n (found %d at %d)", m.version, i+1)
		}
	}
	return ms, nil
}

// SchemaVersion is the schema version this build writes.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

// Open opens (or creates, with mode 0600) the database at file, checks it
// and applies the pending migrations.
func Open(ctx context.Context, file string) (*Store, error) {
	if file == "" {
		return nil, errors.New("store: no database path given")
	}
	if strings.ContainsAny(file, "?#") {
		return nil, fmt.Errorf("store: database path %q must not contain '?' or '#'", file)
	}
	if dir := filepath.Dir(file); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: create the database's directory: %w", err)
		}
	}
	lock, err := lockFile(file)
	if err != nil {
		return nil, err
	}
	if err := prepareFile(file); err != nil {
		unlock(lock)
		return nil, err
	}
	// synchronous=FULL: every commit is on the disk before it returns, so
	// it survives a power loss as well as a kill -9. With NORMAL the last
	// commits before a power loss may be lost, and a lost record of an
	// attempt whose request went out would send it again. Deliveries cost
	// a few commits each; the fsync is cheap at the bridge's rate.
	dsn := file + "?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		unlock(lock)
		return nil, fmt.Errorf("store: open %s: %w", file, err)
	}
	// One connection: every statement is serialised, so writers never
	// meet SQLITE_BUSY inside the process. Callers never nest queries.
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	s := &Store{db: db, path: file, now: time.Now, lock: lock}
	if err := s.init(ctx); err != nil {
		db.Close()
		unlock(lock)
		return nil, err
	}
	return s, nil
}

func unlock(f *os.File) {
	if f != nil {
		f.Close() // closing releases the flock
	}
}

func prepareFile(file string) error {
	fi, err := os.Stat(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("store: create database %s: %w", file, err)
		}
		return f.Close()
	case err != nil:
		return fmt.Errorf("store: database %s: %w", file, err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("store: database %s is not a regular file", file)
	case fi.Mode().Perm()&0o077 != 0:
		// The file holds webhook tokens: keep it private.
		if err := os.Chmod(file, 0o600); err != nil {
			return fmt.Errorf("store: make database %s private (mode 0600): %w", file, err)
		}
	}
	return nil
}

// isCorrupt reports whether err is SQLite saying the file is damaged or not
// a database.
func isCorrupt(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 11, 26: // SQLITE_CORRUPT, SQLITE_NOTADB
			return true
		}
	}
	return false
}

func (s *Store) corrupt(err error) error {
	return fmt.Errorf("%w: %s: %v; the bridge will not overwrite it: restore it from a backup, or move it away to start afresh (every session then gets a new channel)", ErrCorrupt, s.path, err)
}

func (s *Store) init(ctx context.Context) error {
	wrap := func(what string, err error) error {
		if isCorrupt(err) {
			return s.corrupt(err)
		}
		return fmt.Errorf("store: %s %s: %w", what, s.path, err)
	}
	var appID, version, objects int
	if err := s.db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return wrap("read", err)
	}
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return wrap("read", err)
	}
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&objects); err != nil {
		return wrap("read", err)
	}
	if appID != applicationID && (appID != 0 || objects > 0) {
		return fmt.Errorf("%w: %s holds another application's data (application_id %#x); point the bridge at another file", ErrNotBridge, s.path, appID)
	}
	ms, err := migrations()
	if err != nil {
		return err
	}
	if version > len(ms) {
		return fmt.Errorf("%w: %s is at schema version %d, this bridge knows up to %d; run the newer bridge version, or restore a backup made by this one", ErrNewerSchema, s.path, version, len(ms))
	}
	var check string
	if err := s.db.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&check); err != nil {
		return wrap("check", err)
	}
	if check != "ok" {
		return s.corrupt(errors.New(check))
	}
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		return wrap("set WAL mode on", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("store: %s: SQLite refused WAL mode (journal mode %q)", s.path, mode)
	}
	for _, m := range ms[version:] {
		if err := s.migrate(ctx, m); err != nil {
			return wrap("migrate", err)
		}
	}
	return nil
}

func (s *Store) migrate(ctx context.Context, m migration) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
		return err
	}
	return tx.Commit()
}

// Close closes the database and releases it for another process.
func (s *Store) Close() error {
	err := s.db.Close()
	unlock(s.lock)
	s.lock = nil
	return err
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// SetClock makes the store stamp rows with now instead of the system
// clock, so that its times compare with those of the engine that uses it
// (the engine passes its own clock). Call it before using the store.
func (s *Store) SetClock(now func() time.Time) {
	if now != nil {
		s.now = now
	}
}

func (s *Store) ms() int64 { return s.now().UnixMilli() }

func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return s.wrap(err)
	}
	return s.wrap(tx.Commit())
}

func (s *Store) wrap(err error) error {
	if err == nil {
		return nil
	}
	if isCorrupt(err) {
		return s.corrupt(err)
	}
	return fmt.Errorf("store: %w", err)
}
