package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// allKeys returns every dotted key of the configuration file, from the
// toml tags of Config's tables.
func allKeys() []string {
	var out []string
	cfg := reflect.TypeFor[Config]()
	for i := range cfg.NumField() {
		table := cfg.Field(i)
		tname, _, _ := strings.Cut(table.Tag.Get("toml"), ",")
		if tname == "" || tname == "-" {
			continue
		}
		for j := range table.Type.NumField() {
			name, _, _ := strings.Cut(table.Type.Field(j).Tag.Get("toml"), ",")
			if name != "" && name != "-" {
				out = append(out, tname+"."+name)
			}
		}
	}
	return out
}

func TestKeysFound(t *testing.T) {
	got := strings.Join(allKeys(), " ")
	for _, want := range []string{"discord.token", "qq.endpoints", "bridge.idle_poll_interval", "log.format"} {
		if !strings.Contains(got, want) {
			t.Fatalf("keys() = %s, lacks %s", got, want)
		}
	}
}

// config.example.toml documents every key: each is set (or shown as a
// table) under its table, with a comment right above it.
func TestExampleDocumentsEveryKey(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "config.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	for _, key := range allKeys() {
		table, name, _ := strings.Cut(key, ".")
		header := "[" + table + "]"
		pattern := regexp.MustCompile(`^` + regexp.QuoteMeta(name) + `\s*=`)
		if sub := "[" + key + "]"; strings.Contains(string(raw), sub) {
			header, pattern = "", regexp.MustCompile(`^`+regexp.QuoteMeta(sub)+`$`)
		}
		inTable := header == ""
		found := false
		for i, l := range lines {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "[") && header != "" {
				inTable = l == header
				continue
			}
			if !inTable || !pattern.MatchString(l) {
				continue
			}
			found = true
			if i == 0 || !strings.HasPrefix(strings.TrimSpace(lines[i-1]), "#") {
				t.Errorf("config.example.toml sets %s on line %d without a comment above it", key, i+1)
			}
		}
		if !found {
			t.Errorf("config.example.toml does not show %s", key)
		}
	}
}

// The README's configuration table names every key.
func TestReadmeDocumentsEveryKey(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "\n## Configuration\n")
	if !ok {
		t.Fatal("README.md has no Configuration section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	for _, key := range allKeys() {
		if !strings.Contains(section, "`"+key+"`") {
			t.Errorf("README.md's configuration table lacks %s", key)
		}
	}
}
