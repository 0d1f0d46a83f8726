package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const minimal = `
[discord]
token = "bot-token-secret-value"
guild_id = "111111111111111111"
admin_channel_id = "222222222222222222"
`

func noEnv(string) string { return "" }

func envWith(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestMinimalConfigGetsDefaults(t *testing.T) {
	cfg, err := Parse("/etc/bridge/config.toml", []byte(minimal), noEnv)
	if err != nil {
		t.Fatalf("minimal config refused: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"category_name", cfg.Discord.CategoryName, "QQ Music"},
		{"mode", cfg.Discord.Mode, "channels"},
		{"admin_role_id", cfg.Discord.AdminRoleID, Snowflake("")},
		{"credential_file", cfg.QQ.CredentialFile, "/etc/bridge/data/credential.json"},
		{"device_file", cfg.QQ.DeviceFile, "/etc/bridge/data/device.json"},
		{"login_method", cfg.QQ.LoginMethod, "mobile"},
		{"database", cfg.Bridge.Database, "/etc/bridge/data/bridge.db"},
		{"poll_interval", cfg.Bridge.PollInterval.Duration, 2 * time.Second},
		{"idle_poll_interval", cfg.Bridge.IdlePollInterval.Duration, 10 * time.Second},
		{"backfill", cfg.Bridge.Backfill, 20},
		{"listen", cfg.HTTP.Listen, "127.0.0.1:9090"},
		{"level", cfg.Log.Level, "info"},
		{"format", cfg.Log.Format, "text"},
		{"guild", cfg.Discord.GuildID, Snowflake("111111111111111111")},
		{"token from env", cfg.TokenFromEnv, false},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestTokenFromEnvironment(t *testing.T) {
	text := strings.Replace(minimal, `token = "bot-token-secret-value"`, "", 1)
	cfg, err := Parse("/x/config.toml", []byte(text), envWith(map[string]string{TokenEnv: "env-token-value"}))
	if err != nil {
		t.Fatalf("config with the token only in the environment refused: %v", err)
	}
	if cfg.Discord.Token != "env-token-value" || !cfg.TokenFromEnv {
		t.Fatalf("token = %q (from env %v), want the environment's", cfg.Discord.Token, cfg.TokenFromEnv)
	}
	// The environment overrides the file too.
	cfg, err = Parse("/x/config.toml", []byte(minimal), envWith(map[string]string{TokenEnv: "override"}))
	if err != nil || cfg.Discord.Token != "override" {
		t.Fatalf("env did not override the file's token: %v, %q", err, cfg.Discord.Token)
	}
}

func TestFullConfig(t *testing.T) {
	text := minimal + `
category_name = "私信"
admin_role_id = 333333333333333333
mode = "forum"
api_url = "http://127.0.0.1:3001/api/v9"

[qq]
credential_file = "/var/lib/bridge/cred.json"
login_method = "wx"

[qq.endpoints]
"u.y.qq.com" = "http://127.0.0.1:4000"
"mu.y.qq.com" = "https://127.0.0.1:4001"

[bridge]
poll_interval = "1s"
idle_poll_interval = "1m"
backfill = 0

[http]
listen = ""

[log]
level = "debug"
format = "json"
`
	cfg, err := Parse("/x/config.toml", []byte(text), noEnv)
	if err != nil {
		t.Fatalf("full config refused: %v", err)
	}
	if cfg.Discord.AdminRoleID != "333333333333333333" || cfg.Discord.Mode != "forum" || cfg.Discord.CategoryName != "私信" {
		t.Errorf("discord table decoded wrong: %+v", cfg.Discord)
	}
	if cfg.QQ.CredentialFile != "/var/lib/bridge/cred.json" {
		t.Errorf("absolute path changed: %s", cfg.QQ.CredentialFile)
	}
	if cfg.QQ.Endpoints["mu.y.qq.com"] != "https://127.0.0.1:4001" || len(cfg.QQ.Endpoints) != 2 {
		t.Errorf("endpoints = %v", cfg.QQ.Endpoints)
	}
	if cfg.Bridge.Backfill != 0 || cfg.Bridge.IdlePollInterval.Duration != time.Minute || cfg.HTTP.Listen != "" {
		t.Errorf("bridge/http decoded wrong: %+v %+v", cfg.Bridge, cfg.HTTP)
	}
}

func TestRejections(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		env     map[string]string
		key     string
		line    int
		msgPart string
	}{
		{"unknown key", minimal + "bogus_key = 1\n", nil, "discord.bogus_key", 6, "unknown key"},
		{"unknown table", minimal + "[bogus]\nx = 1\n", nil, "bogus", 6, "unknown key"},
		{"missing token", strings.Replace(minimal, `token = "bot-token-secret-value"`, "", 1), nil, "discord.token", 2, "BRIDGE_DISCORD_TOKEN"},
		{"missing guild", strings.Replace(minimal, `guild_id = "111111111111111111"`, "", 1), nil, "discord.guild_id", 2, "required"},
		{"missing admin channel", strings.Replace(minimal, `admin_channel_id = "222222222222222222"`, "", 1), nil, "discord.admin_channel_id", 2, "required"},
		{"bad duration", minimal + "[bridge]\npoll_interval = \"2 parsecs\"\n", nil, "bridge.poll_interval", 7, "not a duration"},
		{"bare number duration", minimal + "[bridge]\nidle_poll_interval = 10\n", nil, "bridge.idle_poll_interval", 7, "duration string"},
		{"idle shorter than poll", minimal + "[bridge]\npoll_interval = \"5s\"\nidle_poll_interval = \"1s\"\n", nil, "bridge.idle_poll_interval", 8, "shorter"},
		{"bad login method", minimal + "[qq]\nlogin_method = \"email\"\n", nil, "qq.login_method", 7, "mobile, qq, wx"},
		{"bad mode", minimal + "mode = \"threads\"\n", nil, "discord.mode", 6, `"channels" or "forum"`},
		{"archive_after too short", minimal + "archive_after = \"10m\"\n", nil, "discord.archive_after", 6, "at least 1h"},
		{"endpoint not a URL", minimal + "[qq.endpoints]\n\"u.y.qq.com\" = \"127.0.0.1:4000\"\n", nil, `qq.endpoints."u.y.qq.com"`, 7, "absolute http"},
		{"endpoint ftp", minimal + "[qq.endpoints]\n\"graph.qq.com\" = \"ftp://h/\"\n", nil, `qq.endpoints."graph.qq.com"`, 7, "absolute http"},
		{"endpoint unknown host", minimal + "[qq.endpoints]\n\"evil.example\" = \"http://h/\"\n", nil, `qq.endpoints."evil.example"`, 7, "not a QQ Music host"},
		{"negative backfill", minimal + "[bridge]\nbackfill = -1\n", nil, "bridge.backfill", 7, "between 0"},
		{"backfill wrong type", minimal + "[bridge]\nbackfill = \"20\"\n", nil, "bridge.backfill", 7, "incompatible types"},
		{"bad api_url", minimal + "api_url = \"discord\"\n", nil, "discord.api_url", 6, "absolute http"},
		{"bad guild id", strings.Replace(minimal, `"111111111111111111"`, `"my server"`, 1), nil, "discord.guild_id", 4, "not a Discord id"},
		{"bad listen", minimal + "[http]\nlisten = \"9090\"\n", nil, "http.listen", 7, "host:port"},
		{"bad log level", minimal + "[log]\nlevel = \"loud\"\n", nil, "log.level", 7, "debug, info"},
		{"bad log format", minimal + "[log]\nformat = \"xml\"\n", nil, "log.format", 7, "json"},
		{"syntax error", minimal + "[bridge\n", nil, "", 7, "syntax"},
		{"token with space", strings.Replace(minimal, "bot-token-secret-value", "bot token", 1), nil, "discord.token", 3, "white space"},
		{"api_url without the API path", minimal + "api_url = \"http://127.0.0.1:3001\"\n", nil, "discord.api_url", 6, "/api/v<N>"},
		{"api_url with another path", minimal + "api_url = \"http://127.0.0.1:3001/api\"\n", nil, "discord.api_url", 6, "/api/v<N>"},
		{"token with space from the environment", minimal, map[string]string{TokenEnv: "bot-token-secret-value\n"}, "discord.token", 0, "the BRIDGE_DISCORD_TOKEN environment variable (it overrides discord.token in /x/config.toml): contains white space"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("/x/config.toml", []byte(tc.text), envWith(tc.env))
			if err == nil {
				t.Fatal("accepted, want an error")
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *config.Error", err)
			}
			if ce.Key != tc.key {
				t.Errorf("key = %q, want %q (%v)", ce.Key, tc.key, err)
			}
			if ce.Line != tc.line {
				t.Errorf("line = %d, want %d (%v)", ce.Line, tc.line, err)
			}
			if !strings.Contains(err.Error(), tc.msgPart) {
				t.Errorf("message %q does not say %q", err.Error(), tc.msgPart)
			}
			if tc.key != "" && !strings.Contains(err.Error(), tc.key) {
				t.Errorf("message %q does not name the key %q", err.Error(), tc.key)
			}
			if strings.Contains(err.Error(), "bot-token-secret-value") {
				t.Errorf("message %q leaks the token", err.Error())
			}
		})
	}
}

func TestLoadResolvesRelativeToFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "conf", "bridge.toml")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(minimal+"[bridge]\ndatabase = \"state/db.sqlite\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(TokenEnv, "")
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "conf", "state", "db.sqlite"); cfg.Bridge.Database != want {
		t.Errorf("database = %s, want %s", cfg.Bridge.Database, want)
	}
	if _, err := Load(filepath.Join(dir, "missing.toml")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing file: %v", err)
	}
}

