package discordtest

import (
	"encoding/json"
	"strconv"
	"time"
)

// NonceWindow is how long a nonce sent with enforce_nonce stays unique per
// author: Discord promises "the past few minutes".
const NonceWindow = 5 * time.Minute

type nonceUse struct {
	channelID, messageID string
	at                   time.Time
}

// parseNonce reads a message's nonce: a string or an integer, at most 25
// characters, as Discord accepts.
func parseNonce(raw json.RawMessage) (string, *apiError) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", errf(400, 50035, "Invalid Form Body (nonce: must be a string or an integer)")
		}
		if _, err := strconv.ParseInt(n.String(), 10, 64); err != nil {
			return "", errf(400, 50035, "Invalid Form Body (nonce: must be a string or an integer)")
		}
		s = n.String()
	}
	if len(s) > 25 {
		return "", errf(400, 50035, "Invalid Form Body (nonce: must be 25 or fewer in length)")
	}
	return s, nil
}

// nonceHitLocked returns the message authorID created with nonce within
// NonceWindow, if it still exists; callers hold s.mu.
func (s *Server) nonceHitLocked(authorID, nonce string) *Message {
	u, ok := s.state.nonces[authorID+"\x00"+nonce]
	if !ok || time.Since(u.at) > NonceWindow {
		return nil
	}
	return s.findMessageLocked(u.channelID, u.messageID)
}

// rememberNonceLocked records that authorID created m with nonce; callers
// hold s.mu.
func (s *Server) rememberNonceLocked(authorID, nonce string, m *Message) {
	if s.state.nonces == nil {
		s.state.nonces = map[string]nonceUse{}
	}
	now := time.Now()
	for k, u := range s.state.nonces { // keep the map small
		if now.Sub(u.at) > NonceWindow {
			delete(s.state.nonces, k)
		}
	}
	s.state.nonces[authorID+"\x00"+nonce] = nonceUse{channelID: m.ChannelID, messageID: m.ID, at: now}
}

// ForgetNonces makes the server forget the nonces of earlier messages, as
// Discord does once NonceWindow has passed: a create repeated with the
// same nonce then makes a second message.
func (s *Server) ForgetNonces() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.nonces = nil
}
