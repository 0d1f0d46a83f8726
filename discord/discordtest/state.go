package discordtest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// snowflakeBase is where ids start: a real-looking snowflake for
// 2025-01-01T00:00:00Z (milliseconds since Discord's 2015 epoch, shifted by
// 22 bits). Every new id is the previous one plus one.
const snowflakeBase int64 = 315_619_200_000 << 22

// Discord's limits that the double enforces.
const (
	MaxContentLength       = 2000
	MaxEmbeds              = 10
	MaxEmbedTotal          = 6000
	MaxAttachments         = 10
	MaxChannelsPerGuild    = 500
	MaxChannelsPerCategory = 50
	MaxWebhooksPerChannel  = 15
	MaxWebhooksPerGuild    = 1000
)

type state struct {
	guildName string
	createdAt time.Time
	users     map[string]*User
	roles     map[string]*Role
	members   map[string]*Member
	memberIDs []string // join order
	channels  map[string]*Channel
	chanOrder []string // creation order
	messages  map[string][]*Message
	webhooks  map[string]*Webhook
	whOrder   []string
	commands  map[string]*Command // by id
	cmdOrder  []string
	inters    map[string]*Interaction // by id
	byToken   map[string]*Interaction
	nonces    map[string]nonceUse // author + nonce, for enforce_nonce

	refuseOverwrites bool // see RefuseOverwrites
}

// nextID returns a new snowflake; callers hold s.mu.
func (s *Server) nextID() string {
	s.ids++
	return strconv.FormatInt(s.ids, 10)
}

func (s *Server) initState() {
	now := time.Now().UTC()
	st := &s.state
	st.guildName = s.cfg.guildName
	st.createdAt = now
	st.users = map[string]*User{}
	st.roles = map[string]*Role{}
	st.members = map[string]*Member{}
	st.channels = map[string]*Channel{}
	st.messages = map[string][]*Message{}
	st.webhooks = map[string]*Webhook{}
	st.commands = map[string]*Command{}
	st.inters = map[string]*Interaction{}
	st.byToken = map[string]*Interaction{}

	s.GuildID = s.nextID()
	s.EveryoneRoleID = s.GuildID
	s.ApplicationID = s.nextID()
	s.BotUserID = s.ApplicationID // bot user id == application id for modern apps
	st.roles[s.GuildID] = &Role{ID: s.GuildID, Name: "@everyone", Position: 0,
		Permissions: PermViewChannel | PermSendMessages | PermReadMessageHistory | PermAddReactions |
			PermEmbedLinks | PermAttachFiles | PermMentionEveryone | PermSendInThreads | PermCreateInstantInvite}
	s.BotRoleID = s.addRoleLocked("Bridge", PermAdministrator)
	st.roles[s.BotRoleID].Managed = true
	s.AdminRoleID = s.addRoleLocked("Admin", PermAdministrator)
	s.ManagerRoleID = s.addRoleLocked("Manager", PermManageGuild)

	st.users[s.BotUserID] = &User{ID: s.BotUserID, Username: "Bridge", Discriminator: "0", Bot: true}
	st.members[s.BotUserID] = &Member{Roles: []string{s.BotRoleID}, JoinedAt: now}
	st.memberIDs = append(st.memberIDs, s.BotUserID)
	s.AdminUserID = s.addMemberLocked("admin", false, s.AdminRoleID)
	s.PlainUserID = s.addMemberLocked("plain", false)
	s.AdminChannelID = s.addChannelLocked(Channel{Type: ChannelTypeText, Name: "bridge-admin"})
}

func (s *Server) addRoleLocked(name string, perms int64) string {
	id := s.nextID()
	s.state.roles[id] = &Role{ID: id, Name: name, Permissions: perms, Position: len(s.state.roles)}
	return id
}

func (s *Server) addMemberLocked(name string, bot bool, roleIDs ...string) string {
	id := s.nextID()
	s.state.users[id] = &User{ID: id, Username: name, GlobalName: name, Discriminator: "0", Bot: bot}
	s.state.members[id] = &Member{Roles: append([]string{}, roleIDs...), JoinedAt: time.Now().UTC()}
	s.state.memberIDs = append(s.state.memberIDs, id)
	return id
}

func (s *Server) addChannelLocked(ch Channel) string {
	if ch.ID == "" {
		ch.ID = s.nextID()
	}
	ch.GuildID = s.GuildID
	if ch.PermissionOverwrites == nil {
		ch.PermissionOverwrites = []Overwrite{}
	}
	c := ch
	s.state.channels[c.ID] = &c
	s.state.chanOrder = append(s.state.chanOrder, c.ID)
	return c.ID
}

