package discordtest

import (
	"errors"
	"fmt"
)

// Discord's permission computation, as documented ("Permission Overwrites"):
//
//  1. the guild owner has every permission; otherwise the base is the
//     permissions of @everyone OR those of each of the member's roles, and
//     Administrator there means every permission;
//  2. in a channel (a thread uses its parent's overwrites): the @everyone
//     overwrite (deny, then allow), then the role overwrites of the
//     member's roles taken together (all their denies, then all their
//     allows), then the member's own overwrite (deny, then allow);
//  3. without View Channel nothing else counts; without Send Messages
//     neither do Mention Everyone, Attach Files and Embed Links.

// Overwrite types.
const (
	OverwriteRole   = 0
	OverwriteMember = 1
)

// Errors of Send, the permission refusals a member meets in the client.
var (
	// ErrNoAccess means the member cannot see the channel (Discord's 50001
	// Missing Access).
	ErrNoAccess = errors.New("discordtest: missing access: the member cannot view the channel (50001)")
	// ErrNoPermission means the member sees the channel but may not send
	// there (Discord's 50013 Missing Permissions).
	ErrNoPermission = errors.New("discordtest: missing permissions: the member may not send in the channel (50013)")
)

// guildPermsLocked is a member's guild-level permissions, owner and
// Administrator included (0 for a non-member).
func (s *Server) guildPermsLocked(userID string) int64 {
	if _, ok := s.state.members[userID]; !ok {
		return 0
	}
	if userID == s.AdminUserID { // the owner (see guildJSONLocked)
		return PermAll
	}
	return s.permsLocked(userID)
}

// channelPermsLocked computes a member's permissions in a channel.
func (s *Server) channelPermsLocked(userID string, c *Channel) int64 {
	base := s.guildPermsLocked(userID)
	if base == 0 || c == nil {
		return 0
	}
	if base&PermAdministrator != 0 || base == PermAll {
		return PermAll
	}
	ows := c.PermissionOverwrites
	if c.IsThread() {
		p := s.state.channels[c.ParentID]
		if p == nil {
			return 0
		}
		ows = p.PermissionOverwrites
	}
	m := s.state.members[userID]
	p := base
	for _, o := range ows {
		if o.Type == OverwriteRole && o.ID == s.GuildID {
			p = p&^o.Deny | o.Allow
		}
	}
	var allow, deny int64
	for _, o := range ows {
		if o.Type == OverwriteRole && o.ID != s.GuildID && containsString(m.Roles, o.ID) {
			allow |= o.Allow
			deny |= o.Deny
		}
	}
	p = p&^deny | allow
	for _, o := range ows {
		if o.Type == OverwriteMember && o.ID == userID {
			p = p&^o.Deny | o.Allow
		}
	}
	if p&PermViewChannel == 0 {
		return 0
	}
	if p&PermSendMessages == 0 {
		p &^= PermMentionEveryone | PermAttachFiles | PermEmbedLinks
	}
	return p
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// botCanLocked reports whether the bot has every bit of perm in c.
func (s *Server) botCanLocked(c *Channel, perm int64) bool {
	return s.channelPermsLocked(s.BotUserID, c)&perm == perm
}

// overwritesWithinLocked reports whether the bot may set overwrites ows
// without an overwrite granting it Manage Roles in the channel: Discord
// lets it allow or deny only permissions it has itself, in the parent
// channel when there is one, else in the guild.
func (s *Server) overwritesWithinLocked(parentID string, ows []Overwrite) bool {
	have := s.guildPermsLocked(s.BotUserID)
	if p := s.state.channels[parentID]; p != nil {
		have = s.channelPermsLocked(s.BotUserID, p)
	}
	if have&PermAdministrator != 0 || have == PermAll {
		return true
	}
	for _, o := range ows {
		if (o.Allow|o.Deny)&^have != 0 {
			return false
		}
	}
	return true
}

// Permissions returns what a member may do in a channel (or thread) by
// Discord's rules: roles, channel overwrites (a thread's parent's),
// Administrator and the guild owner. It is 0 when the member cannot view
// the channel, is not a member, or the channel is unknown.
func (s *Server) Permissions(userID, channelID string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.channelPermsLocked(userID, s.state.channels[channelID])
}

// CanView reports whether a member can see a channel (View Channel).
func (s *Server) CanView(userID, channelID string) bool {
	return s.Permissions(userID, channelID)&PermViewChannel != 0
}

// VisibleChannels returns the channels, categories and threads a member
// can see, in creation order: what the member's client lists.
func (s *Server) VisibleChannels(userID string) []Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Channel
	for _, id := range s.state.chanOrder {
		c := s.state.channels[id]
		if s.channelPermsLocked(userID, c)&PermViewChannel != 0 {
			out = append(out, copyChannel(c))
		}
	}
	return out
}

// ReadAs returns a channel's messages, oldest first, as a member's client
// would show them: ErrNoAccess when the member cannot view the channel,
// none when it may not read the history.
func (s *Server) ReadAs(userID, channelID string) ([]Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.channelPermsLocked(userID, s.state.channels[channelID])
	if p&PermViewChannel == 0 {
		return nil, ErrNoAccess
	}
	if p&PermReadMessageHistory == 0 {
		return nil, nil
	}
	var out []Message
	for _, m := range s.state.messages[channelID] {
		if !m.Ephemeral {
			out = append(out, copyMessage(m))
		}
	}
	return out, nil
}

// Send has a member post in a channel as the Discord client would, after
// Discord's permission checks: ErrNoAccess when the member cannot see the
// channel, ErrNoPermission when it may not send there (Send Messages; Send
// Messages in Threads in a thread). Otherwise it is Type.
func (s *Server) Send(channelID, userID, content string, opts ...MsgOption) (Message, error) {
	if err := s.memberMaySend(channelID, userID); err != nil {
		return Message{}, err
	}
	return s.post("Send", channelID, userID, content, opts), nil
}

func (s *Server) memberMaySend(channelID, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.state.channels[channelID]
	if c == nil {
		return nil // post panics: a mistake in the test
	}
	p := s.channelPermsLocked(userID, c)
	need := PermSendMessages
	if c.IsThread() {
		need = PermSendInThreads
	}
	switch {
	case p&PermViewChannel == 0:
		return fmt.Errorf("channel %s: %w", channelID, ErrNoAccess)
	case p&need == 0:
		return fmt.Errorf("channel %s: %w", channelID, ErrNoPermission)
	}
	return nil
}

// RefuseOverwrites makes channel creation with permission overwrites answer
// 403 (50013 Missing Permissions) whatever the bot's permissions, as
// Discord does when the bot lost a permission it is trying to grant (its
// role was just changed) or applies a rule stricter than documented. A
// creation without overwrites is unaffected. Off by default.
func (s *Server) RefuseOverwrites(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.refuseOverwrites = on
}
