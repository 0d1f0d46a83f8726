package main

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const minimalConfig = `
[discord]
token = "secret-bot-token-123"
guild_id = "111111111111111111"
admin_channel_id = "222222222222222222"
`

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLI(t *testing.T) {
	t.Setenv("BRIDGE_DISCORD_TOKEN", "")
	t.Setenv("BRIDGE_CONFIG", "")
	good := writeConfig(t, minimalConfig)
	noToken := writeConfig(t, strings.Replace(minimalConfig, `token = "secret-bot-token-123"`, "", 1))
	bogus := writeConfig(t, minimalConfig+"bogus_key = true\n")
	badMode := writeConfig(t, minimalConfig+"mode = \"thread\"\n")

	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		code       int
		stdoutHas  []string
		stderrHas  []string
		nowhereHas string
	}{
		{name: "check-config ok", args: []string{"check-config", "--config", good}, code: 0,
			stdoutHas: []string{"is valid", "masked", "111111111111111111"}, nowhereHas: "secret-bot-token-123"},
		{name: "check-config token from env", env: map[string]string{"BRIDGE_DISCORD_TOKEN": "env-secret-token"},
			args: []string{"check-config", "--config", noToken}, code: 0,
			stdoutHas: []string{"BRIDGE_DISCORD_TOKEN"}, nowhereHas: "env-secret-token"},
		{name: "check-config from BRIDGE_CONFIG", env: map[string]string{"BRIDGE_CONFIG": good},
			args: []string{"check-config"}, code: 0, stdoutHas: []string{good}},
		{name: "unknown key", args: []string{"check-config", "--config", bogus}, code: 2,
			stderrHas: []string{"discord.bogus_key", ":6:", "unknown key"}},
		{name: "missing token", args: []string{"check-config", "--config", noToken}, code: 2,
			stderrHas: []string{"discord.token", "required"}},
		{name: "bad mode", args: []string{"check-config", "--config", badMode}, code: 2,
			stderrHas: []string{"discord.mode"}},
		{name: "missing file", args: []string{"check-config", "--config", filepath.Join(t.TempDir(), "nope.toml")}, code: 2,
			stderrHas: []string{"does not exist"}},
		{name: "stray argument", args: []string{"check-config", "extra"}, code: 2, stderrHas: []string{"unexpected argument"}},
		{name: "unknown flag", args: []string{"check-config", "--nope"}, code: 2, stderrHas: []string{"-nope"}},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, stderrHas: []string{"unknown command", "usage"}},
		{name: "run with a bad config", args: []string{"run", "--config", bogus}, code: 2, stderrHas: []string{"discord.bogus_key"}},
		{name: "run is the default command", args: []string{"--config", badMode}, code: 2, stderrHas: []string{"discord.mode"}},
		{name: "version", args: []string{"version"}, code: 0, stdoutHas: []string{"bridge dev", runtime.Version()}},
		{name: "help", args: []string{"help"}, code: 0, stdoutHas: []string{"check-config"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, out, errOut := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			for _, s := range tc.stdoutHas {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tc.stderrHas {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut)
				}
			}
			if tc.nowhereHas != "" && strings.Contains(out+errOut, tc.nowhereHas) {
				t.Errorf("output shows the secret %q", tc.nowhereHas)
			}
		})
	}
}

// The binary itself, built with the flags the Dockerfile uses, stamps its
// version and is static.
func TestBuiltBinaryVersion(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bridge")
	build := exec.Command("go", "build", "-trimpath",
		"-ldflags", "-s -w -X main.version=1.2.3 -X main.commit=abc123", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("version: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "bridge 1.2.3 (commit abc123") {
		t.Errorf("version output %q lacks the stamped version", out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("reading the binary: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary asks for a dynamic loader: it is not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary links shared libraries %v", libs)
	}
}