// AddMember adds a guild member (a human user) with the given roles,
// dispatches GUILD_MEMBER_ADD (GUILD_MEMBERS intent) and returns its user id.
func (s *Server) AddMember(name string, roleIDs ...string) string {
	return s.addMember(name, false, roleIDs)
}

// AddBotMember adds another bot user as a guild member and returns its id
// (for "messages from other bots are ignored" tests).
func (s *Server) AddBotMember(name string, roleIDs ...string) string {
	return s.addMember(name, true, roleIDs)
}

func (s *Server) addMember(name string, bot bool, roleIDs []string) string {
	s.mu.Lock()
	id := s.addMemberLocked(name, bot, roleIDs...)
	m := s.memberWithGuildLocked(id)
	s.mu.Unlock()
	s.dispatch("GUILD_MEMBER_ADD", IntentGuildMembers, m)
	return id
}

func (s *Server) memberWithGuildLocked(id string) map[string]any {
	out := map[string]any{}
	_ = json.Unmarshal(mustJSON(s.memberLocked(id)), &out)
	out["guild_id"] = s.GuildID
	return out
}

// RemoveMember removes a member from the guild (its user stays known) and
// dispatches GUILD_MEMBER_REMOVE.
func (s *Server) RemoveMember(userID string) {
	s.mu.Lock()
	u, ok := s.state.users[userID]
	var user User
	if ok {
		user = *u
	}
	delete(s.state.members, userID)
	s.state.memberIDs = slices.DeleteFunc(s.state.memberIDs, func(id string) bool { return id == userID })
	s.mu.Unlock()
	if ok {
		s.dispatch("GUILD_MEMBER_REMOVE", IntentGuildMembers, map[string]any{"guild_id": s.GuildID, "user": user})
	}
}

// SetMemberRoles replaces a member's roles and dispatches GUILD_MEMBER_UPDATE.
func (s *Server) SetMemberRoles(userID string, roleIDs ...string) {
	s.mu.Lock()
	m := s.state.members[userID]
	if m == nil {
		s.mu.Unlock()
		return
	}
	m.Roles = append([]string{}, roleIDs...)
	ev := s.memberWithGuildLocked(userID)
	s.mu.Unlock()
	s.dispatch("GUILD_MEMBER_UPDATE", IntentGuildMembers, ev)
}

// SetMemberNick sets a member's guild nickname ("" clears it) and
// dispatches GUILD_MEMBER_UPDATE.
func (s *Server) SetMemberNick(userID, nick string) {
	s.mu.Lock()
	m := s.state.members[userID]
	if m == nil {
		s.mu.Unlock()
		return
	}
	m.Nick = nick
	ev := s.memberWithGuildLocked(userID)
	s.mu.Unlock()
	s.dispatch("GUILD_MEMBER_UPDATE", IntentGuildMembers, ev)
}

// AddRole adds a guild role with the given permission bits, dispatches
// GUILD_ROLE_CREATE and returns its id.
func (s *Server) AddRole(name string, perms int64) string {
	s.mu.Lock()
	id := s.addRoleLocked(name, perms)
	role := *s.state.roles[id]
	s.mu.Unlock()
	s.dispatch("GUILD_ROLE_CREATE", IntentGuilds, map[string]any{"guild_id": s.GuildID, "role": role})
	return id
}

// SetRolePermissions replaces a role's permission bits (the @everyone role's
// id is GuildID) and dispatches GUILD_ROLE_UPDATE.
func (s *Server) SetRolePermissions(roleID string, perms int64) {
	s.mu.Lock()
	r := s.state.roles[roleID]
	if r == nil {
		s.mu.Unlock()
		return
	}
	r.Permissions = perms
	out := *r
	s.mu.Unlock()
	s.dispatch("GUILD_ROLE_UPDATE", IntentGuilds, map[string]any{"guild_id": s.GuildID, "role": out})
}

// SetRoleMentionable sets whether members without the Mention Everyone
// permission can ping the role.
func (s *Server) SetRoleMentionable(roleID string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.state.roles[roleID]; r != nil {
		r.Mentionable = on
	}
}

