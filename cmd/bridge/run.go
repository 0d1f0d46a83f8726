package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/admin"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/config"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/ops"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/qqport"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
)

// newLogger builds the process logger from the [log] table.
func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// signalContext returns a context cancelled by the first SIGINT or SIGTERM;
// a second one exits at once.
func signalContext(log *slog.Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig, ok := <-ch
		if !ok {
			return
		}
		log.Info("bridge: stopping (send the signal again to exit at once)", "signal", sig.String())
		cancel()
		if _, ok := <-ch; ok {
			log.Warn("bridge: second signal, exiting at once")
			os.Exit(exitRuntime)
		}
	}()
	return ctx, func() { signal.Stop(ch); close(ch); cancel() }
}

// runExtras are what `bridge try` changes in the wiring.
type runExtras struct {
	// adminChannel, when set, wraps the admin channel.
	adminChannel func(admin.Channel) admin.Channel
}

func (x runExtras) wrapAdmin(c admin.Channel) admin.Channel {
	if x.adminChannel == nil {
		return c
	}
	return x.adminChannel(c)
}

// runBridge wires the packages together and runs until ctx ends. It
// returns an error only for failures that restarting will not fix.
func runBridge(ctx context.Context, cfg *config.Config, log *slog.Logger, extras runExtras) error {
	for _, dir := range []string{filepath.Dir(cfg.Bridge.Database), filepath.Dir(cfg.QQ.CredentialFile), filepath.Dir(cfg.QQ.DeviceFile)} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("creating the data folder %s: %w", dir, err)
		}
	}

	st, err := store.Open(ctx, cfg.Bridge.Database)
	if err != nil {
		return fmt.Errorf("opening the database %s: %w", cfg.Bridge.Database, err)
	}
	defer st.Close()
	// The key of the session tags in Discord topics and post titles: kept
	// beside the database, so that resetting the bot token changes no tag.
	tagKey, err := store.LoadOrCreateTagKey(store.TagKeyFile(cfg.Bridge.Database))
	if err != nil {
		return fmt.Errorf("reading the key of the Discord session tags: %w", err)
	}

	// The health and metrics sources read objects made below; they are
	// all in place before the HTTP server starts.
	var (
		client *qq.Client
		dc     *discord.Adapter
		engine *bridge.Engine
		ctrl   *admin.Controller
	)
	src := ops.Sources{
		EngineStatus:      func(ctx context.Context) (bridge.Status, error) { return engine.Status(ctx) },
		DiscordConnected:  func() bool { return dc.Connected() },
		LoginPending:      func() bool { return ctrl.LoginPending() || !client.Credential().HasLogin() },
		DiscordRateLimits: func() int64 { return dc.RateLimitHits() },
		DiscordRequests:   func() int64 { return dc.Requests() },
		CredentialExpiry: func() time.Time {
			if c := client.Credential(); c.HasLogin() {
				return c.ExpiresAt()
			}
			return time.Time{}
		},
		PollInterval: cfg.Bridge.IdlePollInterval.Duration,
	}
	metrics := ops.NewMetrics(src)
	// What was relayed, at info level once a minute (counts, no content).
	summary := &ops.Summary{Next: metrics}
	summaryTick := time.NewTicker(time.Minute)
	defer summaryTick.Stop()
	sctx, stopSummary := context.WithCancel(ctx)
	defer stopSummary()
	go summary.Run(sctx, summaryTick.C, log)

	// A damaged credential file must not stop every start: it is set
	// aside and a login is asked for, as for no file at all.
	if d, err := qqport.SetAsideDamaged(cfg.QQ.CredentialFile, time.Now()); err != nil {
		return fmt.Errorf("reading the credential file: %w", err)
	} else if d != nil {
		log.Warn("bridge: " + d.Error())
	}
	client, err = qq.New(qq.Options{
		Endpoints:      qq.Endpoints(cfg.QQ.Endpoints),
		DeviceFile:     cfg.QQ.DeviceFile,
		CredentialFile: cfg.QQ.CredentialFile,
		Logger:         log,
		OnResult: func(_, method string, err error) {
			metrics.QQCall(method, qqResult(err))
		},
	})
	if err != nil {
		return fmt.Errorf("starting the QQ Music client: %w", err)
	}
	port := qqport.New(client)
	if cred := client.Credential(); cred.HasLogin() {
		log.Info("bridge: QQ Music account", "musicid", cred.MusicID, "credential_expires", cred.ExpiresAt().UTC().Format(time.RFC3339))
	} else {
		log.Info("bridge: QQ Music account: none yet; the bridge asks for a login with a QR code (or run `bridge login`: the bridge picks the credential file up by itself)",
			"credential_file", cfg.QQ.CredentialFile)
	}

	dc, err = discord.New(discord.Options{
		Token:          cfg.Discord.Token,
		GuildID:        cfg.Discord.GuildID.String(),
		AdminChannelID: cfg.Discord.AdminChannelID.String(),
		CategoryName:   cfg.Discord.CategoryName,
		AdminRoleID:    cfg.Discord.AdminRoleID.String(),
		ViewerRoleID:   cfg.Discord.ViewerRoleID.String(),
		Mode:           cfg.Discord.Mode,
		APIURL:         cfg.Discord.APIURL,
		Logger:         log,

		ArchiveChannelID: cfg.Discord.ArchiveChannelID.String(),
		Media:            newMediaFetcher(cfg),
		TagKey:           tagKey,
	})
	if err != nil {
		return fmt.Errorf("setting up Discord: %w", err)
	}
	defer dc.Close()

	engine = bridge.NewEngine(bridge.EngineConfig{
		Observer:         summary,
		PollInterval:     cfg.Bridge.PollInterval.Duration,
		IdlePollInterval: cfg.Bridge.IdlePollInterval.Duration,
		Backfill:         cfg.Bridge.Backfill,
		EditWindow:       cfg.Bridge.EditWindow.Duration,
		OnEvent:          func(ev bridge.Event) { ctrl.HandleEvent(ev) },

		// Sessions older than bridge.first_start_days wait for a change.
		FirstStartHorizon: time.Duration(cfg.Bridge.FirstStartDays) * 24 * time.Hour,
		ArchivePlace:      dc,
		ArchiveAfter:      archiveAfter(cfg),
	}, st, port, dc, log)
	ctrl = admin.New(admin.Config{
		LoginMethod:    cfg.QQ.LoginMethod,
		CredentialFile: cfg.QQ.CredentialFile,
		Version:        version,
		Terminal:       os.Stdout,
	}, qqport.NewLogin(client, port, cfg.QQ.CredentialFile, log), extras.wrapAdmin(dc.AdminChannel()), engine, log)

	if cfg.HTTP.Listen != "" {
		addr, _, err := ops.Serve(ctx, cfg.HTTP.Listen, ops.Handler(src, metrics))
		if err != nil {
			return err
		}
		log.Info("bridge: health and metrics served", "healthz", "http://"+addr.String()+"/healthz", "metrics", "http://"+addr.String()+"/metrics")
	}

	// The admin controller asks for a login and keeps the credential. It
	// starts once Discord is up, or at the first failed attempt to reach
	// it: then the login QR code goes to the terminal until Discord
	// answers.
	actx, stopAdmin := context.WithCancel(ctx)
	adminDone := make(chan struct{})
	adminStarted := false
	startAdmin := func() {
		if adminStarted {
			return
		}
		adminStarted = true
		go func() {
			defer close(adminDone)
			if err := ctrl.Run(actx); err != nil {
				log.Error("bridge: the admin channel stopped", "err", err)
			}
		}()
	}
	defer func() {
		// Let the admin channel say a pending login was interrupted.
		stopAdmin()
		if !adminStarted {
			return
		}
		select {
		case <-adminDone:
		case <-time.After(5 * time.Second):
		}
	}()

	// Discord first: the engine has nowhere to post until it is up. A
	// refused token will not get better by waiting.
	if err := startDiscord(ctx, dc, engine, cfg, log, func() {
		if !client.Credential().HasLogin() {
			log.Warn("bridge: Discord cannot be reached, so the login QR code is drawn on this terminal (and saved beside the credential file) until it can")
		}
		startAdmin()
	}); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	log.Info("bridge: running", "version", version, "mode", cfg.Discord.Mode)
	startAdmin()
	return engine.Run(ctx)
}

