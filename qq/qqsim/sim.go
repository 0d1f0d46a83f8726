// Package qqsim is the simulated QQ Music account of `bridge try`: the
// qqtest double served in process on loopback, with a few peers who write
// now and then (text, an image, a song card), answer the replies they get,
// and a login double whose QR codes are scanned and confirmed by
// themselves. Every message a peer writes, and every peer's name, says it
// is simulated.
//
// It is the one place where a simulator is part of the binary; the bridge
// reaches it only through qq.endpoints, like the real hosts.
package qqsim

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// Mark starts every text a simulated peer writes.
const Mark = "[simulated]"

// Options tune the simulation.
type Options struct {
	// Every is how often a peer writes (default 20 s).
	Every time.Duration
	// ScanAfter is how long a login QR code waits before it is scanned,
	// and then confirmed (default 3 s each), so that a person sees it.
	ScanAfter time.Duration
	// Logger receives what the peers do; nil discards it.
	Logger *slog.Logger
}

// Sim is a running simulation. Close stops it.
type Sim struct {
	srv   *qqtest.Server
	login *qqtest.Login
	opts  Options
	log   *slog.Logger
	peers []peer

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type peer struct {
	user    qqtest.User
	session string
}

// The peers and what they write, in turn.
var (
	peerNicks = []string{"Alice (simulated)", "Bob (simulated)", "Carol (simulated)"}
	// A picture that Discord can fetch (Wikimedia Commons, public domain).
	imageURL = "https://upload.wikimedia.org/wikipedia/commons/thumb/4/47/PNG_transparency_demonstration_1.png/280px-PNG_transparency_demonstration_1.png"
)

// script is what the peers write, in turn; after it ends they keep
// writing numbered texts.
func script(n int) (who int, in qqtest.Inbound) {
	switch n {
	case 0:
		return 0, qqtest.Text(Mark + " Hi! I am a simulated QQ Music friend. Reply in this channel and I will answer.")
	case 1:
		return 1, qqtest.Text(Mark + " 这首歌好好听 🎵 (a simulated message in Chinese)")
	case 2:
		return 0, qqtest.Image(imageURL, 280, 210)
	case 3:
		return 2, qqtest.Card(Mark+" 晴天", "周杰伦 · 叶惠美 (a simulated song card)", imageURL, "https://y.qq.com/n/ryqq/songDetail/0039MnYb0qxYhV")
	}
	who = n % len(peerNicks)
	return who, qqtest.Text(fmt.Sprintf("%s message %d from %s", Mark, n+1, peerNicks[who]))
}

// Start serves the simulated account on a loopback port and starts the
// peers and the self-confirming login.
func Start(opts Options) (*Sim, error) {
	if opts.Every <= 0 {
		opts.Every = 20 * time.Second
	}
	if opts.ScanAfter <= 0 {
		opts.ScanAfter = 3 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := qqtest.New(qqtest.WithAccount(qqtest.Account{
		MusicID: 10001, MusicKey: "Q_H_L_simulated", Nick: "You (simulated)",
		MusicKeyCreateTime: time.Now().Unix(), KeyExpiresIn: 30 * 24 * 3600,
	}))
	s := &Sim{srv: srv, login: qqtest.AttachLogin(srv), opts: opts, log: log}
	for i, nick := range peerNicks {
		u := srv.AddUser(qqtest.User{UIN: int64(20001 + i), Nick: nick})
		s.peers = append(s.peers, peer{user: u, session: srv.AddSession(u)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for _, kind := range []qqtest.QRKind{qqtest.QRKindMobile, qqtest.QRKindQQ, qqtest.QRKindWeChat} {
		s.spawn(func() { s.confirmLogins(ctx, kind) })
	}
	s.spawn(func() { s.write(ctx) })
	s.spawn(func() { s.answer(ctx) })
	return s, nil
}

func (s *Sim) spawn(f func()) {
	s.wg.Add(1)
	go func() { defer s.wg.Done(); f() }()
}

// Endpoints is the simulated account's address for every QQ host, in the
// shape of qq.endpoints.
func (s *Sim) Endpoints() map[string]string { return s.srv.Endpoints() }

// Close stops the peers and the server.
func (s *Sim) Close() {
	s.cancel()
	s.login.Close()
	s.srv.Close()
	s.wg.Wait()
}

// wait waits d or until ctx ends.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// confirmLogins scans and confirms every QR code of one kind, after a
// pause that lets a person see it.
func (s *Sim) confirmLogins(ctx context.Context, kind qqtest.QRKind) {
	for {
		qr, err := s.login.NextQR(ctx, kind)
		if err != nil {
			return
		}
		s.log.Info("qqsim: a login QR code was fetched; it is scanned and confirmed by itself", "method", string(kind), "in", 2*s.opts.ScanAfter)
		if !wait(ctx, s.opts.ScanAfter) {
			return
		}
		if err := qr.Scan(); err != nil {
			s.log.Warn("qqsim: scanning the QR code", "err", err)
			continue
		}
		if !wait(ctx, s.opts.ScanAfter) {
			return
		}
		if err := qr.Confirm(); err != nil {
			s.log.Warn("qqsim: confirming the QR code", "err", err)
		}
	}
}

// write has a peer write every Every, the first right away.
func (s *Sim) write(ctx context.Context) {
	for n := 0; ; n++ {
		who, in := script(n)
		p := s.peers[who]
		if _, err := s.srv.Deliver(p.session, in); err != nil {
			s.log.Warn("qqsim: a peer could not write", "peer", p.user.Nick, "err", err)
		} else {
			s.log.Info("qqsim: a simulated peer wrote", "peer", p.user.Nick, "session", p.session, "type", in.MsgType)
		}
		if !wait(ctx, s.opts.Every) {
			return
		}
	}
}

// answer has a peer answer every reply it gets.
func (s *Sim) answer(ctx context.Context) {
	seen := 0
	for {
		sent, err := s.srv.AwaitSent(ctx, seen+1)
		if err != nil {
			return
		}
		for _, m := range sent[seen:] {
			p, ok := s.peerOf(m.SessionID)
			if !ok {
				continue
			}
			text := fmt.Sprintf("%s %s got your reply (%d characters) and answers: thanks!", Mark, p.user.Nick, len([]rune(m.Meta.Content)))
			if _, err := s.srv.Deliver(p.session, qqtest.Text(text)); err != nil {
				s.log.Warn("qqsim: a peer could not answer", "peer", p.user.Nick, "err", err)
				continue
			}
			s.log.Info("qqsim: a simulated peer answered a reply", "peer", p.user.Nick, "session", p.session)
		}
		seen = len(sent)
	}
}

func (s *Sim) peerOf(session string) (peer, bool) {
	for _, p := range s.peers {
		if p.session == session {
			return p, true
		}
	}
	return peer{}, false
}
