package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestE2EStartRefusalsExit1: causes that waiting will not heal (a refused
// token, an unknown guild, an unknown admin channel) end the start with
// exit 1 and one sentence naming the cause and the fix, said once; with
// log.format = "json" that sentence is a JSON log record.
func TestE2EStartRefusalsExit1(t *testing.T) {
	tests := []struct {
		name  string
		token string // "" is the double's token
		edit  func(e *e2e, cfg string) string
		says  string
		json  bool
	}{
		{name: "token refused, from the environment", token: "not-the-right-token",
			says: "Discord refused the bot token (HTTP 401) from the BRIDGE_DISCORD_TOKEN environment variable"},
		{name: "unknown guild", edit: func(e *e2e, cfg string) string {
			return strings.Replace(cfg, fmt.Sprintf("guild_id = %q", e.dc.GuildID), `guild_id = "424242424242"`, 1)
		}, says: "Discord does not show the bot the server 424242424242: fix discord.guild_id in "},
		{name: "unknown admin channel", edit: func(e *e2e, cfg string) string {
			return strings.Replace(cfg, fmt.Sprintf("admin_channel_id = %q", e.dc.AdminChannelID), `admin_channel_id = "424242424242"`, 1)
		}, says: "the admin channel 424242424242 is not a text channel the bot can see"},
		{name: "unknown admin channel, JSON log", json: true, edit: func(e *e2e, cfg string) string {
			cfg = strings.Replace(cfg, "[log]\n", "[log]\nformat = \"json\"\n", 1)
			return strings.Replace(cfg, fmt.Sprintf("admin_channel_id = %q", e.dc.AdminChannelID), `admin_channel_id = "424242424242"`, 1)
		}, says: "the admin channel 424242424242 is not a text channel the bot can see"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newE2E(t)
			if tc.edit != nil {
				raw, err := os.ReadFile(e.cfgPath)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(e.cfgPath, []byte(tc.edit(e, string(raw))), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			token := tc.token
			if token == "" {
				token = e.dc.Token
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bridgeBinary(t), "run", "--config", e.cfgPath)
			cmd.Env = append(os.Environ(), "BRIDGE_DISCORD_TOKEN="+token)
			out, err := cmd.CombinedOutput()
			if ctx.Err() != nil {
				t.Fatalf("the bridge kept running (retrying what will not heal):\n%s", out)
			}
			if code := cmd.ProcessState.ExitCode(); code != 1 {
				t.Fatalf("exit code %d (%v), want 1\n%s", code, err, out)
			}
			text := string(out)
			if n := strings.Count(text, tc.says); n != 1 {
				t.Errorf("the output says %q %d times, want once:\n%s", tc.says, n, text)
			}
			if strings.Contains(text, "cannot reach Discord yet") {
				t.Errorf("a refusal was taken for an outage:\n%s", text)
			}
			if strings.Contains(text, token) {
				t.Error("the output shows the token")
			}
			lines := strings.Split(strings.TrimSpace(text), "\n")
			last := lines[len(lines)-1]
			if tc.json {
				var rec map[string]any
				if err := json.Unmarshal([]byte(last), &rec); err != nil || rec["level"] != "ERROR" || !strings.Contains(fmt.Sprint(rec["msg"]), tc.says) {
					t.Errorf("the fatal error is not a JSON record (%v): %s", err, last)
				}
			} else if !strings.HasPrefix(last, "bridge: ") || !strings.Contains(last, tc.says) {
				t.Errorf("the last line is not the sentence: %s", last)
			}
		})
	}
}
