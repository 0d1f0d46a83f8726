package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/config"
)

// TestDockerLayoutAsDocumented resolves the example config as the image
// does (copied to data/config.toml, mounted at /data, named by the
// Dockerfile's BRIDGE_CONFIG) and checks that README names the paths the
// bridge then uses, in the container and on the host.
func TestDockerLayoutAsDocumented(t *testing.T) {
	var cfgPath string
	for _, in := range dockerfile(t) {
		if v, ok := strings.CutPrefix(in, "ENV "+config.PathEnv+"="); ok {
			cfgPath = v
		}
	}
	if cfgPath == "" {
		t.Fatalf("the Dockerfile sets no %s", config.PathEnv)
	}
	example, err := os.ReadFile(filepath.Join("..", "..", "config.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{config.TokenEnv: "a-token"}
	cfg, err := config.Parse(cfgPath, example, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("the example config does not load as %s: %v", cfgPath, err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, docker, ok := strings.Cut(string(readme), "With Docker")
	if !ok {
		t.Fatal("README has no Docker section")
	}
	docker, _, _ = strings.Cut(docker, "## Commands")
	if !strings.Contains(docker, "cp config.example.toml data/config.toml") || !strings.Contains(docker, `-v "$PWD/data:/data"`) {
		t.Fatal("README's Docker steps no longer copy the example to data/config.toml mounted at /data; update this test")
	}
	for _, p := range []string{cfg.QQ.CredentialFile, cfg.QQ.DeviceFile, cfg.Bridge.Database} {
		host := "./" + strings.TrimPrefix(p, "/")
		if !strings.Contains(docker, p) || !strings.Contains(docker, host) {
			t.Errorf("README's Docker section does not say the bridge uses %s (%s on the host)", p, host)
		}
	}
}
