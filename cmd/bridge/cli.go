package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/config"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

// Exit codes.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

const usageText = `usage: bridge <command> [flags]

commands:
  run            run the bridge (the default command)
  login          log the QQ Music account in (QR code in the terminal, or phone code) and write the credential file
  check-config   load and validate the configuration, print a summary with secrets masked
  try            run the bridge on the config's Discord with a simulated QQ Music account (no account needed)
  healthcheck    ask the running bridge's /healthz: exit 0 when healthy, 1 when not
  version        print the version, commit and Go version

flags of run, try, check-config, login and healthcheck (also before the command):
  --config FILE  the configuration file (default: $BRIDGE_CONFIG, then config.toml)
  --version      same as the version command
flags of try:
  --every D      how often a simulated peer writes (default 20s)
flags of login:
  --method M     mobile, qq, wx or phone (default: qq.login_method)
  --plain        draw the QR code with full blocks instead of half blocks

exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error (healthcheck: 0 or 1 only)
`

// run is the whole command line; it returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// --config may come before the command: bridge --config x check-config.
	var global []string
	for len(args) > 0 {
		a := args[0]
		if a == "--config" || a == "-config" {
			if len(args) < 2 {
				fmt.Fprintf(stderr, "bridge: %s needs a file name\n", a)
				return exitUsage
			}
			global, args = append(global, "--config", args[1]), args[2:]
			continue
		}
		if strings.HasPrefix(a, "--config=") || strings.HasPrefix(a, "-config=") {
			global, args = append(global, a), args[1:]
			continue
		}
		break
	}
	cmd := "run"
	if len(args) > 0 {
		switch a := args[0]; {
		case a == "--version" || a == "-version":
			cmd, args = "version", args[1:]
		case a == "-h" || a == "-help" || a == "--help":
			cmd, args = "help", args[1:]
		case !strings.HasPrefix(a, "-"):
			cmd, args = a, args[1:]
		}
	}
	if len(global) > 0 {
		if cmd == "version" || cmd == "help" {
			fmt.Fprintf(stderr, "bridge: %s takes no --config\n", cmd)
			return exitUsage
		}
		args = append(global, args...)
	}
	switch cmd {
	case "run":
		return cmdRun(args, stdout, stderr)
	case "check-config":
		return cmdCheckConfig(args, stdout, stderr)
	case "version":
		return cmdVersion(args, stdout, stderr)
	case "healthcheck":
		return cmdHealthcheck(args, stdout, stderr)
	case "login":
		return cmdLogin(args, stdin, stdout, stderr)
	case "try":
		return cmdTry(args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	default:
		fmt.Fprintf(stderr, "bridge: unknown command %q\n\n%s", cmd, usageText)
		return exitUsage
	}
}

// newFlags returns a flag set that reports errors on stderr, not by exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("bridge "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args, and refuses stray positional arguments.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitUsage, false
	}
	return exitOK, true
}

// loadConfig loads the config named by --config, $BRIDGE_CONFIG or the
// default, printing one clear sentence on failure.
func loadConfig(flagValue string, stderr io.Writer) (*config.Config, bool) {
	return loadConfigWith(config.Load, flagValue, stderr)
}

func loadConfigWith(load func(string) (*config.Config, error), flagValue string, stderr io.Writer) (*config.Config, bool) {
	path := config.ResolvePath(flagValue)
	cfg, err := load(path)
	if err != nil {
		fmt.Fprintf(stderr, "bridge: invalid configuration: %v\n", err)
		return nil, false
	}
	return cfg, true
}

func cmdCheckConfig(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check-config", stderr)
	cfgPath := fs.String("config", "", "the configuration file (default: $BRIDGE_CONFIG, then config.toml)")
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	cfg, ok := loadConfig(*cfgPath, stderr)
	if !ok {
		return exitUsage
	}
	if err := cfg.WriteSummary(stdout); err != nil {
		fmt.Fprintf(stderr, "bridge: writing the summary: %v\n", err)
		return exitRuntime
	}
	return exitOK
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", stderr)
	cfgPath := fs.String("config", "", "the configuration file (default: $BRIDGE_CONFIG, then config.toml)")
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	cfg, ok := loadConfig(*cfgPath, stderr)
	if !ok {
		return exitUsage
	}
	log := newLogger(cfg.Log, stderr)
	ctx, stop := signalContext(log)
	defer stop()
	if err := runBridge(ctx, cfg, log, runExtras{}); err != nil {
		if cfg.Log.Format == "json" {
			log.Error("bridge: " + err.Error())
		} else {
			fmt.Fprintf(stderr, "bridge: %v\n", err)
		}
		return exitRuntime
	}
	log.Info("bridge: stopped")
	return exitOK
}

func cmdVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", stderr)
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	fmt.Fprintf(stdout, "bridge %s (commit %s, %s %s/%s)\n", version, buildCommit(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}

// buildCommit is the commit set with -ldflags, else the one the Go
// toolchain stamped, else "unknown".
func buildCommit() string {
	if commit != "" {
		return commit
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		var rev, dirty string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			return rev + dirty
		}
	}
	return "unknown"
}
