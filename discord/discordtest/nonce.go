package discordtest

import (
	"encoding/json"
	"strings"
)

// enforce_nonce: a channel message created with a nonce and
// enforce_nonce: true by an author who created one with the same nonce
// "in the past few minutes" is not created again: Discord answers with the
// earlier message. The double remembers nonces until ForgetNonces, which
// stands for those few minutes passing (a retry after them posts twice).

// nonceKey returns the author-scoped key of a payload's nonce, or "" when
// the payload does not enforce one.
func nonceKey(author string, p *msgPayload) string {
	if !p.EnforceNonce || len(p.Nonce) == 0 {
		return ""
	}
	var n any
	if json.Unmarshal(p.Nonce, &n) != nil {
		return ""
	}
	var v string
	switch n := n.(type) {
	case string:
		v = n
	case float64:
		v = strings.TrimSpace(string(p.Nonce))
	default:
		return ""
	}
	if v == "" {
		return ""
	}
	return author + "\x00" + v
}

// nonceLocked returns the message an earlier create with the same
// enforced nonce made, if it still exists.
func (s *Server) nonceLocked(author string, p *msgPayload) *Message {
	k := nonceKey(author, p)
	if k == "" {
		return nil
	}
	m := s.state.nonces[k]
	if m == nil {
		return nil
	}
	for _, x := range s.state.messages[m.ChannelID] {
		if x == m {
			return m
		}
	}
	return nil // deleted since
}

func (s *Server) rememberNonceLocked(author string, p *msgPayload, m *Message) {
	k := nonceKey(author, p)
	if k == "" || m == nil {
		return
	}
	if s.state.nonces == nil {
		s.state.nonces = map[string]*Message{}
	}
	s.state.nonces[k] = m
}

// ForgetNonces makes the server forget the nonces of earlier messages, as
// Discord does after a few minutes: a create repeated with the same nonce
// then makes a second message.
func (s *Server) ForgetNonces() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.nonces = nil
}
