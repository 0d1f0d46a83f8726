package main

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
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
	noGuild := writeConfig(t, strings.Replace(minimalConfig, `guild_id = "111111111111111111"`, "", 1))
	noAdminChannel := writeConfig(t, strings.Replace(minimalConfig, `admin_channel_id = "222222222222222222"`, "", 1))
	badDuration := writeConfig(t, minimalConfig+"[bridge]\npoll_interval = \"2 parsecs\"\n")
	badLoginMethod := writeConfig(t, minimalConfig+"[qq]\nlogin_method = \"email\"\n")
	badEndpoint := writeConfig(t, minimalConfig+"[qq.endpoints]\n\"u.y.qq.com\" = \"127.0.0.1:4000\"\n")
	negativeBackfill := writeConfig(t, minimalConfig+"[bridge]\nbackfill = -1\n")
	noListen := writeConfig(t, minimalConfig+"[http]\nlisten = \"\"\n")
	deadListen := writeConfig(t, minimalConfig+"[http]\nlisten = \""+freeAddr(t)+"\"\n")
	noAPIPath := writeConfig(t, minimalConfig+"api_url = \"http://127.0.0.1:3001\"\n")

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
			stderrHas: []string{"discord.mode", ":6:", `"channels" or "forum"`}},
		{name: "missing guild", args: []string{"check-config", "--config", noGuild}, code: 2,
			stderrHas: []string{"discord.guild_id", "required"}},
		{name: "missing admin channel", args: []string{"check-config", "--config", noAdminChannel}, code: 2,
			stderrHas: []string{"discord.admin_channel_id", "required"}},
		{name: "bad duration", args: []string{"check-config", "--config", badDuration}, code: 2,
			stderrHas: []string{"bridge.poll_interval", ":7:", "not a duration"}},
		{name: "bad login_method", args: []string{"check-config", "--config", badLoginMethod}, code: 2,
			stderrHas: []string{"qq.login_method", ":7:", "mobile, qq, wx"}},
		{name: "endpoint not an absolute URL", args: []string{"check-config", "--config", badEndpoint}, code: 2,
			stderrHas: []string{`qq.endpoints."u.y.qq.com"`, ":7:", "absolute http"}},
		{name: "negative backfill", args: []string{"check-config", "--config", negativeBackfill}, code: 2,
			stderrHas: []string{"bridge.backfill", ":7:", "between 0"}},
		{name: "missing file", args: []string{"check-config", "--config", filepath.Join(t.TempDir(), "nope.toml")}, code: 2,
			stderrHas: []string{"does not exist"}},
		{name: "stray argument", args: []string{"check-config", "extra"}, code: 2, stderrHas: []string{"unexpected argument"}},
		{name: "unknown flag", args: []string{"check-config", "--nope"}, code: 2, stderrHas: []string{"-nope"}},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, stderrHas: []string{"unknown command", "usage"}},
		{name: "run with a bad config", args: []string{"run", "--config", bogus}, code: 2, stderrHas: []string{"discord.bogus_key"}},
		{name: "run is the default command", args: []string{"--config", badMode}, code: 2, stderrHas: []string{"discord.mode"}},
		{name: "version", args: []string{"version"}, code: 0, stdoutHas: []string{"bridge dev", runtime.Version()}},
		// healthcheck answers 0 or 1 only: Docker reserves 2.
		{name: "healthcheck with a bad config", args: []string{"healthcheck", "--config", bogus}, code: 1,
			stderrHas: []string{"discord.bogus_key"}},
		{name: "healthcheck with http.listen disabled", args: []string{"healthcheck", "--config", noListen}, code: 1,
			stderrHas: []string{"http.listen"}},
		{name: "healthcheck with no bridge running", args: []string{"healthcheck", "--config", deadListen}, code: 1,
			stderrHas: []string{"unhealthy", "no answer"}},
		{name: "help", args: []string{"help"}, code: 0, stdoutHas: []string{"check-config"}},
		{name: "token with white space from the environment", env: map[string]string{"BRIDGE_DISCORD_TOKEN": "env-secret-token\n"},
			args: []string{"check-config", "--config", good}, code: 2,
			stderrHas: []string{"the BRIDGE_DISCORD_TOKEN environment variable (it overrides discord.token in " + good + "): contains white space"}, nowhereHas: "env-secret-token"},
		{name: "api_url without /api/vN", args: []string{"check-config", "--config", noAPIPath}, code: 2,
			stderrHas: []string{"discord.api_url", ":6:", "/api/v<N>"}},
		{name: "--version", args: []string{"--version"}, code: 0, stdoutHas: []string{"bridge dev", runtime.Version()}},
		{name: "--config before the command", args: []string{"--config", good, "check-config"}, code: 0,
			stdoutHas: []string{"is valid", good}},
		{name: "--config= before the command", args: []string{"--config=" + bogus, "check-config"}, code: 2,
			stderrHas: []string{"discord.bogus_key"}},
		{name: "--config with no file", args: []string{"--config"}, code: 2, stderrHas: []string{"needs a file name"}},
		{name: "healthcheck with an unknown flag", args: []string{"healthcheck", "--nope"}, code: 1, stderrHas: []string{"-nope"}},
		{name: "healthcheck with a stray argument", args: []string{"--config", noListen, "healthcheck", "extra"}, code: 1,
			stderrHas: []string{"unexpected argument"}},
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
			// A configuration error is one sentence on one line.
			if strings.HasPrefix(errOut, "bridge: invalid configuration:") && strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("the configuration error takes more than one line:\n%s", errOut)
			}
		})
	}
}

