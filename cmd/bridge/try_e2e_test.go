package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
)

// TestE2ETry runs `bridge try` against discordtest as the real Discord of
// the config: the login QR code appears in the admin channel and completes
// by itself, simulated peers' text, image and song card arrive in a
// "(simulated)" category, a member's reply is answered, every log line and
// message is marked simulated, and the real bridge's files are untouched.
func TestE2ETry(t *testing.T) {
	dir := t.TempDir()
	dc := discordtest.New(discordtest.WithHeartbeatInterval(500 * time.Millisecond))
	t.Cleanup(dc.Close)
	cfgPath := filepath.Join(dir, "config.toml")
	cfg := fmt.Sprintf(`
[discord]
guild_id = %q
admin_channel_id = %q
api_url = %q
# The doubles' avatars and media name real CDN hosts: link them, never download.
reupload_media = false

[bridge]
poll_interval = "200ms"
idle_poll_interval = "1s"

[http]
listen = %q

[log]
format = "json"
`, dc.GuildID, dc.AdminChannelID, dc.APIURL(), freeAddr(t))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	proc := exec.Command(bridgeBinary(t), "try", "--config", cfgPath, "--every", "300ms")
	proc.Env = append(os.Environ(), "BRIDGE_DISCORD_TOKEN="+dc.Token)
	proc.Stdout, proc.Stderr = logs, logs
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = proc.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = proc.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("bridge try output:\n%s", logs)
		}
	})
	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			select {
			case <-exited:
				t.Fatalf("bridge try exited while waiting for %s", what)
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}

	// The login QR code in the admin channel, marked, and its completion.
	adminHas := func(s string, image bool) bool {
		for _, m := range dc.Messages(dc.AdminChannelID) {
			if strings.Contains(m.Content, s) && (!image || len(m.Attachments) > 0) {
				return true
			}
		}
		return false
	}
	eventually("the login QR code in the admin channel", func() bool { return adminHas(tryAdminMark, true) })
	eventually("the login to complete by itself", func() bool { return adminHas("Logged in as", false) })
	for _, m := range dc.Messages(dc.AdminChannelID) {
		if m.Author.ID != dc.AdminUserID && !strings.HasPrefix(m.Content, tryAdminMark) {
			t.Errorf("an admin message is not marked simulated: %q", m.Content)
		}
	}

	// The peers' messages, in a "(simulated)" category.
	var session discordtest.Channel
	eventually("a simulated peer's text, image and song card", func() bool {
		cardSeen := false
		for _, ch := range dc.Channels() {
			parent, _ := dc.Channel(ch.ParentID)
			if parent.Name != "QQ Music (simulated)" {
				continue
			}
			var text, image, card bool
			for _, m := range dc.Messages(ch.ID) {
				text = text || strings.Contains(m.Content, "[simulated] Hi!")
				for _, e := range m.Embeds {
					image = image || (e.Image != nil && strings.Contains(e.Image.URL, "wikimedia"))
					card = card || strings.Contains(e.Title+e.Description, "晴天")
				}
			}
			if text && image {
				session = ch
			}
			cardSeen = cardSeen || card
		}
		// The peers write into channels made in whatever order the
		// sessions were bridged: judge once all were looked at.
		return session.ID != "" && cardSeen
	})
	for _, m := range dc.Messages(session.ID) {
		if m.WebhookID != "" && !strings.Contains(m.Author.Username, "(simulated)") {
			t.Errorf("a peer's message is not marked simulated: %q from %q", m.Content, m.Author.Username)
		}
	}

	// A member replies; the peer answers.
	dc.Type(session.ID, dc.AdminUserID, "hello from Discord")
	eventually("the peer's answer", func() bool {
		for _, m := range dc.Messages(session.ID) {
			if strings.Contains(m.Content, "got your reply (18 characters)") {
				return true
			}
		}
		return false
	})

	if err := proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-exited
	if code := proc.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	// Every log line is a JSON record marked simulated.
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("not a JSON log record: %q", line)
			continue
		}
		if rec["simulated"] != true {
			t.Errorf("a log line is not marked simulated: %s", line)
		}
	}
	// Its own files; the real bridge's are not created.
	if _, err := os.Stat(filepath.Join(dir, "data", "bridge-try.db")); err != nil {
		t.Errorf("no database of its own: %v", err)
	}
	for _, f := range []string{"bridge.db", "credential.json", "device.json"} {
		if _, err := os.Stat(filepath.Join(dir, "data", f)); !os.IsNotExist(err) {
			t.Errorf("bridge try touched the real bridge's %s: %v", f, err)
		}
	}
}
