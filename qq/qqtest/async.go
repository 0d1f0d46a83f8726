package qqtest

// heldSend is a send accepted in asynchronous mode and not applied yet.
type heldSend struct {
	Sent
	ss *session
}

// SetAsyncSend makes SendMessageAsync (and StarSendSuperMsg) asynchronous,
// as the real method's name says it may be: a send is accepted (code 0,
// with no message in the reply), but its message is applied only when the
// test calls ReleaseSends. Until then GetMessage, the session list, Sent
// and Messages do not show it. Off by default; turning it off applies
// nothing held (call ReleaseSends).
func (s *Server) SetAsyncSend(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asyncSend = on
}

// HeldSends returns how many accepted sends are not applied yet.
func (s *Server) HeldSends() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}

// ReleaseSends applies the held sends, oldest first, at the server's
// current time, and returns how many it applied. A send into a session
// deleted meanwhile is dropped.
func (s *Server) ReleaseSends() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, h := range s.held {
		if h.ss.deleted {
			continue
		}
		s.applySendLocked(h)
		n++
	}
	s.held = nil
	s.notifyLocked()
	return n
}

// applySendLocked appends a send's message to its session and records it.
func (s *Server) applySendLocked(h heldSend) Message {
	m := s.appendLocked(h.ss, Message{
		MsgType: h.MsgType, FromUIN: s.account.MusicID, ClientKey: h.ClientKey,
		Meta: h.Meta, RawMeta: h.RawMeta, Outbound: true,
	}, s.clock())
	h.Sent.Message = m
	s.sent = append(s.sent, h.Sent)
	return m
}