// dockerfile returns the Dockerfile's instructions, continuation lines
// joined and comments dropped.
func dockerfile(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "#") || (l == "" && cur.Len() == 0) {
			continue
		}
		if body, ok := strings.CutSuffix(l, "\\"); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(l)
		out = append(out, strings.Join(strings.Fields(cur.String()), " "))
		cur.Reset()
	}
	return out
}

// dockerArgs returns the JSON (exec form) arguments of the last
// instruction starting with prefix, e.g. "ENTRYPOINT".
func dockerArgs(t *testing.T, instrs []string, prefix string) []string {
	t.Helper()
	var args []string
	for _, in := range instrs {
		if rest, ok := strings.CutPrefix(in, prefix+" "); ok {
			if i := strings.Index(rest, "["); i >= 0 {
				rest = rest[i:]
			}
			args = nil
			if err := json.Unmarshal([]byte(rest), &args); err != nil {
				t.Fatalf("%s is not in exec form: %q: %v", prefix, in, err)
			}
		}
	}
	if args == nil {
		t.Fatalf("the Dockerfile has no %s", prefix)
	}
	return args
}

// The binary built with exactly the command the Dockerfile runs is static,
// stamps its version, and accepts the commands the image gives it
// (ENTRYPOINT, CMD and HEALTHCHECK).
func TestDockerfileBuildsAStaticBinary(t *testing.T) {
	instrs := dockerfile(t)
	var build string
	for _, in := range instrs {
		if strings.HasPrefix(in, "RUN ") && strings.Contains(in, "go build") {
			build = strings.TrimPrefix(in, "RUN ")
		}
	}
	if build == "" {
		t.Fatal("the Dockerfile has no RUN ... go build")
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=${VERSION}", "-X main.commit=${COMMIT}", "-o /out/bridge", "./cmd/bridge"} {
		if !strings.Contains(build, want) {
			t.Errorf("the Dockerfile's build command %q lacks %q", build, want)
		}
	}
	// The build step runs as the image runs it: with the build args given,
	// and with none (then the clone's git history stamps the binary).
	out := filepath.Join(t.TempDir(), "out")
	bin := filepath.Join(out, "bridge")
	script := strings.ReplaceAll(build, "/out/", out+"/")
	stamped := func(env ...string) string {
		t.Helper()
		cmd := exec.Command("sh", "-c", script)
		cmd.Dir = filepath.Join("..", "..") // the build context
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		v, err := exec.Command(bin, "version").CombinedOutput()
		if err != nil {
			t.Fatalf("version: %v\n%s", err, v)
		}
		return string(v)
	}
	if v := stamped("VERSION=1.2.3", "COMMIT=abc123"); !strings.Contains(v, "bridge 1.2.3 (commit abc123") {
		t.Errorf("version output %q lacks the stamped version", v)
	}
	if head, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output(); err == nil {
		if v := stamped("VERSION=", "COMMIT="); strings.Contains(v, "bridge dev") || !strings.Contains(v, "(commit "+strings.TrimSpace(string(head))) {
			t.Errorf("without build args the image reports %q, want the clone's commit %s", v, head)
		}
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
	// The image must stay within 30 MB; distroless static adds about 2 MB.
	if fi, err := os.Stat(bin); err == nil && fi.Size() > 27<<20 {
		t.Errorf("the binary is %d MB: the image would exceed 30 MB", fi.Size()>>20)
	}

	// The image's commands are ones the binary takes: the entrypoint is the
	// binary, CMD runs it on /data/config.toml, and HEALTHCHECK asks
	// /healthz and answers 0 or 1.
	if ep := dockerArgs(t, instrs, "ENTRYPOINT"); len(ep) != 1 || ep[0] != "/bridge" {
		t.Errorf("ENTRYPOINT %q, want [\"/bridge\"]", ep)
	}
	// The config is named by BRIDGE_CONFIG, so that -e BRIDGE_CONFIG=...
	// works: no command hard-codes --config.
	if !slices.Contains(instrs, "ENV BRIDGE_CONFIG=/data/config.toml") {
		t.Error("the Dockerfile does not set ENV BRIDGE_CONFIG=/data/config.toml")
	}
	if c := dockerArgs(t, instrs, "CMD"); strings.Join(c, " ") != "run" {
		t.Errorf("CMD %q, want run (the config from BRIDGE_CONFIG)", c)
	}
	hc := dockerArgs(t, instrs, "HEALTHCHECK")
	if len(hc) < 2 || hc[0] != "/bridge" || hc[1] != "healthcheck" {
		t.Fatalf("HEALTHCHECK runs %q, want /bridge healthcheck ...", hc)
	}
	if slices.Contains(hc, "--config") {
		t.Errorf("HEALTHCHECK %q hard-codes --config; BRIDGE_CONFIG names the file", hc)
	}
	cfg := writeConfig(t, minimalConfig+"[http]\nlisten = \""+freeAddr(t)+"\"\n")
	check := exec.Command(bin, hc[1:]...)
	check.Env = append(os.Environ(), "BRIDGE_CONFIG="+cfg)
	hcOut, _ := check.CombinedOutput()
	if code := check.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(hcOut), "unhealthy") {
		t.Errorf("the HEALTHCHECK command with no bridge running: exit %d, want 1 (unhealthy)\n%s", code, hcOut)
	}
}

// The README's test command is exactly the one CI runs, and .ci/run checks
// formatting and vet before it.
func TestReadmeTestCommandIsWhatCIRuns(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	ci, err := os.ReadFile(filepath.Join("..", "..", ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "# test it\n")
	if !ok {
		t.Fatal(`README.md has no "# test it" command`)
	}
	testCmd, _, _ := strings.Cut(after, "\n")
	if !strings.HasPrefix(testCmd, "go test ") {
		t.Fatalf("README.md's test command is %q", testCmd)
	}
	lines := strings.Split(strings.TrimSpace(string(ci)), "\n")
	if last := strings.TrimSpace(lines[len(lines)-1]); last != testCmd {
		t.Errorf(".ci/run ends with %q, the README's test command is %q", last, testCmd)
	}
	text := string(ci)
	order := []string{"set -euo pipefail", "gofmt -l", "go vet ./...", testCmd}
	at := 0
	for _, step := range order {
		i := strings.Index(text[at:], step)
		if i < 0 {
			t.Fatalf(".ci/run lacks %q after the earlier steps", step)
		}
		at += i + len(step)
	}
}
