// Package config loads and validates the bridge's TOML configuration file.
//
// The key names are a contract that deployments rely on: keys are only ever
// added, never renamed or dropped. Loading is strict: an unknown key, a value
// of the wrong type, a bad duration or an out-of-range value is an error that
// names the key and, where the file gives one, the line.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// TokenEnv is the environment variable that overrides discord.token.
const TokenEnv = "BRIDGE_DISCORD_TOKEN"

// PathEnv is the environment variable that names the config file when
// --config is not given.
const PathEnv = "BRIDGE_CONFIG"

// DefaultPath is the config file used when neither --config nor
// BRIDGE_CONFIG is given.
const DefaultPath = "config.toml"

// QQHosts are the QQ Music hosts that qq.endpoints may point elsewhere.
var QQHosts = []string{
	"u.y.qq.com",
	"api.tencentmusic.com",
	"ssl.ptlogin2.qq.com",
	"ssl.ptlogin2.graph.qq.com",
	"graph.qq.com",
	"open.weixin.qq.com",
	"lp.open.weixin.qq.com",
	"mu.y.qq.com",
}

// Config is the whole configuration file.
type Config struct {
	Discord Discord `toml:"discord"`
	QQ      QQ      `toml:"qq"`
	Bridge  Bridge  `toml:"bridge"`
	HTTP    HTTP    `toml:"http"`
	Log     Log     `toml:"log"`

	// Path is the file the configuration was loaded from (absolute).
	Path string `toml:"-"`
	// TokenFromEnv is true when discord.token came from BRIDGE_DISCORD_TOKEN.
	TokenFromEnv bool `toml:"-"`
}

// Discord is the [discord] table.
type Discord struct {
	// Token is the bot token. Secret: never log it.
	Token          string    `toml:"token"`
	GuildID        Snowflake `toml:"guild_id"`
	AdminChannelID Snowflake `toml:"admin_channel_id"`
	CategoryName   string    `toml:"category_name"`
	AdminRoleID    Snowflake `toml:"admin_role_id"`
	Mode           string    `toml:"mode"`
	APIURL         string    `toml:"api_url"`
	// ViewerRoleID names a role that may read the session channels but
	// not reply; empty: none.
	ViewerRoleID Snowflake `toml:"viewer_role_id"`
	// ArchiveChannelID is where transcripts of archived session channels
	// go (a private channel); empty: a thread of the admin channel.
	ArchiveChannelID Snowflake `toml:"archive_channel_id"`
	// ArchiveAfter archives a session channel idle that long (channels
	// mode); 0: never.
	ArchiveAfter Duration `toml:"archive_after"`
	// ReuploadMedia downloads QQ pictures, videos and avatars (bounded,
	// public addresses only) to upload them to Discord; false links them.
	ReuploadMedia bool `toml:"reupload_media"`
}

// QQ is the [qq] table.
type QQ struct {
	CredentialFile string            `toml:"credential_file"`
	DeviceFile     string            `toml:"device_file"`
	LoginMethod    string            `toml:"login_method"`
	Endpoints      map[string]string `toml:"endpoints"`
}

// Bridge is the [bridge] table.
type Bridge struct {
	Database         string   `toml:"database"`
	PollInterval     Duration `toml:"poll_interval"`
	IdlePollInterval Duration `toml:"idle_poll_interval"`
	Backfill         int      `toml:"backfill"`
	// FirstStartDays is the horizon of the first start: only sessions
	// active within it get a channel then; older ones when they next change
	// (0: every session).
	FirstStartDays int `toml:"first_start_days"`
	// EditWindow is how long after writing a member's edit is sent to QQ
	// as a correction; 0 (the default) sends none.
	EditWindow Duration `toml:"edit_window"`
}

// HTTP is the [http] table.
type HTTP struct {
	// Listen is the address of the health and metrics server; "" disables it.
	Listen string `toml:"listen"`
}

// Log is the [log] table.
type Log struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

// Mode values of discord.mode.
const (
	ModeChannels = "channels"
	ModeForum    = "forum"
)

// Login methods of qq.login_method.
var loginMethods = []string{"mobile", "qq", "wx"}

// MaxBackfill bounds bridge.backfill: a new channel is never flooded with
// more than this many old messages.
const MaxBackfill = 1000

// DefaultFirstStartDays is bridge.first_start_days by default;
// MaxFirstStartDays bounds it.
const (
	DefaultFirstStartDays = 30
	MaxFirstStartDays     = 3650
)

// Defaults returns the configuration every key starts from.
func Defaults() Config {
	return Config{
		Discord: Discord{
			CategoryName:  "QQ Music",
			Mode:          ModeChannels,
			ReuploadMedia: true,
		},
		QQ: QQ{
			CredentialFile: "data/credential.json",
			DeviceFile:     "data/device.json",
			LoginMethod:    "mobile",
			Endpoints:      map[string]string{},
		},
		Bridge: Bridge{
			Database:         "data/bridge.db",
			PollInterval:     Duration{2 * time.Second},
			IdlePollInterval: Duration{10 * time.Second},
			Backfill:         20,
			FirstStartDays:   DefaultFirstStartDays,
		},
		HTTP: HTTP{Listen: "127.0.0.1:9090"},
		Log:  Log{Level: "info", Format: "text"},
	}
}

