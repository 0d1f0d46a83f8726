package discordtest

import (
	"context"
	"fmt"
	"time"
)

// ---- test controls ----

// DropGateway closes every gateway connection abruptly (no close frame).
// Sessions stay resumable.
func (s *Server) DropGateway() {
	s.gw.mu.Lock()
	conns := make([]*gwConn, 0, len(s.gw.conns))
	for c := range s.gw.conns {
		conns = append(conns, c)
	}
	s.gw.mu.Unlock()
	for _, c := range conns {
		_ = c.ws.UnderlyingConn().Close()
	}
}

// SendReconnect sends op 7 (Reconnect) on every gateway connection.
func (s *Server) SendReconnect() {
	s.broadcastOp(opFrame(7, nil), false, false)
}

// SendInvalidSession sends op 9 (Invalid Session) with d=resumable on every
// identified connection. The connection stays open and accepts a fresh
// IDENTIFY (what discordgo sends); when resumable is false the session is
// forgotten, so a later RESUME gets op 9 false too.
func (s *Server) SendInvalidSession(resumable bool) {
	s.broadcastOp(opFrame(9, resumable), true, !resumable)
}

func (s *Server) broadcastOp(frame []byte, detach, forget bool) {
	s.gw.mu.Lock()
	var targets []*gwConn
	for c := range s.gw.conns {
		if detach && c.sess == nil {
			continue
		}
		if detach {
			if forget {
				delete(s.gw.sessions, c.sess.id)
			}
			c.sess.conn = nil
			c.sess = nil
		}
		targets = append(targets, c)
	}
	s.gw.mu.Unlock()
	for _, c := range targets {
		_ = c.write(frame, s.cfg.writeTimeout)
	}
}

// AnswerNextIdentify makes the gateway answer the next IDENTIFY with op 7
// (Reconnect) or op 9 (Invalid Session, not resumable) instead of READY.
// op 7 before READY deadlocks discordgo v0.29.0's Open (issue #513): use it
// to test a watchdog around Open.
func (s *Server) AnswerNextIdentify(op int) {
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	s.gw.nextAnswer = op
}

// Dispatched returns how many times event (e.g. "MESSAGE_CREATE") was
// written to a live gateway connection, replays on RESUME excluded.
func (s *Server) Dispatched(event string) int {
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	return s.gw.delivered[event]
}

// SetHeartbeatAcks turns heartbeat ACKs (op 11) on or off (default on).
func (s *Server) SetHeartbeatAcks(on bool) {
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	s.gw.noAcks = !on
}

// HangGateway makes new gateway connections hang: the websocket is
// accepted but HELLO never comes, so discordgo's Open blocks.
func (s *Server) HangGateway(on bool) {
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	s.gw.hang = on
}

// DisallowIntents makes IDENTIFY with any of these intent bits fail with
// close code 4014, like a privileged intent not enabled for the app.
func (s *Server) DisallowIntents(mask int) {
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	s.gw.disallowed = mask
}

// GatewayConnections returns how many gateway websockets are open now.
func (s *Server) GatewayConnections() int {
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	return len(s.gw.conns)
}

// TotalGatewayConnections returns how many gateway websockets were ever accepted.
func (s *Server) TotalGatewayConnections() int {
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	return s.gw.total
}

// Identifies returns how many IDENTIFYs succeeded.
func (s *Server) Identifies() int {
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	return s.gw.identifies
}

// Resumes returns how many RESUMEs succeeded.
func (s *Server) Resumes() int {
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	return s.gw.resumes
}

// Heartbeats returns how many heartbeats (op 1) clients sent.
func (s *Server) Heartbeats() int {
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	return s.gw.heartbeats
}

// LastIntents returns the intents of the latest successful IDENTIFY.
func (s *Server) LastIntents() int {
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	return s.gw.lastIntents
}

// Connected reports whether at least one identified (or resumed) session
// has a live connection, i.e. dispatches would be delivered.
func (s *Server) Connected() bool {
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	for _, sess := range s.gw.sessions {
		if sess.conn != nil {
			return true
		}
	}
	return false
}

// WaitFor polls cond every few milliseconds until it is true or ctx ends.
// Handy with Identifies, Resumes and Connected: s.WaitFor(ctx, func() bool { return s.Resumes() == 1 }).
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("discordtest: condition not met: %w", ctx.Err())
		case <-t.C:
		}
	}
}
