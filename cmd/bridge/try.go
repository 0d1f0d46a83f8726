package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/admin"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/config"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqsim"
)

// trySuffix marks the files, the category and the admin messages of
// `bridge try`.
const (
	trySuffix    = "-try"
	tryCategory  = " (simulated)"
	tryAdminMark = "🧪 Simulated QQ Music account (`bridge try`): "
)

// cmdTry runs the real bridge against the real Discord of the config with
// a simulated QQ Music account in process: nothing of a real account is
// needed, and nothing the real bridge keeps is touched.
func cmdTry(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("try", stderr)
	cfgPath := fs.String("config", "", "the configuration file (default: $BRIDGE_CONFIG, then config.toml)")
	every := fs.Duration("every", 20*time.Second, "how often a simulated peer writes")
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	if *every < time.Second/10 {
		fmt.Fprintf(stderr, "bridge try: --every must be at least 100ms, not %v\n", *every)
		return exitUsage
	}
	cfg, ok := loadConfig(*cfgPath, stderr)
	if !ok {
		return exitUsage
	}
	log := newLogger(cfg.Log, stderr).With("simulated", true)
	sim, err := qqsim.Start(qqsim.Options{Every: *every, Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "bridge try: starting the simulated QQ Music account: %v\n", err)
		return exitRuntime
	}
	defer sim.Close()
	if err := trySetup(cfg, sim.Endpoints()); err != nil {
		fmt.Fprintf(stderr, "bridge try: %v\n", err)
		return exitRuntime
	}
	log.Info("bridge try: a simulated QQ Music account runs in this process; scan nothing: its login QR code, posted in the admin channel, confirms itself",
		"category", cfg.Discord.CategoryName, "database", cfg.Bridge.Database)
	ctx, stop := signalContext(log)
	defer stop()
	if err := runBridge(ctx, cfg, log, runExtras{adminChannel: func(c admin.Channel) admin.Channel { return tryAdmin{c} }}); err != nil {
		if cfg.Log.Format == "json" {
			log.Error("bridge try: " + err.Error())
		} else {
			fmt.Fprintf(stderr, "bridge try (simulated QQ Music): %v\n", err)
		}
		return exitRuntime
	}
	log.Info("bridge try: stopped")
	return exitOK
}

// trySetup points the configuration at the simulation: its endpoints, its
// own credential, device and database files beside the real ones (the
// credential and database start afresh every time), and its own category.
func trySetup(cfg *config.Config, endpoints map[string]string) error {
	cfg.QQ.Endpoints = map[string]string{}
	for _, h := range config.QQHosts {
		cfg.QQ.Endpoints[h] = endpoints[h]
	}
	cfg.QQ.CredentialFile = tryFile(cfg.QQ.CredentialFile)
	cfg.QQ.DeviceFile = tryFile(cfg.QQ.DeviceFile)
	cfg.Bridge.Database = tryFile(cfg.Bridge.Database)
	for _, p := range []string{cfg.QQ.CredentialFile, cfg.Bridge.Database, cfg.Bridge.Database + "-wal", cfg.Bridge.Database + "-shm"} {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("starting afresh: %w", err)
		}
	}
	name := cfg.Discord.CategoryName
	for utf8.RuneCountInString(name+tryCategory) > 90 {
		_, n := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-n]
	}
	cfg.Discord.CategoryName = name + tryCategory
	return nil
}

// tryFile is path with "-try" before its extension: data/bridge.db ->
// data/bridge-try.db.
func tryFile(path string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + trySuffix + ext
}

// tryAdmin marks every admin-channel message as simulated.
type tryAdmin struct{ admin.Channel }

func (t tryAdmin) Post(ctx context.Context, m admin.Message) (string, error) {
	m.Content = tryAdminMark + m.Content
	return t.Channel.Post(ctx, m)
}

func (t tryAdmin) Edit(ctx context.Context, id string, e admin.Edit) error {
	if e.Content != "" {
		e.Content = tryAdminMark + e.Content
	}
	return t.Channel.Edit(ctx, id, e)
}
