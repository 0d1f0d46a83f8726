package discordtest

import (
	"net/url"
	"strings"
	"sync"
	"time"
)

// slowPosts holds the message-creating requests into some channels (see
// SetPostDelay). It has its own lock: it is read on every request.
type slowPosts struct {
	mu sync.Mutex
	by map[string]time.Duration // channel (or thread) id -> delay
}

// SetPostDelay makes every message-creating request into channelID (a
// channel or a thread) take d: a bot message (POST /channels/{id}/messages)
// and a webhook execute that posts there (the webhook's channel, or the
// thread named by thread_id) are held for d before they are handled, like
// a Discord whose storage is slow for that channel. Other channels are not
// slowed, and held requests do not hold up any other request. A client that
// gives up while its request is held gets nothing stored, as with
// DelayRoute. A d of 0 or less makes the channel fast again.
func (s *Server) SetPostDelay(channelID string, d time.Duration) {
	s.slow.mu.Lock()
	defer s.slow.mu.Unlock()
	if d <= 0 {
		delete(s.slow.by, channelID)
		return
	}
	if s.slow.by == nil {
		s.slow.by = map[string]time.Duration{}
	}
	s.slow.by[channelID] = d
}

// postDelay is how long a request must be held by SetPostDelay (zero for
// any request that does not create a message in a slowed channel).
func (s *Server) postDelay(method, path string, q url.Values) time.Duration {
	if !strings.EqualFold(method, "POST") {
		return 0
	}
	s.slow.mu.Lock()
	none := len(s.slow.by) == 0
	s.slow.mu.Unlock()
	if none {
		return 0
	}
	var ch string
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) == 3 && parts[0] == "channels" && parts[2] == "messages":
		ch = parts[1]
	case len(parts) == 3 && parts[0] == "webhooks":
		if ch = q.Get("thread_id"); ch == "" {
			s.mu.Lock()
			if wh := s.state.webhooks[parts[1]]; wh != nil {
				ch = wh.ChannelID
			}
			s.mu.Unlock()
		}
	default:
		return 0
	}
	s.slow.mu.Lock()
	defer s.slow.mu.Unlock()
	return s.slow.by[ch]
}