// Error is a configuration error. It names the key and, when known, the
// line of the file.
type Error struct {
	File string
	// Env, when set, is the environment variable at fault: the message
	// names it instead of File and Line.
	Env string
	// Key is the dotted key, e.g. "discord.mode"; "" for syntax errors.
	Key string
	// Line is the 1-based line in File, or 0 when unknown.
	Line int
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Env != "" {
		fmt.Fprintf(&b, "the %s environment variable (it overrides %s in %s): %s", e.Env, e.Key, e.File, e.Msg)
		return b.String()
	}
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ResolvePath returns the config file to use: flag if set, else
// $BRIDGE_CONFIG, else config.toml.
func ResolvePath(flag string) string {
	if flag != "" {
		return flag
	}
	if p := os.Getenv(PathEnv); p != "" {
		return p
	}
	return DefaultPath
}

// Load reads, decodes and validates the configuration file at path.
// Environment overrides (BRIDGE_DISCORD_TOKEN) are applied, and relative
// paths are resolved against the file's folder. Every error is an *Error
// (or wraps the file-system error when the file cannot be read).
func Load(path string) (*Config, error) {
	return load(path, true)
}

// LoadWithoutToken is Load for commands that never talk to Discord (such
// as healthcheck): a missing discord.token is not an error there.
func LoadWithoutToken(path string) (*Config, error) {
	return load(path, false)
}

func load(path string, needToken bool) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("config file %s does not exist: create it from config.example.toml or pass --config: %w", path, err)
		}
		return nil, fmt.Errorf("reading config file %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return parse(abs, raw, os.Getenv, needToken)
}

// Parse decodes and validates a configuration file's contents. file names
// it in errors and anchors relative paths; getenv supplies the environment.
func Parse(file string, raw []byte, getenv func(string) string) (*Config, error) {
	return parse(file, raw, getenv, true)
}

func parse(file string, raw []byte, getenv func(string) string, needToken bool) (*Config, error) {
	if !utf8.Valid(raw) {
		return nil, &Error{File: file, Msg: "the file is not valid UTF-8 text"}
	}
	text := string(raw)
	// Syntax first, so that a syntax error is never reported as a bad value.
	var generic map[string]any
	if _, err := toml.Decode(text, &generic); err != nil {
		return nil, syntaxError(file, err)
	}
	cfg := Defaults()
	md, err := toml.Decode(text, &cfg)
	if err != nil {
		return nil, decodeError(file, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		sort.Strings(keys)
		return nil, &Error{
			File: file, Key: keys[0], Line: findKeyLine(text, keys[0]),
			Msg: fmt.Sprintf("unknown key %q (check its spelling against config.example.toml)", keys[0]),
		}
	}
	cfg.Path = file
	if tok := getenv(TokenEnv); tok != "" {
		cfg.Discord.Token = tok
		cfg.TokenFromEnv = true
	}
	if err := cfg.validate(needToken); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			ce.File = file
			if ce.Line == 0 && ce.Env == "" {
				ce.Line = findKeyLine(text, ce.Key)
			}
		}
		return nil, err
	}
	cfg.resolvePaths(filepath.Dir(file))
	return &cfg, nil
}

// syntaxError reports a TOML syntax error with its line.
func syntaxError(file string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &Error{File: file, Line: pe.Position.Line, Msg: "TOML syntax error: " + pe.Message}
	}
	return &Error{File: file, Msg: "TOML syntax error: " + strings.TrimPrefix(err.Error(), "toml: ")}
}

// decodeError turns a toml error into an *Error with key and line.
func decodeError(file string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &Error{File: file, Key: pe.LastKey, Line: pe.Position.Line, Msg: pe.Message}
	}
	// Type mismatches come as plain errors formatted as
	// `toml: line N (last key "k"): message`.
	s := strings.TrimPrefix(err.Error(), "toml: ")
	ce := &Error{File: file, Msg: s}
	if rest, ok := strings.CutPrefix(s, "line "); ok {
		num, after, _ := strings.Cut(rest, " ")
		if n, convErr := strconv.Atoi(strings.TrimSuffix(num, ":")); convErr == nil {
			ce.Line = n
			after = strings.TrimSpace(after)
			if k, ok := strings.CutPrefix(after, "(last key \""); ok {
				if i := strings.Index(k, "\"):"); i >= 0 {
					ce.Key = k[:i]
					after = strings.TrimSpace(k[i+3:])
				}
			}
			ce.Msg = after
		}
	}
	return ce
}

func keyErr(key, format string, args ...any) *Error {
	return &Error{Key: key, Msg: fmt.Sprintf(format, args...)}
}