// SetBotPermissions replaces the permissions of the bot's role and
// dispatches GUILD_ROLE_UPDATE. The double checks guild-level permissions
// for channel management (0x10), roles and overwrites (0x10000000),
// webhooks (0x20000000), reactions (0x40) and deleting others' messages
// (0x2000), and channel-level ones (overwrites evaluated, see Permissions)
// for viewing a channel (0x400: 50001 Missing Access), reading its history
// (0x10000), sending (0x800) and attaching files (0x8000); a missing one
// gives 403 with code 50013.
func (s *Server) SetBotPermissions(perms int64) {
	s.SetRolePermissions(s.BotRoleID, perms)
}

// AddChannel adds a channel, category, forum or thread to the guild without
// any REST call or gateway event and returns its id (ch.ID is used when
// set). Use it to pre-seed state before the bot connects.
func (s *Server) AddChannel(ch Channel) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch.IsThread() && ch.ThreadMetadata == nil {
		ch.ThreadMetadata = &ThreadMetadata{AutoArchiveDuration: 4320, ArchiveTimestamp: time.Now().UTC()}
	}
	return s.addChannelLocked(ch)
}

// CreateChannel adds a channel as a guild admin would in the client and
// dispatches CHANNEL_CREATE (THREAD_CREATE for threads). No limits apply.
func (s *Server) CreateChannel(ch Channel) string {
	id := s.AddChannel(ch)
	c, _ := s.Channel(id)
	if c.IsThread() {
		s.dispatch("THREAD_CREATE", IntentGuilds, threadCreate(c))
	} else {
		s.dispatch("CHANNEL_CREATE", IntentGuilds, c)
	}
	return id
}

// UpdateChannel changes a channel as a guild admin would in the client
// (rename, move, topic, archive) and dispatches CHANNEL_UPDATE or
// THREAD_UPDATE. The id cannot change. It reports whether the channel exists.
func (s *Server) UpdateChannel(id string, edit func(*Channel)) bool {
	s.mu.Lock()
	c := s.state.channels[id]
	if c == nil {
		s.mu.Unlock()
		return false
	}
	next := copyChannel(c)
	edit(&next)
	next.ID, next.GuildID = c.ID, s.GuildID
	*c = next
	out := copyChannel(c)
	s.mu.Unlock()
	if out.IsThread() {
		s.dispatch("THREAD_UPDATE", IntentGuilds, out)
	} else {
		s.dispatch("CHANNEL_UPDATE", IntentGuilds, out)
	}
	return true
}

// memberLocked returns a wire copy of a member with its user filled in.
func (s *Server) memberLocked(userID string) *Member {
	m, ok := s.state.members[userID]
	if !ok {
		return nil
	}
	c := *m
	c.Roles = append([]string{}, m.Roles...)
	u := *s.state.users[userID]
	c.User = &u
	return &c
}

// permsLocked computes a member's guild-level permissions.
func (s *Server) permsLocked(userID string) int64 {
	m, ok := s.state.members[userID]
	if !ok {
		return 0
	}
	p := s.state.roles[s.GuildID].Permissions
	for _, rid := range m.Roles {
		if r, ok := s.state.roles[rid]; ok {
			p |= r.Permissions
		}
	}
	if p&PermAdministrator != 0 {
		return PermAll
	}
	return p
}

func (s *Server) botHas(perm int64) bool { return s.permsLocked(s.BotUserID)&perm == perm }

func (s *Server) findMessageLocked(channelID, messageID string) *Message {
	for _, m := range s.state.messages[channelID] {
		if m.ID == messageID {
			return m
		}
	}
	return nil
}

func copyChannel(c *Channel) Channel {
	out := *c
	out.PermissionOverwrites = slices.Clone(c.PermissionOverwrites)
	out.AvailableTags = slices.Clone(c.AvailableTags)
	out.AppliedTags = slices.Clone(c.AppliedTags)
	if c.ThreadMetadata != nil {
		tm := *c.ThreadMetadata
		out.ThreadMetadata = &tm
	}
	return out
}

