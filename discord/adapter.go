package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/discordgo"
	"golang.org/x/time/rate"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// Modes of Options.Mode.
const (
	ModeChannels = "channels"
	ModeForum    = "forum"
)

// Options configures an Adapter. Token and GuildID are required; zero
// values of the rest take the defaults given.
type Options struct {
	// Token is the bot token ("Bot " is added when missing).
	Token string
	// GuildID is the server the bridge lives in.
	GuildID string
	// AdminChannelID is where admin messages and warnings go.
	AdminChannelID string
	// CategoryName names the categories of session channels, and the forum
	// in forum mode. Default "QQ Music".
	CategoryName string
	// AdminRoleID is the role allowed to reply and to use the admin
	// commands; empty means members with the Manage Server permission.
	AdminRoleID string
	// ViewerRoleID, when set, is a role that may read the session channels
	// but not reply: Send Messages is denied to it there, and the adapter
	// ignores what its holders write unless they also hold AdminRoleID.
	ViewerRoleID string
	// ArchiveChannelID is where transcripts of archived session channels
	// go (it must be private); empty means a thread of the admin channel.
	ArchiveChannelID string
	// TagKey keys the session tags that topics and post titles carry
	// (SessionTag), by which a channel made before a crash is found
	// again. cmd/bridge passes a random key kept beside the database, so
	// that resetting the bot token changes no tag. Empty: the bot token
	// keys them (as earlier versions did). Tags keyed with the token are
	// recognised either way, and rewritten when their channel is next
	// renamed.
	TagKey []byte
	// Mode is ModeChannels (default) or ModeForum.
	Mode string
	// APIURL is the REST base, e.g. "http://127.0.0.1:3001/api/v9"; empty
	// means Discord's. The gateway URL then comes from GET /gateway.
	APIURL string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// WebhookName is the name of the bridge's webhooks. Default "QQ Music Bridge".
	WebhookName string

	// WatchdogInterval is how often the gateway's health is checked.
	// Default 10s.
	WatchdogInterval time.Duration
	// HeartbeatTimeout is how long the gateway may go without a heartbeat
	// acknowledgement before the session is rebuilt. It must exceed the
	// gateway's heartbeat interval (about 41 s on Discord). Default 2m.
	HeartbeatTimeout time.Duration
	// OpenTimeout bounds one gateway connection attempt. Default 30s.
	OpenTimeout time.Duration
	// ReconnectBackoff is the first wait after a failed connection; it
	// doubles up to MaxReconnectBackoff. Defaults 1s and 2m.
	ReconnectBackoff    time.Duration
	MaxReconnectBackoff time.Duration
	// NoticeInterval is how often one member may be told, per channel, that
	// they may not reply. Default 10m.
	NoticeInterval time.Duration
	// CallTimeout bounds one REST request. Default 15s.
	CallTimeout time.Duration
	// MaxRetries is how often a REST call is retried after a 429, or an
	// idempotent one after a 5xx or a lost answer (a call that creates
	// something is never retried once it may have been applied). Default 4.
	MaxRetries int
	// MaxRetryAfter is the longest 429 wait the adapter accepts; a longer
	// one fails the call with ErrRateLimited. Default 60s.
	MaxRetryAfter time.Duration
	// RetryBackoff is the first back-off after a 5xx. Default 500ms.
	RetryBackoff time.Duration
	// ChannelWarnAt is the guild channel count from which the admin channel
	// is warned about Discord's 500-channel limit. Default 490.
	ChannelWarnAt int
	// Media downloads QQ pictures and videos so that they are re-uploaded
	// as attachments (see media.go); nil links to them instead, with a
	// note. Use a bounded, SSRF-safe fetcher (bridge/media).
	Media MediaFetcher
	// UploadLimit is the largest file uploaded to Discord. Default 10 MiB,
	// Discord's default per-file limit.
	UploadLimit int64
	// AvatarRefresh is how long a sender's avatar, downloaded with Media
	// to version its URL, is trusted before it is looked at again (see
	// avatar.go). Default 10m.
	AvatarRefresh time.Duration
}