func (c *Config) validate(needToken bool) error {
	d := &c.Discord
	// "Bot xxx" is the Authorization header's form; the adapter accepts
	// it, so the configuration does too.
	d.Token = strings.TrimPrefix(d.Token, "Bot ")
	if needToken && strings.TrimSpace(d.Token) == "" {
		return keyErr("discord.token", "is required: set it in the file or in the %s environment variable", TokenEnv)
	}
	if strings.ContainsAny(d.Token, " \t\r\n") {
		e := keyErr("discord.token", "contains white space: copy the bot token exactly from the Bot page of the Discord developer portal")
		if c.TokenFromEnv {
			e.Env = TokenEnv
		}
		return e
	}
	if d.GuildID == "" {
		return keyErr("discord.guild_id", "is required: the id of the Discord server that holds the bridge")
	}
	if d.AdminChannelID == "" {
		return keyErr("discord.admin_channel_id", "is required: the id of the channel for login QR codes and admin commands")
	}
	if name := strings.TrimSpace(d.CategoryName); name == "" || utf8.RuneCountInString(name) > 90 {
		return keyErr("discord.category_name", "must be 1 to 90 characters (Discord allows 100, and overflow categories add a number)")
	}
	if d.Mode != ModeChannels && d.Mode != ModeForum {
		return keyErr("discord.mode", "must be %q or %q, not %q", ModeChannels, ModeForum, d.Mode)
	}
	if d.ArchiveAfter.Duration < 0 || (d.ArchiveAfter.Duration > 0 && d.ArchiveAfter.Duration < time.Hour) {
		return keyErr("discord.archive_after", "must be 0 (never) or at least 1h, not %s: an archived channel is deleted", d.ArchiveAfter.Duration)
	}
	if d.APIURL != "" {
		if err := checkBaseURL(d.APIURL); err != nil {
			return keyErr("discord.api_url", "%v", err)
		}
		if !apiPath.MatchString(mustPath(d.APIURL)) {
			return keyErr("discord.api_url", "must end in the API version, /api/v<N> (e.g. \"http://127.0.0.1:3001/api/v10\"), not %q: without it every request gets 404", d.APIURL)
		}
	}

	q := &c.QQ
	if !slices.Contains(loginMethods, q.LoginMethod) {
		return keyErr("qq.login_method", "must be one of %s, not %q", strings.Join(loginMethods, ", "), q.LoginMethod)
	}
	if q.CredentialFile == "" {
		return keyErr("qq.credential_file", "must not be empty")
	}
	if q.DeviceFile == "" {
		return keyErr("qq.device_file", "must not be empty")
	}
	hosts := make([]string, 0, len(q.Endpoints))
	for h := range q.Endpoints {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		key := fmt.Sprintf("qq.endpoints.%q", h)
		if !slices.Contains(QQHosts, h) {
			return keyErr(key, "%q is not a QQ Music host the bridge talks to (known: %s)", h, strings.Join(QQHosts, ", "))
		}
		if err := checkBaseURL(q.Endpoints[h]); err != nil {
			return keyErr(key, "%v", err)
		}
	}

	b := &c.Bridge
	if b.Database == "" {
		return keyErr("bridge.database", "must not be empty")
	}
	if b.PollInterval.Duration < 100*time.Millisecond {
		return keyErr("bridge.poll_interval", "must be at least 100ms, not %s", b.PollInterval)
	}
	if b.IdlePollInterval.Duration < b.PollInterval.Duration {
		return keyErr("bridge.idle_poll_interval", "must not be shorter than bridge.poll_interval (%s), not %s", b.PollInterval, b.IdlePollInterval)
	}
	if b.EditWindow.Duration < 0 || b.EditWindow.Duration > 24*time.Hour {
		return keyErr("bridge.edit_window", "must be between 0 (off) and 24h, not %s", b.EditWindow)
	}
	if b.Backfill < 0 || b.Backfill > MaxBackfill {
		return keyErr("bridge.backfill", "must be between 0 and %d, not %d", MaxBackfill, b.Backfill)
	}
	if b.FirstStartDays < 0 || b.FirstStartDays > MaxFirstStartDays {
		return keyErr("bridge.first_start_days", "must be between 0 (every session) and %d, not %d", MaxFirstStartDays, b.FirstStartDays)
	}

	if l := c.HTTP.Listen; l != "" {
		if _, port, err := net.SplitHostPort(l); err != nil || port == "" {
			return keyErr("http.listen", "must be host:port (e.g. \"127.0.0.1:9090\") or \"\" to disable, not %q", l)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return keyErr("log.level", "must be debug, info, warn or error, not %q", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		return keyErr("log.format", "must be \"text\" or \"json\", not %q", c.Log.Format)
	}
	return nil
}

// apiPath is the path of a Discord REST base: /api/v<N>.
var apiPath = regexp.MustCompile(`^/api/v[0-9]+/?$`)

// mustPath is the path of a URL checkBaseURL accepted.
func mustPath(s string) string {
	u, _ := url.Parse(s)
	return u.Path
}

// checkBaseURL accepts an absolute http(s) URL with a host.
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an absolute http:// or https:// URL, not %q", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("must be a base URL without query or fragment, not %q", s)
	}
	return nil
}

func (c *Config) resolvePaths(dir string) {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	c.QQ.CredentialFile = abs(c.QQ.CredentialFile)
	c.QQ.DeviceFile = abs(c.QQ.DeviceFile)
	c.Bridge.Database = abs(c.Bridge.Database)
}
