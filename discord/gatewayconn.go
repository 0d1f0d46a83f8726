package discord

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"
)

// gateway is one discordgo session's gateway connection.
type gateway struct {
	s     *discordgo.Session
	dials *dialTracker
	down  chan struct{}
	once  sync.Once
}

func (g *gateway) markDown() { g.once.Do(func() { close(g.down) }) }

// runGateway keeps one gateway session open, rebuilding it whenever it
// drops, stops acknowledging heartbeats, or hangs while opening.
func (a *Adapter) runGateway(ctx context.Context, first *gateway) {
	defer a.wg.Done()
	backoff := a.opts.ReconnectBackoff
	for ctx.Err() == nil {
		g, err := first, error(nil)
		if g == nil {
			g, err = a.connect(ctx)
		}
		first = nil
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			a.log.Warn("gateway connection failed; retrying", "err", err, "in", backoff)
			if sleep(ctx, backoff) != nil {
				return
			}
			backoff = min(backoff*2, a.opts.MaxReconnectBackoff)
			continue
		}
		backoff = a.opts.ReconnectBackoff
		a.connected.Store(true)
		a.log.Info("gateway connected")
		reason := a.watch(ctx, g)
		a.connected.Store(false)
		a.cur.CompareAndSwap(g, nil)
		if ctx.Err() != nil {
			a.closeGateway(g)
			return
		}
		a.log.Warn("gateway lost; reconnecting", "reason", reason)
		a.closeGateway(g)
	}
}

// closeGateway closes a session: its connections at once, then discordgo's
// own Close (which sleeps a second and may be stuck in discordgo's locks)
// in the background.
func (a *Adapter) closeGateway(g *gateway) {
	g.dials.closeAll()
	go g.s.Close()
}

// connect opens a new gateway session, giving up after OpenTimeout.
func (a *Adapter) connect(ctx context.Context) (*gateway, error) {
	s := a.newSession()
	g := &gateway{s: s, dials: &dialTracker{}, down: make(chan struct{})}
	s.Dialer = &websocket.Dialer{
		NetDialContext:   g.dials.dial,
		HandshakeTimeout: a.opts.OpenTimeout,
		Proxy:            http.ProxyFromEnvironment,
	}
	live := func() bool { return a.cur.Load() == g }
	s.AddHandler(func(_ *discordgo.Session, _ *discordgo.Disconnect) { g.markDown() })
	s.AddHandler(func(_ *discordgo.Session, r *discordgo.Ready) {
		if !live() {
			return
		}
		if r.Application != nil && r.Application.ID != "" {
			a.mu.Lock()
			a.appID = r.Application.ID
			a.mu.Unlock()
		}
		// What was written while no session was open is only in the
		// history: the handler is told here, before the session hands
		// over any message (discordgo dispatches events in order, on one
		// goroutine), so that a later message waits for the catch-up of
		// its channel instead of overtaking one written before it.
		// Resumed does not block.
		a.handler.Resumed(ctx)
	})
	s.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageCreate) {
		if live() && m.Message != nil {
			select {
			case a.queue <- memberEvent{m: m.Message}:
			default:
				// A catch-up finds it, and the channel's newer messages
				// wait for that catch-up.
				a.log.Error("reply queue full; the message will be picked up by the next catch-up", "message", m.ID)
				a.askCatchUp(ctx, m.ChannelID)
			}
		}
	})
	a.addEditHandlers(s, live)
	s.AddHandler(func(_ *discordgo.Session, i *discordgo.InteractionCreate) {
		if live() && i.Interaction != nil {
			// Interactions must be answered within 3 s: never queue them
			// behind replies.
			go a.handleInteraction(ctx, i.Interaction)
		}
	})
	// Sent right after READY, before any message of the session.
	s.AddHandler(func(_ *discordgo.Session, g *discordgo.GuildCreate) {
		if live() {
			a.noteGuild(g.Guild)
		}
	})
	s.AddHandler(func(_ *discordgo.Session, c *discordgo.ChannelDelete) {
		if c.Channel != nil {
			a.forgetChannel(c.ID)
		}
	})
	s.AddHandler(func(_ *discordgo.Session, c *discordgo.ChannelUpdate) {
		if c.Channel != nil {
			a.recheckChannel(c.ID) // it may have moved in or out of our categories
			a.notePrivacy(c.Channel)
		}
	})
	s.AddHandler(func(_ *discordgo.Session, c *discordgo.ThreadDelete) {
		if c.Channel != nil {
			a.forgetChannel(c.ID)
		}
	})
	// Permission facts change with roles, the owner and members' roles.
	s.AddHandler(func(_ *discordgo.Session, _ *discordgo.GuildRoleCreate) { a.dropGuildInfo() })
	s.AddHandler(func(_ *discordgo.Session, _ *discordgo.GuildRoleUpdate) { a.dropGuildInfo() })
	s.AddHandler(func(_ *discordgo.Session, _ *discordgo.GuildRoleDelete) { a.dropGuildInfo() })
	s.AddHandler(func(_ *discordgo.Session, _ *discordgo.GuildUpdate) { a.dropGuildInfo() })
	s.AddHandler(func(_ *discordgo.Session, m *discordgo.GuildMemberUpdate) {
		if m.Member != nil && m.User != nil {
			a.mu.Lock()
			a.members[m.User.ID] = memberInfo{roles: m.Roles, at: time.Now()}
			a.mu.Unlock()
		}
	})
	a.cur.Store(g)
	errc := make(chan error, 1)
	go func() { errc <- s.Open() }()
	t := time.NewTimer(a.opts.OpenTimeout)
	defer t.Stop()
	select {
	case err := <-errc:
		if err != nil {
			a.cur.CompareAndSwap(g, nil)
			g.dials.closeAll()
			var ce *websocket.CloseError
			if errors.As(err, &ce) && ce.Code == 4004 {
				return nil, fmt.Errorf("discord: gateway: %w", ErrTokenRejected)
			}
			if errors.As(err, &ce) && ce.Code == 4014 {
				return nil, ErrIntentsDisallowed
			}
			return nil, fmt.Errorf("discord: open gateway: %w", err)
		}
		return g, nil
	case <-t.C:
		a.cur.CompareAndSwap(g, nil)
		g.dials.closeAll()
		a.log.Warn("gateway open hung; abandoning that session", "after", a.opts.OpenTimeout)
		return nil, fmt.Errorf("discord: opening the gateway took longer than %v", a.opts.OpenTimeout)
	case <-ctx.Done():
		a.cur.CompareAndSwap(g, nil)
		g.dials.closeAll()
		return nil, ctx.Err()
	}
}

// watch returns why the session g must be rebuilt, or "" when ctx ends.
func (a *Adapter) watch(ctx context.Context, g *gateway) string {
	t := time.NewTicker(a.opts.WatchdogInterval)
	defer t.Stop()
	locked := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return ""
		case <-g.down:
			return "gateway disconnected"
		case <-t.C:
			if !g.s.TryRLock() {
				// discordgo holds its lock while opening and closing; a
				// lock held this long is a stuck session.
				if locked.IsZero() {
					locked = time.Now()
				} else if time.Since(locked) > a.opts.HeartbeatTimeout {
					return "session stuck"
				}
				continue
			}
			locked = time.Time{}
			last := g.s.LastHeartbeatAck
			g.s.RUnlock()
			if since := time.Since(last); since > a.opts.HeartbeatTimeout {
				return fmt.Sprintf("no heartbeat acknowledged for %v", since.Round(time.Millisecond))
			}
		}
	}
}
