package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/config"
)

// cmdHealthcheck asks the running bridge's /healthz (on http.listen) and
// exits 0 when it answers 200, 1 otherwise: the container's HEALTHCHECK.
// A configuration it cannot use is also 1 (unhealthy), not the usual 2:
// Docker reserves exit code 2 of a health check.
func cmdHealthcheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("healthcheck", stderr)
	cfgPath := fs.String("config", "", "the configuration file (default: $BRIDGE_CONFIG, then config.toml)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if _, ok := parseFlags(fs, args, stderr); !ok {
		// Docker reserves exit code 2 of a HEALTHCHECK: a usage error
		// (or -h) is "cannot tell", 1.
		return exitRuntime
	}
	cfg, ok := loadConfigWith(config.LoadWithoutToken, *cfgPath, stderr)
	if !ok {
		return exitRuntime
	}
	if cfg.HTTP.Listen == "" {
		fmt.Fprintln(stderr, "bridge: healthcheck needs http.listen, which this configuration disables")
		return exitRuntime
	}
	host, port, _ := net.SplitHostPort(cfg.HTTP.Listen)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	url := "http://" + net.JoinHostPort(host, port) + "/healthz"
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "bridge: healthcheck: %v\n", err)
		return exitRuntime
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "bridge: unhealthy: no answer from %s: %v\n", url, err)
		return exitRuntime
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	stdout.Write(body)
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "bridge: unhealthy (%s from %s)\n", resp.Status, url)
		return exitRuntime
	}
	return exitOK
}
