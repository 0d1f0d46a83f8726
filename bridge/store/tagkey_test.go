package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// The tag key is made once, private, and read back the same at every
// start; a damaged file is refused, never replaced.
func TestTagKey(t *testing.T) {
	dir := t.TempDir()
	file := TagKeyFile(filepath.Join(dir, "bridge.db"))
	k1, err := LoadOrCreateTagKey(file)
	if err != nil || len(k1) != 32 {
		t.Fatalf("key %x, %v", k1, err)
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v, %v; want mode 0600", fi, err)
	}
	k2, err := LoadOrCreateTagKey(file)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second load %x, %v; want %x", k2, err, k1)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	other, err := LoadOrCreateTagKey(TagKeyFile(filepath.Join(dir, "other.db")))
	if err != nil || bytes.Equal(other, k1) {
		t.Errorf("another database's key %x, %v; want a different one", other, err)
	}
	for _, bad := range []string{"", "zz", "0011\n"} {
		if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadOrCreateTagKey(file); !errors.Is(err, ErrBadTagKey) {
			t.Errorf("damaged file %q: %v, want ErrBadTagKey", bad, err)
		}
		if b, _ := os.ReadFile(file); string(b) != bad {
			t.Errorf("damaged file replaced by %q", b)
		}
	}
}
