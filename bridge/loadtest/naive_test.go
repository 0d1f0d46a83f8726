package loadtest

import (
	"context"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
)

// naive is the strategy the engine is measured against: every cycle, list
// all the sessions, then read the newest page of every session, and post
// the messages not seen before. It is what a bridge without a watermark
// and dirty sessions does. It keeps what it has seen in memory only and
// relays one way (QQ to Discord); it posts through the same Discord
// adapter as the engine, into the channels the world already has.
type naive struct {
	w        *world
	c        *qq.Client
	ad       *discord.Adapter
	interval time.Duration
	qqc      *qqCounter
	// onCycle, when set, is called at the start of each cycle with the
	// number of cycles started so far.
	onCycle func(n int64)

	cycles atomic.Int64
	// lost counts cycles that ended early because the session list could
	// not be read.
	lost atomic.Int64

	seen map[string]bool // QQ message ids posted (or known at start)
	refs map[string]bridge.ChannelRef

	cancel context.CancelFunc
	done   chan struct{}
}

// naiveOpts says how to run the naive poller.
type naiveOpts struct {
	interval time.Duration
	// limit is the client-side throttle: 0 the product's (10 requests/s,
	// burst 50), rate.Inf none.
	limit rate.Limit
	// channels: find every session's channel before the first cycle (else
	// on its first post; an idle run never needs them).
	channels bool
	onCycle  func(n int64)
	// beforeRun, when set, runs once the poller is primed, before its
	// first cycle.
	beforeRun func()
}

// startNaive starts the naive poller on the world. It first learns the
// messages already there (and the sessions' channels): the world's doubles
// must accept that many requests.
func (w *world) startNaive(o naiveOpts) *naive {
	w.t.Helper()
	n := &naive{w: w, interval: o.interval, qqc: &qqCounter{}, onCycle: o.onCycle,
		seen: map[string]bool{}, refs: map[string]bridge.ChannelRef{}, done: make(chan struct{})}
	n.c = w.newClient(o.limit, n.qqc)
	n.ad = w.newAdapter()
	ctx := context.Background()
	if err := n.ad.Start(ctx, nopHandler{}); err != nil {
		w.t.Fatal(err)
	}
	// Prime: everything already in QQ is old; find each session's channel.
	for s, err := range n.c.Sessions(ctx, qq.SessionListParams{}) {
		if err != nil {
			w.t.Fatalf("naive: list sessions: %v", err)
		}
		sid := string(s.SessionID)
		if o.channels {
			ref, err := n.ad.EnsureChannel(ctx, bridge.Session{ID: sid, Peer: peerOf(s.User), SortTime: int64(s.SortTime)}, nil)
			if err != nil {
				w.t.Fatalf("naive: channel of %s: %v", sid, err)
			}
			n.refs[sid] = ref
		}
		page, err := n.c.GetMessages(ctx, qq.MessagesParams{SessionID: sid})
		if err != nil {
			w.t.Fatalf("naive: read %s: %v", sid, err)
		}
		for _, m := range page.Messages {
			n.seen[string(m.ID)] = true
		}
	}
	n.qqc.calls.Store(0)
	n.qqc.refused.Store(0)
	if o.beforeRun != nil {
		o.beforeRun()
	}
	rctx, cancel := context.WithCancel(ctx)
	n.cancel = cancel
	go n.run(rctx)
	return n
}

func (n *naive) run(ctx context.Context) {
	defer close(n.done)
	for ctx.Err() == nil {
		n.cycle(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(n.interval):
		}
	}
}

// cycle lists every session, then reads and relays every session. A
// session whose read fails (refused by risk control, say) waits for the
// next cycle; so does a message whose post fails.
func (n *naive) cycle(ctx context.Context) {
	c := n.cycles.Add(1)
	if n.onCycle != nil {
		n.onCycle(c)
	}
	var list []qq.Session
	for s, err := range n.c.Sessions(ctx, qq.SessionListParams{}) {
		if err != nil {
			n.lost.Add(1)
			return
		}
		list = append(list, s)
	}
	for _, s := range list {
		if ctx.Err() != nil {
			return
		}
		sid := string(s.SessionID)
		page, err := n.c.GetMessages(ctx, qq.MessagesParams{SessionID: sid})
		if err != nil {
			continue
		}
		msgs := page.Messages
		qq.SortMessages(msgs)
		for _, m := range msgs {
			id := string(m.ID)
			if n.seen[id] {
				continue
			}
			ref, ok := n.refs[sid]
			if !ok {
				if ref, err = n.ad.EnsureChannel(ctx, bridge.Session{ID: sid, Peer: peerOf(s.User), SortTime: int64(s.SortTime)}, nil); err != nil {
					break
				}
				n.refs[sid] = ref
			}
			r, err := n.ad.Render(toBridge(sid, m))
			if err != nil {
				break
			}
			if _, err := n.ad.Post(ctx, ref, r); err != nil {
				break
			}
			n.seen[id] = true
		}
	}
}

func (n *naive) stop() {
	n.cancel()
	<-n.done
	n.ad.Close()
}

func peerOf(u *qq.User) bridge.Peer {
	if u == nil {
		return bridge.Peer{}
	}
	return bridge.Peer{UIN: string(u.Uin), EncryptUIN: string(u.EncryptUin), Nick: string(u.Nick), AvatarURL: string(u.Avatar)}
}

// toBridge turns a text message into the bridge's model (the naive poller
// only ever sees text here).
func toBridge(sid string, m qq.Message) bridge.Message {
	bm := bridge.Message{ID: string(m.ID), SessionID: sid, Sequence: int64(m.Sequence), Sender: peerOf(m.FromUser), Kind: bridge.KindText}
	if m.MetaData != nil {
		bm.Text = string(m.MetaData.Content)
	}
	return bm
}