func copyMessage(m *Message) Message {
	out := *m
	out.Mentions = slices.Clone(m.Mentions)
	out.MentionRoles = slices.Clone(m.MentionRoles)
	out.Attachments = make([]Attachment, len(m.Attachments))
	for i, a := range m.Attachments {
		a.Data = slices.Clone(a.Data)
		out.Attachments[i] = a
	}
	out.Embeds = make([]Embed, len(m.Embeds))
	for i, e := range m.Embeds {
		out.Embeds[i] = copyEmbed(e)
	}
	out.Reactions = make([]Reaction, len(m.Reactions))
	for i, r := range m.Reactions {
		r.Users = slices.Clone(r.Users)
		out.Reactions[i] = r
	}
	if len(out.Reactions) == 0 {
		out.Reactions = nil
	}
	out.Components = slices.Clone(m.Components)
	if m.MessageReference != nil {
		r := *m.MessageReference
		out.MessageReference = &r
	}
	if m.ReferencedMessage != nil {
		rm := copyMessage(m.ReferencedMessage)
		rm.ReferencedMessage = nil
		out.ReferencedMessage = &rm
	}
	if m.EditedTimestamp != nil {
		t := *m.EditedTimestamp
		out.EditedTimestamp = &t
	}
	if m.AllowedMentions != nil {
		am := *m.AllowedMentions
		am.Parse = slices.Clone(am.Parse)
		am.Users = slices.Clone(am.Users)
		am.Roles = slices.Clone(am.Roles)
		out.AllowedMentions = &am
	}
	out.Pinged.Users = slices.Clone(m.Pinged.Users)
	out.Pinged.Roles = slices.Clone(m.Pinged.Roles)
	if m.Interaction != nil {
		mi := *m.Interaction
		out.Interaction = &mi
	}
	if m.Thread != nil {
		t := copyChannel(m.Thread)
		out.Thread = &t
	}
	return out
}

func copyEmbed(e Embed) Embed {
	out := e
	out.Fields = slices.Clone(e.Fields)
	if e.Footer != nil {
		f := *e.Footer
		out.Footer = &f
	}
	if e.Image != nil {
		v := *e.Image
		out.Image = &v
	}
	if e.Thumbnail != nil {
		v := *e.Thumbnail
		out.Thumbnail = &v
	}
	if e.Author != nil {
		v := *e.Author
		out.Author = &v
	}
	return out
}

// guildJSONLocked is the guild object for GET /guilds/{id} and GUILD_CREATE.
func (s *Server) guildJSONLocked(full bool) map[string]any {
	g := map[string]any{
		"id":                            s.GuildID,
		"name":                          s.state.guildName,
		"icon":                          nil,
		"owner_id":                      s.AdminUserID,
		"roles":                         s.rolesLocked(),
		"emojis":                        []any{},
		"stickers":                      []any{},
		"features":                      []string{},
		"verification_level":            0,
		"default_message_notifications": 1,
		"explicit_content_filter":       0,
		"mfa_level":                     0,
		"preferred_locale":              "en-US",
		"premium_tier":                  0,
		"system_channel_flags":          0,
		"nsfw_level":                    0,
		"afk_timeout":                   300,
	}
	if full {
		members := make([]*Member, 0, len(s.state.memberIDs))
		for _, id := range s.state.memberIDs {
			members = append(members, s.memberLocked(id))
		}
		var chans, threads []Channel
		for _, id := range s.state.chanOrder {
			c := s.state.channels[id]
			if c.IsThread() {
				if c.ThreadMetadata == nil || !c.ThreadMetadata.Archived {
					threads = append(threads, copyChannel(c))
				}
			} else {
				chans = append(chans, copyChannel(c))
			}
		}
		if chans == nil {
			chans = []Channel{}
		}
		if threads == nil {
			threads = []Channel{}
		}
		g["joined_at"] = s.state.createdAt.Format(time.RFC3339Nano)
		g["large"] = false
		g["unavailable"] = false
		g["member_count"] = len(members)
		g["members"] = members
		g["channels"] = chans
		g["threads"] = threads
		g["presences"] = []any{}
		g["voice_states"] = []any{}
		g["stage_instances"] = []any{}
		g["guild_scheduled_events"] = []any{}
	}
	return g
}

// userRef renders a user for error messages in panics of test helpers.
func (s *Server) mustMemberLocked(fn, userID string) {
	if _, ok := s.state.members[userID]; !ok {
		panic(fmt.Sprintf("discordtest: %s: user %q is not a guild member (use AddMember)", fn, userID))
	}
}

// normalizeChannelName applies Discord's rules for text-like channel names:
// lower case, whitespace runs become "-".
func normalizeChannelName(typ int, name string) string {
	name = strings.TrimSpace(name)
	switch typ {
	case ChannelTypeText, ChannelTypeAnnouncement, ChannelTypeForum:
		name = strings.ToLower(strings.Join(strings.Fields(name), "-"))
	}
	return name
}

func rawOr(r json.RawMessage, def string) json.RawMessage {
	if len(r) == 0 {
		return json.RawMessage(def)
	}
	return r
}
