package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// TagKeyFile is the file beside the database that keeps the key of the
// session tags in Discord topics and post titles.
func TagKeyFile(database string) string { return database + ".tagkey" }

// tagKeyLen is the key's length in bytes (hex encoded in its file).
const tagKeyLen = 32

// ErrBadTagKey means the tag key file exists but holds no key.
var ErrBadTagKey = errors.New("store: the tag key file is damaged")

// LoadOrCreateTagKey returns the random key kept in file, making it (32
// random bytes, hex, mode 0600) when the file does not exist. The file is
// written whole or not at all (a temporary file renamed over it, both
// synced), so a crash never leaves half a key. The key stays the same
// whatever becomes of the bot token, so the tags it keys do too. A
// damaged file is an error, never replaced: a new key would change every
// tag. Call it with the database open (Open holds its lock).
func LoadOrCreateTagKey(file string) ([]byte, error) {
	if b, err := os.ReadFile(file); err == nil {
		return parseTagKey(file, b)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("store: read the tag key %s: %w", file, err)
	}
	key := make([]byte, tagKeyLen)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("store: make a tag key: %w", err)
	}
	dir := filepath.Dir(file)
	tmp, err := os.CreateTemp(dir, filepath.Base(file)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("store: write the tag key beside %s: %w", file, err)
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing to remove
	_, err = tmp.WriteString(hex.EncodeToString(key) + "\n")
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("store: write the tag key %s: %w", file, err)
	}
	// The database's lock, held by the caller, keeps a second bridge
	// from writing a key at the same time.
	if err := os.Rename(tmp.Name(), file); err != nil {
		return nil, fmt.Errorf("store: write the tag key %s: %w", file, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // the new name is on the disk too
		d.Close()
	}
	return key, nil
}

func parseTagKey(file string, b []byte) ([]byte, error) {
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != tagKeyLen {
		return nil, fmt.Errorf("%w: %s holds no key of %d hex bytes; restore it from a backup (or delete it to make a new one: "+
			"a session channel made just before a crash may then be made twice)", ErrBadTagKey, file, tagKeyLen)
	}
	return key, nil
}