func TestResolvePath(t *testing.T) {
	t.Setenv(PathEnv, "")
	if got := ResolvePath(""); got != "config.toml" {
		t.Errorf("default = %s", got)
	}
	t.Setenv(PathEnv, "/data/config.toml")
	if got := ResolvePath(""); got != "/data/config.toml" {
		t.Errorf("from env = %s", got)
	}
	if got := ResolvePath("x.toml"); got != "x.toml" {
		t.Errorf("flag = %s", got)
	}
}

func TestSummaryMasksToken(t *testing.T) {
	cfg, err := Parse("/x/config.toml", []byte(minimal), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := cfg.WriteSummary(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, "bot-token") || strings.Contains(out, "secret") {
		t.Errorf("summary leaks the token:\n%s", out)
	}
	for _, want := range []string{"masked", "111111111111111111", "QQ Music", "channels", "mobile", "2s"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

// The example file shipped in the repository must load as is.
func TestExampleConfigLoads(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "config.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse("/x/config.example.toml", raw, envWith(map[string]string{TokenEnv: "t"})); err != nil {
		t.Fatalf("config.example.toml does not load: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(minimal + "[qq.endpoints]\n\"u.y.qq.com\" = \"http://h\"\n"))
	f.Add([]byte("[bridge]\npoll_interval = \"1s\"\n"))
	f.Add([]byte("[[discord]]\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg, err := Parse("/f/config.toml", raw, noEnv)
		if err == nil && (cfg.Discord.Token == "" || cfg.Discord.GuildID == "") {
			t.Fatalf("accepted a config without required keys: %+v", cfg)
		}
	})
}

func TestLoadWithoutToken(t *testing.T) {
	t.Setenv(TokenEnv, "")
	p := filepath.Join(t.TempDir(), "config.toml")
	text := strings.Replace(minimal, `token = "bot-token-secret-value"`, "", 1)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil {
		t.Fatal("Load accepted a config without a token")
	}
	cfg, err := LoadWithoutToken(p)
	if err != nil {
		t.Fatalf("LoadWithoutToken: %v", err)
	}
	if cfg.Discord.Token != "" || cfg.TokenFromEnv {
		t.Errorf("token = %q, want none", cfg.Discord.Token)
	}
}
