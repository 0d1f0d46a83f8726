package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// End-to-end tests: the real binary as a subprocess, with its config
// pointing qq.endpoints and discord.api_url at the two test doubles.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// bridgeBinary builds the binary once per test run.
func bridgeBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bridge-e2e-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "bridge")
		cmd := exec.Command("go", "build", "-race", "-o", binPath, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// syncBuffer collects a subprocess's output for assertions.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type e2e struct {
	t       *testing.T
	qq      *qqtest.Server
	dc      *discordtest.Server
	dir     string
	cfgPath string
	account qqtest.Account
	proc    *exec.Cmd
	logs    *syncBuffer
	exited  chan struct{}
	listen  string // http.listen
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// get fetches a path of the bridge's http.listen server.
func (e *e2e) get(path string) (int, string) {
	resp, err := http.Get("http://" + e.listen + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var e2eAccount = qqtest.Account{
	MusicID: 20002, MusicKey: "Q_H_L_e2e-secret-musickey", LoginType: 2, Nick: "Owner",
	OpenID: "oid", AccessToken: "e2e-secret-access", RefreshToken: "e2e-secret-refresh", RefreshKey: "e2e-secret-rk",
	ExpiredAt: time.Now().Add(90 * 24 * time.Hour).Unix(), MusicKeyCreateTime: time.Now().Unix(), KeyExpiresIn: 259200,
}

func newE2E(t *testing.T, qqOpts ...qqtest.Option) *e2e {
	t.Helper()
	e := &e2e{t: t, dir: t.TempDir(), account: e2eAccount, listen: freeAddr(t)}
	e.qq = qqtest.New(append([]qqtest.Option{qqtest.WithAccount(e.account)}, qqOpts...)...)
	t.Cleanup(e.qq.Close)
	e.dc = discordtest.New(discordtest.WithHeartbeatInterval(500 * time.Millisecond))
	t.Cleanup(e.dc.Close)

	cred, err := e.account.CredentialJSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(e.dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "data", "credential.json"), cred, 0o600); err != nil {
		t.Fatal(err)
	}
	var eps strings.Builder
	for host, base := range e.qq.Endpoints() {
		if !knownHost(host) {
			continue
		}
		fmt.Fprintf(&eps, "%q = %q\n", host, base)
	}
	cfg := fmt.Sprintf(`
[discord]
guild_id = %q
admin_channel_id = %q
api_url = %q
# The doubles' avatars and media name real CDN hosts: link them, never download.
reupload_media = false

[qq]
login_method = "mobile"

[qq.endpoints]
%s
[bridge]
poll_interval = "200ms"
idle_poll_interval = "1s"
backfill = 5

[http]
listen = %q

[log]
level = "debug"
`, e.dc.GuildID, e.dc.AdminChannelID, e.dc.APIURL(), eps.String(), e.listen)
	e.cfgPath = filepath.Join(e.dir, "config.toml")
	if err := os.WriteFile(e.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func knownHost(h string) bool {
	for _, k := range []string{"u.y.qq.com", "api.tencentmusic.com", "ssl.ptlogin2.qq.com", "ssl.ptlogin2.graph.qq.com",
		"graph.qq.com", "open.weixin.qq.com", "lp.open.weixin.qq.com", "mu.y.qq.com"} {
		if h == k {
			return true
		}
	}
	return false
}

// start runs the bridge binary.
func (e *e2e) start() {
	e.t.Helper()
	e.logs = &syncBuffer{}
	e.proc = exec.Command(bridgeBinary(e.t), "run", "--config", e.cfgPath)
	e.proc.Env = append(os.Environ(), "BRIDGE_DISCORD_TOKEN="+e.dc.Token)
	e.proc.Stdout = e.logs
	e.proc.Stderr = e.logs
	if err := e.proc.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.exited = make(chan struct{})
	go func() { _ = e.proc.Wait(); close(e.exited) }()
	e.t.Cleanup(func() {
		e.stop(syscall.SIGKILL)
		if e.t.Failed() {
			e.t.Logf("bridge output:\n%s", e.logs.String())
		}
	})
}

// stop sends sig and waits for the process to end.
func (e *e2e) stop(sig syscall.Signal) int {
	if e.proc == nil || e.proc.Process == nil {
		return -1
	}
	select {
	case <-e.exited:
	default:
		_ = e.proc.Process.Signal(sig)
		select {
		case <-e.exited:
		case <-time.After(20 * time.Second):
			_ = e.proc.Process.Kill()
			<-e.exited
			e.t.Errorf("the bridge did not stop within 20 s of %v", sig)
		}
	}
	return e.proc.ProcessState.ExitCode()
}

// eventually waits for cond, failing the test with what after timeout.
func (e *e2e) eventually(what string, timeout time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		select {
		case <-e.exited:
			if !cond() {
				e.t.Fatalf("the bridge exited (%v) while waiting for %s", e.proc.ProcessState, what)
			}
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// tag is the session's tag under the bridge's tag key (kept beside its
// database once it ran), "" before.
func (e *e2e) tag(sessionID string) string {
	b, err := os.ReadFile(store.TagKeyFile(filepath.Join(e.dir, "data", "bridge.db")))
	if err != nil {
		return ""
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return ""
	}
	return discord.SessionTagKeyed(key, sessionID)
}

// sessionChannel finds the Discord channel whose topic ends with the tag of sessionID.
func (e *e2e) sessionChannel(sessionID string) (discordtest.Channel, bool) {
	tag := e.tag(sessionID)
	for _, ch := range e.dc.Channels() {
		if tag != "" && strings.HasSuffix(ch.Topic, " · #"+tag) {
			return ch, true
		}
	}
	return discordtest.Channel{}, false
}

func (e *e2e) webhookContents(channelID string) []string {
	var out []string
	for _, m := range e.dc.Messages(channelID) {
		if m.WebhookID != "" {
			out = append(out, m.Content)
		}
	}
	return out
}

func TestE2ETwoWayRelay(t *testing.T) {
	e := newE2E(t)
	alice := e.qq.AddUser(qqtest.User{Nick: "Alice", Avatar: "https://img.example/alice.jpg"})
	sid := e.qq.AddSession(alice)
	for _, text := range []string{"hello", "are you there?"} {
		if _, err := e.qq.Deliver(sid, qqtest.Text(text)); err != nil {
			t.Fatal(err)
		}
	}
	e.start()

	var ch discordtest.Channel
	e.eventually("the session's channel", 30*time.Second, func() bool {
		var ok bool
		ch, ok = e.sessionChannel(sid)
		return ok
	})
	e.eventually("the backfilled messages", 20*time.Second, func() bool {
		return len(e.webhookContents(ch.ID)) >= 2
	})
	got := e.webhookContents(ch.ID)
	if got[0] != "hello" || got[1] != "are you there?" {
		t.Errorf("channel shows %q, want hello then are you there?", got)
	}
	for _, m := range e.dc.Messages(ch.ID) {
		if m.WebhookID != "" && !strings.Contains(m.Author.Username, "Alice") {
			t.Errorf("message posted as %q, want Alice's name", m.Author.Username)
		}
	}

	// A live message.
	if _, err := e.qq.Deliver(sid, qqtest.Text("live one")); err != nil {
		t.Fatal(err)
	}
	e.eventually("the live message", 20*time.Second, func() bool {
		c := e.webhookContents(ch.ID)
		return len(c) == 3 && c[2] == "live one"
	})

	// A member's reply goes to QQ once, and is marked delivered.
	reply := e.dc.Type(ch.ID, e.dc.AdminUserID, "hi Alice, from Discord")
	e.eventually("the reply at QQ", 20*time.Second, func() bool { return len(e.qq.Sent()) >= 1 })
	sent := e.qq.Sent()
	if len(sent) != 1 || sent[0].Meta.Content != "hi Alice, from Discord" || sent[0].UserID != fmt.Sprint(alice.UIN) {
		t.Fatalf("QQ received %+v", sent)
	}
	e.eventually("the ✅ reaction", 20*time.Second, func() bool {
		m, ok := e.dc.Message(ch.ID, reply.ID)
		if !ok {
			return false
		}
		for _, r := range m.Reactions {
			if r.Emoji.Name == "✅" {
				return true
			}
		}
		return false
	})
	// The echo of our own reply is not posted back.
	time.Sleep(time.Second)
	if c := e.webhookContents(ch.ID); len(c) != 3 {
		t.Errorf("channel now shows %q: the bridge echoed its own reply", c)
	}

	// The musickey expires: the bridge refreshes it (refresh token and
	// key go over the wire) and relaying goes on.
	e.qq.ExpireCredential()
	if _, err := e.qq.Deliver(sid, qqtest.Text("after the refresh")); err != nil {
		t.Fatal(err)
	}
	e.eventually("the message after the refresh", 20*time.Second, func() bool {
		c := e.webhookContents(ch.ID)
		return len(c) == 4 && c[3] == "after the refresh"
	})
	refreshed := e.qq.Account()
	if refreshed.MusicKey == e.account.MusicKey {
		t.Fatal("the double issued no new musickey")
	}

	// SIGTERM: a clean exit; then a restart relays what came meanwhile, once.
	if code := e.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	if _, err := e.qq.Deliver(sid, qqtest.Text("while you were away")); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.eventually("the message from the downtime", 30*time.Second, func() bool {
		c := e.webhookContents(ch.ID)
		return len(c) >= 5 && c[len(c)-1] == "while you were away"
	})
	time.Sleep(time.Second)
	if c := e.webhookContents(ch.ID); len(c) != 5 {
		t.Errorf("after the restart the channel shows %q, want 5 messages", c)
	}
	if n := len(e.qq.Sent()); n != 1 {
		t.Errorf("QQ received %d replies after the restart, want 1", n)
	}

	logs := e.logs.String()
	for _, secret := range []string{e.dc.Token, e.account.MusicKey, e.account.RefreshToken, e.account.AccessToken, e.account.RefreshKey,
		refreshed.MusicKey, refreshed.RefreshToken, refreshed.RefreshKey} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain a secret (%.6s...)", secret)
		}
	}
}

func TestE2ERejectedTokenExits1(t *testing.T) {
	e := newE2E(t)
	bin := bridgeBinary(t)
	cmd := exec.Command(bin, "run", "--config", e.cfgPath)
	cmd.Env = append(os.Environ(), "BRIDGE_DISCORD_TOKEN=not-the-right-token")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		t.Fatal("the bridge kept running with a rejected token")
	}
	if cmd.ProcessState.ExitCode() != 1 {
		t.Errorf("exit code %d (%v), want 1\n%s", cmd.ProcessState.ExitCode(), err, out)
	}
	if !strings.Contains(string(out), "refused the bot token") {
		t.Errorf("output does not say the token was refused:\n%s", out)
	}
	if strings.Contains(string(out), "not-the-right-token") {
		t.Errorf("output shows the token")
	}
}

func TestE2EHealthAndMetrics(t *testing.T) {
	e := newE2E(t)
	alice := e.qq.AddUser(qqtest.User{Nick: "Alice"})
	sid := e.qq.AddSession(alice)
	if _, err := e.qq.Deliver(sid, qqtest.Text("hello")); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.eventually("a healthy /healthz", 30*time.Second, func() bool {
		code, _ := e.get("/healthz")
		return code == http.StatusOK
	})
	cmd := exec.Command(bridgeBinary(t), "healthcheck", "--config", e.cfgPath)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("bridge healthcheck on a healthy bridge: %v\n%s", err, out)
	}
	e.eventually("the relayed message", 20*time.Second, func() bool {
		ch, ok := e.sessionChannel(sid)
		return ok && len(e.webhookContents(ch.ID)) == 1
	})
	e.eventually("the relay in the metrics", 10*time.Second, func() bool {
		_, m := e.get("/metrics")
		return strings.Contains(m, `bridge_messages_relayed_total{direction="to_discord",outcome="delivered"} 1`)
	})
	_, m := e.get("/metrics")
	for _, name := range []string{"bridge_qq_requests_total{method=\"GetSessionList\",result=\"ok\"}", "bridge_sessions_bridged 1",
		"bridge_outbox_depth", "bridge_poll_duration_seconds_bucket", "bridge_relay_latency_seconds_bucket",
		"bridge_login_pending 0", "bridge_credential_expiry_timestamp_seconds", "bridge_last_successful_poll_timestamp_seconds",
		"bridge_discord_gateway_connected 1", "bridge_discord_rate_limited_total", "bridge_discord_requests_total"} {
		if !strings.Contains(m, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	// QQ refuses the credential for good: the login is pending, /healthz
	// says so with 503, and healthcheck exits 1.
	e.qq.Fail("*", qqtest.Fault{Kind: qqtest.Expired})
	e.eventually("/healthz 503 for the login", 30*time.Second, func() bool {
		code, body := e.get("/healthz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "login pending")
	})
	cmd = exec.Command(bridgeBinary(t), "healthcheck", "--config", e.cfgPath)
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 {
		t.Errorf("bridge healthcheck on an unhealthy bridge: exit %d (%v)\n%s", cmd.ProcessState.ExitCode(), err, out)
	}
}

func TestE2EDisallowedIntentsExit1(t *testing.T) {
	e := newE2E(t)
	e.dc.DisallowIntents(1 << 15) // MESSAGE_CONTENT
	cmd := exec.Command(bridgeBinary(t), "run", "--config", e.cfgPath)
	cmd.Env = append(os.Environ(), "BRIDGE_DISCORD_TOKEN="+e.dc.Token)
	done := make(chan struct{})
	var out []byte
	go func() { out, _ = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the bridge kept running without the Message Content intent:\n%s", out)
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit code %d, want 1\n%s", code, out)
	}
	if !strings.Contains(string(out), "Message Content intent") {
		t.Errorf("output does not name the intent:\n%s", out)
	}
}
