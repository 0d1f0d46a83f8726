package config

import (
	"strings"
	"testing"
)

// TestTokenForms: "Bot xxx" (the Authorization header's form, which the
// Discord adapter accepts) is accepted here too, from the file and from
// the environment; an api_url with its /api/vN path is accepted.
func TestTokenForms(t *testing.T) {
	tests := []struct {
		name string
		text string
		env  map[string]string
		want string
	}{
		{"bare token in the file", minimal, nil, "bot-token-secret-value"},
		{"Bot prefix in the file", strings.Replace(minimal, `"bot-token-secret-value"`, `"Bot bot-token-secret-value"`, 1), nil, "bot-token-secret-value"},
		{"Bot prefix in the environment", minimal, map[string]string{TokenEnv: "Bot env-token"}, "env-token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("/x/config.toml", []byte(tc.text), envWith(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Discord.Token != tc.want {
				t.Errorf("token %q, want %q", cfg.Discord.Token, tc.want)
			}
		})
	}
	if _, err := Parse("/x/config.toml", []byte(strings.Replace(minimal, `"bot-token-secret-value"`, `"Bot "`, 1)), envWith(nil)); err == nil || !strings.Contains(err.Error(), "discord.token: is required") {
		t.Errorf(`token "Bot " alone: %v, want "is required"`, err)
	}
	for _, u := range []string{"http://127.0.0.1:3001/api/v9", "https://chat.example/api/v10/"} {
		if _, err := Parse("/x/config.toml", []byte(minimal+"api_url = \""+u+"\"\n"), envWith(nil)); err != nil {
			t.Errorf("api_url %s refused: %v", u, err)
		}
	}
}