// qqResult is the result label of a QQ Music call in the metrics.
func qqResult(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, qq.ErrCredentialExpired), errors.Is(err, qq.ErrCredentialRequired):
		return "expired"
	case errors.Is(err, qq.ErrRateLimited):
		return "rate_limited"
	default:
		return "error"
	}
}

// startDiscord starts the adapter, retrying with back-off while Discord is
// unreachable; what waiting will not heal (a refused token or intents, an
// unknown guild or admin channel) is returned at once, as one sentence.
// outage is called once, at the first failure that waiting may heal.
func startDiscord(ctx context.Context, dc *discord.Adapter, h bridge.DiscordHandler, cfg *config.Config, log *slog.Logger, outage func()) error {
	backoff := time.Second
	for first := true; ; first = false {
		err := dc.Start(ctx, h)
		if err == nil {
			return nil
		}
		if fatal := startRefusal(cfg, err); fatal != nil {
			return fatal
		}
		if ctx.Err() != nil {
			return nil
		}
		if first {
			outage()
		}
		log.Warn("bridge: cannot reach Discord yet; retrying", "in", backoff, "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Minute)
	}
}

// archiveAfter is discord.archive_after in channels mode (forum posts
// are never archived for idleness).
func archiveAfter(cfg *config.Config) time.Duration {
	if cfg.Discord.Mode != config.ModeChannels {
		return 0
	}
	return cfg.Discord.ArchiveAfter.Duration
}