func (o *Options) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.CategoryName == "" {
		o.CategoryName = "QQ Music"
	}
	if o.Mode == "" {
		o.Mode = ModeChannels
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.WebhookName == "" {
		o.WebhookName = "QQ Music Bridge"
	}
	def(&o.WatchdogInterval, 10*time.Second)
	def(&o.HeartbeatTimeout, 2*time.Minute)
	def(&o.OpenTimeout, 30*time.Second)
	def(&o.ReconnectBackoff, time.Second)
	def(&o.MaxReconnectBackoff, 2*time.Minute)
	def(&o.NoticeInterval, 10*time.Minute)
	def(&o.CallTimeout, 15*time.Second)
	def(&o.MaxRetryAfter, time.Minute)
	def(&o.RetryBackoff, 500*time.Millisecond)
	if o.MaxRetries <= 0 {
		o.MaxRetries = 4
	}
	if o.ChannelWarnAt <= 0 {
		o.ChannelWarnAt = 490
	}
	if o.UploadLimit <= 0 {
		o.UploadLimit = DefaultUploadLimit
	}
	def(&o.AvatarRefresh, 10*time.Minute)
}

// Adapter is the bridge's Discord side; it implements bridge.Discord.
// Create it with New, then Start it; it is safe for concurrent use.
type Adapter struct {
	opts  Options
	log   *slog.Logger
	token string
	http  *http.Client
	rest  *discordgo.Session

	globalMu    sync.Mutex
	globalUntil time.Time
	paceUntil   time.Time     // see globalPace
	pacer       *rate.Limiter // globalPace, burst 1
	readPacer   *rate.Limiter // catch-up history reads (catchuppace.go)

	metricsRateLimited atomic.Int64
	metricsRequests    atomic.Int64

	mu          sync.Mutex
	started     bool
	handler     bridge.DiscordHandler
	onInteract  func(context.Context, *Interaction)
	botID       string
	appID       string
	guild       *guildInfo
	members     map[string]memberInfo
	categories  map[string]int       // category id -> n of CategoryName(base, n)
	forumID     string               // forum mode
	sessionChan map[string]bool      // channel id -> is a session channel
	checkedAt   map[string]time.Time // when a negative sessionChan answer was cached
	webhooks    map[string]*discordgo.Webhook
	notices     map[string]time.Time
	linkNoticed sync.Map // channel id → true once told that QQ gets expiring links
	avatars     sync.Map // avatar URL → avatarVersion (avatar.go)
	warnedAt    time.Time
	privacyErr  error     // non-nil: channels are public, create nothing (privacy.go)
	privacyTold bool      // the admin channel was told of privacyErr
	refusedAt   time.Time // when the admin channel last heard of refused overwrites

	// notPrivate: channel id -> name of ours readable by every member;
	// posts into them are held (privacy_hold.go).
	notPrivate map[string]string
	// archiveThread is the admin channel's archive thread (archive.go).
	archiveThread string

	layoutMu sync.Mutex // serialises channel creation and renaming

	cur       atomic.Pointer[gateway]
	connected atomic.Bool
	queue     chan memberEvent
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

var _ bridge.Discord = (*Adapter)(nil)

// New checks opts and returns an Adapter; it does not touch the network.
func New(opts Options) (*Adapter, error) {
	opts.setDefaults()
	if strings.TrimSpace(opts.Token) == "" {
		return nil, errors.New("discord: no bot token: set discord.token")
	}
	if opts.GuildID == "" {
		return nil, errors.New("discord: no guild: set discord.guild_id")
	}
	if opts.Mode != ModeChannels && opts.Mode != ModeForum {
		return nil, fmt.Errorf("discord: mode %q: use %q or %q", opts.Mode, ModeChannels, ModeForum)
	}
	opts.TagKey = slices.Clone(opts.TagKey)
	a := &Adapter{
		opts:        opts,
		log:         opts.Logger.With("component", "discord"),
		members:     map[string]memberInfo{},
		categories:  map[string]int{},
		sessionChan: map[string]bool{},
		notPrivate:  map[string]string{},
		checkedAt:   map[string]time.Time{},
		webhooks:    map[string]*discordgo.Webhook{},
		notices:     map[string]time.Time{},
		queue:       make(chan memberEvent, 4096),
		pacer:       rate.NewLimiter(globalPace, 1),
		readPacer:   rate.NewLimiter(catchUpReadRate, catchUpReadBurst),
	}
	a.token = strings.TrimSpace(opts.Token)
	if !strings.HasPrefix(a.token, "Bot ") {
		a.token = "Bot " + a.token
	}
	tr := &transport{next: http.DefaultTransport, a: a}
	if opts.APIURL != "" {
		u, err := url.Parse(opts.APIURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("discord: api_url %q is not an http(s) URL like http://127.0.0.1:3001/api/v9", opts.APIURL)
		}
		tr.base = u
	}
	a.http = &http.Client{Transport: tr, Timeout: opts.CallTimeout + 5*time.Second}
	a.rest = a.newSession()
	return a, nil
}

// newSession is a discordgo session with the adapter's HTTP client and
// every unbounded retry switched off.
func (a *Adapter) newSession() *discordgo.Session {
	s, _ := discordgo.New(a.token) // never fails
	s.Client = a.http
	s.ShouldReconnectOnError = false
	s.ShouldRetryOnRateLimit = false
	s.MaxRestRetries = 0
	s.StateEnabled = false
	s.SyncEvents = true
	// Silence discordgo's own log.Printf output: the adapter logs what
	// matters (failed opens, rebuilds) through its slog.Logger.
	s.LogLevel = discordgo.LogError - 1
	s.Identify.Intents = discordgo.IntentsGuilds | discordgo.IntentsGuildMessages | discordgo.IntentMessageContent
	s.Identify.Compress = false
	return s
}

// Start checks the token and the guild, loads the channel layout, then
// keeps a gateway connection in the background and hands replies to h.
// It returns ErrTokenRejected (wrapped) when Discord refuses the token.
func (a *Adapter) Start(ctx context.Context, h bridge.DiscordHandler) error {
	if h == nil {
		return errors.New("discord: Start needs a handler")
	}
	a.mu.Lock()
	if a.started {
		a.mu.Unlock()
		return errors.New("discord: adapter already started")
	}
	a.started = true
	a.mu.Unlock()
	ok := false
	defer func() {
		if !ok { // a failed Start may be tried again
			a.mu.Lock()
			a.started = false
			a.mu.Unlock()
		}
	}()

	var me *discordgo.User
	err := a.do(ctx, "check the bot token", true, func(o ...discordgo.RequestOption) (err error) {
		me, err = a.rest.User("@me", o...)
		return err
	})
	if err != nil {
		return err
	}
	appID := me.ID // bots made before 2021 share their user's id
	var app discordgo.Application
	err = a.do(ctx, "read the bot's application", true, func(o ...discordgo.RequestOption) error {
		body, err := a.rest.RequestWithBucketID("GET", discordgo.EndpointOAuth2Application("@me"), nil, discordgo.EndpointOAuth2Applications, o...)
		if err != nil {
			return err
		}
		return json.Unmarshal(body, &app)
	})
	if err == nil && app.ID != "" {
		appID = app.ID
	} else if err != nil {
		a.log.Warn("could not read the bot's application; using the bot's user id", "err", err)
	}
	a.mu.Lock()
	a.botID, a.appID = me.ID, appID
	a.handler = h
	a.mu.Unlock()
	if _, err := a.guildInfo(ctx, true); err != nil {
		if s := restStatus(err); s == http.StatusNotFound || s == http.StatusForbidden {
			return fmt.Errorf("%w: the bot cannot see guild %s (invite it, or fix discord.guild_id): %w", ErrUnknownGuild, a.opts.GuildID, err)
		}
		return err
	}
	if err := a.loadLayout(ctx); err != nil {
		return err
	}
	a.checkAdminPing(ctx)

	gctx, cancel := context.WithCancel(context.Background())
	// The first connection is made here, so that a configuration Discord
	// refuses (token, intents) is reported by Start; any other failure is
	// retried in the background.
	first, err := a.connect(gctx)
	if errors.Is(err, ErrTokenRejected) || errors.Is(err, ErrIntentsDisallowed) {
		cancel()
		return err
	}
	if err != nil {
		a.log.Warn("gateway connection failed; retrying in the background", "err", err)
	}
	a.mu.Lock()
	a.cancel = cancel
	a.mu.Unlock()
	ok = true
	a.wg.Add(2)
	go a.runGateway(gctx, first)
	go a.runQueue(gctx)
	return nil
}

// Close stops the gateway and the workers. The adapter cannot be started
// again.
func (a *Adapter) Close() {
	a.mu.Lock()
	cancel := a.cancel
	a.mu.Unlock()
	if cancel != nil {
		cancel()
		a.wg.Wait()
	}
}

// Connected reports whether the gateway connection is up (for health).
func (a *Adapter) Connected() bool { return a.connected.Load() }

// RateLimitHits counts the 429 answers the adapter has met (for metrics).
func (a *Adapter) RateLimitHits() int64 { return a.metricsRateLimited.Load() }

// Requests counts the REST requests the adapter has made, retries
// included (for metrics).
func (a *Adapter) Requests() int64 { return a.metricsRequests.Load() }
