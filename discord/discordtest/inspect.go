package discordtest

import (
	"slices"
	"sort"
)

// Channels returns every channel (threads included) in creation order.
func (s *Server) Channels() []Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Channel, 0, len(s.state.chanOrder))
	for _, id := range s.state.chanOrder {
		out = append(out, copyChannel(s.state.channels[id]))
	}
	return out
}

// Channel returns one channel and whether it exists.
func (s *Server) Channel(id string) (Channel, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.state.channels[id]
	if !ok {
		return Channel{}, false
	}
	return copyChannel(c), true
}

// ChannelByName returns the first channel with that name.
func (s *Server) ChannelByName(name string) (Channel, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.state.chanOrder {
		if c := s.state.channels[id]; c.Name == name {
			return copyChannel(c), true
		}
	}
	return Channel{}, false
}

// Messages returns a channel's messages oldest first, in full: webhook id,
// author, embeds, attachments with their bytes, reactions, the
// allowed_mentions received and who was pinged.
func (s *Server) Messages(channelID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := s.state.messages[channelID]
	out := make([]Message, 0, len(ms))
	for _, m := range ms {
		out = append(out, copyMessage(m))
	}
	return out
}

// Message returns one message by channel and id.
func (s *Server) Message(channelID, messageID string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.findMessageLocked(channelID, messageID)
	if m == nil {
		return Message{}, false
	}
	return copyMessage(m), true
}

// Webhooks returns the webhooks of a channel in creation order.
func (s *Server) Webhooks(channelID string) []Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Webhook
	for _, id := range s.state.whOrder {
		if w := s.state.webhooks[id]; w.ChannelID == channelID {
			out = append(out, *w)
		}
	}
	return out
}

// Commands returns the registered application commands (global and guild).
func (s *Server) Commands() []Command {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Command
	for _, id := range s.state.cmdOrder {
		c := *s.state.commands[id]
		c.Options = slices.Clone(c.Options)
		out = append(out, c)
	}
	return out
}

// Roles returns the guild's roles sorted by position.
func (s *Server) Roles() []Role {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rolesLocked()
}

func (s *Server) rolesLocked() []Role {
	out := make([]Role, 0, len(s.state.roles))
	for _, r := range s.state.roles {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Position < out[j].Position })
	return out
}

// Member returns a guild member with its user.
func (s *Server) Member(userID string) (Member, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.memberLocked(userID)
	if m == nil {
		return Member{}, false
	}
	return *m, true
}
