package discordtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// routes registers every REST route (paths without the /api/vN prefix).
func (s *Server) routes() {
	s.handle("GET /gateway", false, s.getGateway(false))
	s.handle("GET /gateway/bot", true, s.getGateway(true))
	s.handle("GET /users/@me", true, s.getMe)
	s.handle("GET /users/{user}", true, s.getUser)
	s.handle("GET /applications/@me", true, s.getApplication)
	s.handle("GET /oauth2/applications/@me", true, s.getApplication)

	s.handle("GET /guilds/{guild}", true, s.getGuild)
	s.handle("GET /guilds/{guild}/channels", true, s.getGuildChannels)
	s.handle("POST /guilds/{guild}/channels", true, s.postGuildChannel)
	s.handle("PATCH /guilds/{guild}/channels", true, s.patchGuildChannelPositions)
	s.handle("GET /guilds/{guild}/roles", true, s.getRoles)
	s.handle("POST /guilds/{guild}/roles", true, s.postRole)
	s.handle("DELETE /guilds/{guild}/roles/{role}", true, s.deleteRole)
	s.handle("PUT /guilds/{guild}/members/{user}/roles/{role}", true, s.memberRole(true))
	s.handle("DELETE /guilds/{guild}/members/{user}/roles/{role}", true, s.memberRole(false))
	s.handle("GET /guilds/{guild}/members", true, s.getMembers)
	s.handle("GET /guilds/{guild}/members/search", true, s.searchMembers)
	s.handle("GET /guilds/{guild}/members/{user}", true, s.getMember)
	s.handle("GET /guilds/{guild}/webhooks", true, s.getGuildWebhooks)
	s.handle("GET /guilds/{guild}/threads/active", true, s.getActiveThreads)

	s.handle("GET /channels/{channel}", true, s.getChannel)
	s.handle("PATCH /channels/{channel}", true, s.patchChannel)
	s.handle("DELETE /channels/{channel}", true, s.deleteChannel)
	s.handle("POST /channels/{channel}/typing", true, s.postTyping)
	s.handle("PUT /channels/{channel}/permissions/{overwrite}", true, s.putOverwrite)
	s.handle("DELETE /channels/{channel}/permissions/{overwrite}", true, s.deleteOverwrite)
	s.handle("GET /channels/{channel}/messages", true, s.getMessages)
	s.handle("POST /channels/{channel}/messages", true, s.postMessage)
	s.handle("GET /channels/{channel}/messages/{message}", true, s.getMessage)
	s.handle("PATCH /channels/{channel}/messages/{message}", true, s.patchMessage)
	s.handle("DELETE /channels/{channel}/messages/{message}", true, s.deleteMessage)
	s.handle("PUT /channels/{channel}/messages/{message}/reactions/{emoji}/@me", true, s.reaction(true))
	s.handle("DELETE /channels/{channel}/messages/{message}/reactions/{emoji}/@me", true, s.reaction(false))
	s.handle("POST /channels/{channel}/messages/{message}/threads", true, s.postMessageThread)
	s.handle("POST /channels/{channel}/threads", true, s.postThread)
	s.handle("GET /channels/{channel}/threads/archived/public", true, s.getArchivedThreads)
	s.handle("PUT /channels/{channel}/thread-members/@me", true, s.joinThread)
	s.handle("PUT /channels/{channel}/pins/{message}", true, s.pin(true))
	s.handle("DELETE /channels/{channel}/pins/{message}", true, s.pin(false))
	s.handle("GET /channels/{channel}/webhooks", true, s.getChannelWebhooks)
	s.handle("POST /channels/{channel}/webhooks", true, s.postWebhook)

	s.handle("GET /webhooks/{webhook}", true, s.getWebhook(false))
	s.handle("PATCH /webhooks/{webhook}", true, s.patchWebhook(false))
	s.handle("DELETE /webhooks/{webhook}", true, s.deleteWebhook(false))
	s.handle("GET /webhooks/{webhook}/{token}", false, s.getWebhook(true))
	s.handle("PATCH /webhooks/{webhook}/{token}", false, s.patchWebhook(true))
	s.handle("DELETE /webhooks/{webhook}/{token}", false, s.deleteWebhook(true))
	s.handle("POST /webhooks/{webhook}/{token}", false, s.executeWebhook)
	s.handle("GET /webhooks/{webhook}/{token}/messages/{message}", false, s.webhookMessage(http.MethodGet))
	s.handle("PATCH /webhooks/{webhook}/{token}/messages/{message}", false, s.webhookMessage(http.MethodPatch))
	s.handle("DELETE /webhooks/{webhook}/{token}/messages/{message}", false, s.webhookMessage(http.MethodDelete))

	s.handle("POST /interactions/{interaction}/{token}/callback", false, s.interactionCallback)

	s.handle("GET /applications/{app}/commands", true, s.getCommands(false))
	s.handle("PUT /applications/{app}/commands", true, s.putCommands(false))
	s.handle("POST /applications/{app}/commands", true, s.postCommand(false))
	s.handle("DELETE /applications/{app}/commands/{command}", true, s.deleteCommand(false))
	s.handle("GET /applications/{app}/guilds/{guild}/commands", true, s.getCommands(true))
	s.handle("PUT /applications/{app}/guilds/{guild}/commands", true, s.putCommands(true))
	s.handle("POST /applications/{app}/guilds/{guild}/commands", true, s.postCommand(true))
	s.handle("DELETE /applications/{app}/guilds/{guild}/commands/{command}", true, s.deleteCommand(true))
}

// ---- gateway discovery, users, application ----

func (s *Server) getGateway(bot bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) *apiError {
		if !bot {
			writeJSON(w, 200, map[string]string{"url": s.GatewayURL()})
			return nil
		}
		remaining := max(0, 1000-s.Identifies())
		writeJSON(w, 200, map[string]any{
			"url":    s.GatewayURL(),
			"shards": 1,
			"session_start_limit": map[string]int{
				"total": 1000, "remaining": remaining, "reset_after": 86400000, "max_concurrency": 1,
			},
		})
		return nil
	}
}

func (s *Server) getMe(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	u := *s.state.users[s.BotUserID]
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{
		"id": u.ID, "username": u.Username, "discriminator": u.Discriminator, "global_name": nil,
		"avatar": nil, "bot": true, "verified": true, "mfa_enabled": true, "flags": 0, "locale": "en-US",
	})
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	u, ok := s.state.users[r.PathValue("user")]
	var out User
	if ok {
		out = *u
	}
	s.mu.Unlock()
	if !ok {
		return errUnknownUser()
	}
	writeJSON(w, 200, out)
	return nil
}

func (s *Server) getApplication(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	u := *s.state.users[s.BotUserID]
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{
		"id": s.ApplicationID, "name": u.Username, "description": "", "icon": nil,
		"bot_public": false, "bot_require_code_grant": false, "bot": u,
		"flags":      1 << 19, // GATEWAY_MESSAGE_CONTENT_LIMITED
		"verify_key": "0000000000000000000000000000000000000000000000000000000000000000",
		"owner":      map[string]any{"id": s.AdminUserID, "username": "admin", "discriminator": "0"},
	})
	return nil
}

// ---- guild ----

func (s *Server) guildOK(r *http.Request) *apiError {
	if r.PathValue("guild") != s.GuildID {
		return errUnknownGuild()
	}
	return nil
}

func (s *Server) getGuild(w http.ResponseWriter, r *http.Request) *apiError {
	if e := s.guildOK(r); e != nil {
		return e
	}
	s.mu.Lock()
	g := s.guildJSONLocked(false)
	if r.URL.Query().Get("with_counts") == "true" {
		g["approximate_member_count"] = len(s.state.memberIDs)
		g["approximate_presence_count"] = 0
	}
	s.mu.Unlock()
	writeJSON(w, 200, g)
	return nil
}

func (s *Server) getRoles(w http.ResponseWriter, r *http.Request) *apiError {
	if e := s.guildOK(r); e != nil {
		return e
	}
	s.mu.Lock()
	roles := s.rolesLocked()
	s.mu.Unlock()
	writeJSON(w, 200, roles)
	return nil
}

func (s *Server) postRole(w http.ResponseWriter, r *http.Request) *apiError {
	if e := s.guildOK(r); e != nil {
		return e
	}
	var p struct {
		Name        string `json:"name"`
		Permissions *int64 `json:"permissions,string"`
		Color       int    `json:"color"`
		Hoist       bool   `json:"hoist"`
		Mentionable bool   `json:"mentionable"`
	}
	if e := decodeJSON(readBody(r), &p); e != nil {
		return e
	}
	if utf8.RuneCountInString(p.Name) > 100 {
		return formErr("name", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
	}
	if p.Name == "" {
		p.Name = "new role"
	}
	s.mu.Lock()
	if !s.botHas(PermManageRoles) {
		s.mu.Unlock()
		return errMissingPerms()
	}
	perms := s.state.roles[s.GuildID].Permissions
	if p.Permissions != nil {
		perms = *p.Permissions
	}
	id := s.addRoleLocked(p.Name, perms)
	role := s.state.roles[id]
	role.Color, role.Hoist, role.Mentionable = p.Color, p.Hoist, p.Mentionable
	out := *role
	s.mu.Unlock()
	s.dispatch("GUILD_ROLE_CREATE", IntentGuilds, map[string]any{"guild_id": s.GuildID, "role": out})
	writeJSON(w, 200, out)
	return nil
}

func (s *Server) deleteRole(w http.ResponseWriter, r *http.Request) *apiError {
	if e := s.guildOK(r); e != nil {
		return e
	}
	id := r.PathValue("role")
	s.mu.Lock()
	role := s.state.roles[id]
	if role == nil {
		s.mu.Unlock()
		return errf(404, 10011, "Unknown Role")
	}
	if !s.botHas(PermManageRoles) || role.Managed || id == s.GuildID {
		s.mu.Unlock()
		return errMissingPerms()
	}
	delete(s.state.roles, id)
	for _, m := range s.state.members {
		m.Roles = slices.DeleteFunc(m.Roles, func(x string) bool { return x == id })
	}
	s.mu.Unlock()
	s.dispatch("GUILD_ROLE_DELETE", IntentGuilds, map[string]any{"guild_id": s.GuildID, "role_id": id})
	writeNoContent(w)
	return nil
}

func (s *Server) memberRole(add bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) *apiError {
		if e := s.guildOK(r); e != nil {
			return e
		}
		uid, rid := r.PathValue("user"), r.PathValue("role")
		s.mu.Lock()
		m := s.state.members[uid]
		if m == nil {
			s.mu.Unlock()
			return errUnknownMember()
		}
		if _, ok := s.state.roles[rid]; !ok {
			s.mu.Unlock()
			return errf(404, 10011, "Unknown Role")
		}
		if !s.botHas(PermManageRoles) {
			s.mu.Unlock()
			return errMissingPerms()
		}
		has := slices.Contains(m.Roles, rid)
		switch {
		case add && !has:
			m.Roles = append(m.Roles, rid)
		case !add && has:
			m.Roles = slices.DeleteFunc(m.Roles, func(x string) bool { return x == rid })
		}
		ev := s.memberWithGuildLocked(uid)
		s.mu.Unlock()
		if add != has {
			s.dispatch("GUILD_MEMBER_UPDATE", IntentGuildMembers, ev)
		}
		writeNoContent(w)
		return nil
	}
}

func (s *Server) getMembers(w http.ResponseWriter, r *http.Request) *apiError {
	if e := s.guildOK(r); e != nil {
		return e
	}
	q := r.URL.Query()
	limit := 1
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return formErr("limit", "NUMBER_TYPE_MAX", "int value should be between 1 and 1000.")
		}
		limit = n
	}
	after, _ := strconv.ParseInt(q.Get("after"), 10, 64)
	s.mu.Lock()
	ids := slices.Clone(s.state.memberIDs)
	slices.SortFunc(ids, func(a, b string) int { return cmpID(a, b) })
	out := []*Member{}
	for _, id := range ids {
		n, _ := strconv.ParseInt(id, 10, 64)
		if n > after && len(out) < limit {
			out = append(out, s.memberLocked(id))
		}
	}
	s.mu.Unlock()
	writeJSON(w, 200, out)
	return nil
}

func cmpID(a, b string) int {
	x, _ := strconv.ParseInt(a, 10, 64)
	y, _ := strconv.ParseInt(b, 10, 64)
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func (s *Server) searchMembers(w http.ResponseWriter, r *http.Request) *apiError {
	if e := s.guildOK(r); e != nil {
		return e
	}
	query := r.URL.Query().Get("query")
	if query == "" {
		return formErr("query", "BASE_TYPE_REQUIRED", "This field is required")
	}
	s.mu.Lock()
	out := []*Member{}
	for _, id := range s.state.memberIDs {
		u := s.state.users[id]
		m := s.state.members[id]
		if hasPrefixFold(u.Username, query) || hasPrefixFold(u.GlobalName, query) || hasPrefixFold(m.Nick, query) {
			out = append(out, s.memberLocked(id))
		}
	}
	s.mu.Unlock()
	writeJSON(w, 200, out)
	return nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func (s *Server) getMember(w http.ResponseWriter, r *http.Request) *apiError {
	if e := s.guildOK(r); e != nil {
		return e
	}
	s.mu.Lock()
	m := s.memberLocked(r.PathValue("user"))
	s.mu.Unlock()
	if m == nil {
		return errUnknownMember()
	}
	writeJSON(w, 200, m)
	return nil
}

// ---- channels ----

func (s *Server) getGuildChannels(w http.ResponseWriter, r *http.Request) *apiError {
	if e := s.guildOK(r); e != nil {
		return e
	}
	s.mu.Lock()
	out := []Channel{}
	for _, id := range s.state.chanOrder {
		if c := s.state.channels[id]; !c.IsThread() {
			out = append(out, copyChannel(c))
		}
	}
	s.mu.Unlock()
	writeJSON(w, 200, out)
	return nil
}

type channelPayload struct {
	Name                 *string     `json:"name"`
	Type                 *int        `json:"type"`
	Topic                *string     `json:"topic"`
	ParentID             *string     `json:"parent_id"`
	Position             *int        `json:"position"`
	NSFW                 *bool       `json:"nsfw"`
	PermissionOverwrites []Overwrite `json:"permission_overwrites"`
	RateLimitPerUser     *int        `json:"rate_limit_per_user"`
	AvailableTags        []ForumTag  `json:"available_tags"`
	// threads
	Archived            *bool    `json:"archived"`
	Locked              *bool    `json:"locked"`
	AutoArchiveDuration *int     `json:"auto_archive_duration"`
	AppliedTags         []string `json:"applied_tags"`
	Invitable           *bool    `json:"invitable"`
}

func validateChannelName(f *formErrors, name string) {
	if l := utf8.RuneCountInString(name); l < 1 || l > 100 {
		f.add("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
	}
}

func validateTopic(f *formErrors, typ int, topic string) {
	limit := 1024
	if typ == ChannelTypeForum {
		limit = 4096
	}
	if utf8.RuneCountInString(topic) > limit {
		f.add("topic", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", limit))
	}
}

// countLocked returns the guild's non-thread channel count and the number
// of channels under parentID.
func (s *Server) countLocked(parentID string) (guild, parent int) {
	for _, c := range s.state.channels {
		if c.IsThread() {
			continue
		}
		guild++
		if parentID != "" && c.ParentID == parentID {
			parent++
		}
	}
	return
}

// checkParentLocked validates parent_id for a channel of type typ.
func (s *Server) checkParentLocked(f *formErrors, typ int, parentID string) {
	if parentID == "" {
		return
	}
	p, ok := s.state.channels[parentID]
	switch {
	case typ == ChannelTypeCategory:
		f.add("parent_id", "CHANNEL_PARENT_INVALID_TYPE", "Categories cannot have subcategories")
	case !ok:
		f.add("parent_id", "CHANNEL_PARENT_INVALID", "Invalid channel parent")
	case p.Type != ChannelTypeCategory:
		f.add("parent_id", "CHANNEL_PARENT_INVALID_TYPE", "Not a category")
	default:
		if _, n := s.countLocked(parentID); n >= MaxChannelsPerCategory {
			f.add("parent_id", "CHANNEL_PARENT_MAX_CHANNELS",
				fmt.Sprintf("Maximum number of channels in category reached (%d)", MaxChannelsPerCategory))
		}
	}
}

func (s *Server) postGuildChannel(w http.ResponseWriter, r *http.Request) *apiError {
	if e := s.guildOK(r); e != nil {
		return e
	}
	var p channelPayload
	if e := decodeJSON(readBody(r), &p); e != nil {
		return e
	}
	typ := ChannelTypeText
	if p.Type != nil {
		typ = *p.Type
	}
	var f formErrors
	name := ""
	if p.Name == nil {
		f.add("name", "BASE_TYPE_REQUIRED", "This field is required")
	} else {
		name = normalizeChannelName(typ, *p.Name)
		validateChannelName(&f, name)
	}
	switch typ {
	case ChannelTypeText, ChannelTypeVoice, ChannelTypeCategory, ChannelTypeAnnouncement, 13, ChannelTypeForum, 16:
	default:
		f.add("type", "BASE_TYPE_CHOICES", "Value must be one of {0, 2, 4, 5, 13, 15, 16}.")
	}
	if p.Topic != nil {
		validateTopic(&f, typ, *p.Topic)
	}
	s.mu.Lock()
	if !s.botHas(PermManageChannels) {
		s.mu.Unlock()
		return errMissingPerms()
	}
	parent := ""
	if p.ParentID != nil {
		parent = *p.ParentID
	}
	s.checkParentLocked(&f, typ, parent)
	if e := f.err(); e != nil {
		s.mu.Unlock()
		return e
	}
	if n, _ := s.countLocked(""); n >= s.maxChannels() {
		s.mu.Unlock()
		return errf(400, 30013, fmt.Sprintf("Maximum number of guild channels reached (%d)", s.maxChannels()))
	}
	ows := p.PermissionOverwrites
	if len(ows) > 0 && s.state.refuseOverwrites {
		s.mu.Unlock()
		return errMissingPerms()
	}
	if ows == nil && parent != "" {
		// Discord syncs a channel made in a category without overwrites
		// of its own to the category's.
		ows = slices.Clone(s.state.channels[parent].PermissionOverwrites)
	} else if !s.overwritesWithinLocked(parent, ows) {
		// At creation Manage Roles is not needed, but only permissions
		// the bot has itself may be allowed or denied.
		s.mu.Unlock()
		return errMissingPerms()
	}
	ch := Channel{Type: typ, Name: name, ParentID: parent, PermissionOverwrites: ows, AvailableTags: p.AvailableTags}
	if p.Topic != nil {
		ch.Topic = *p.Topic
	}
	if p.NSFW != nil {
		ch.NSFW = *p.NSFW
	}
	if p.RateLimitPerUser != nil {
		ch.RateLimitPerUser = *p.RateLimitPerUser
	}
	if p.Position != nil {
		ch.Position = *p.Position
	} else {
		for _, c := range s.state.channels {
			if !c.IsThread() && c.ParentID == parent {
				ch.Position++
			}
		}
	}
	for i := range ch.AvailableTags {
		if ch.AvailableTags[i].ID == "" {
			ch.AvailableTags[i].ID = s.nextID()
		}
	}
	id := s.addChannelLocked(ch)
	out := copyChannel(s.state.channels[id])
	s.mu.Unlock()
	s.dispatch("CHANNEL_CREATE", IntentGuilds, out)
	writeJSON(w, 201, out)
	return nil
}

func (s *Server) patchGuildChannelPositions(w http.ResponseWriter, r *http.Request) *apiError {
	if e := s.guildOK(r); e != nil {
		return e
	}
	var ps []struct {
		ID       string  `json:"id"`
		Position *int    `json:"position"`
		ParentID *string `json:"parent_id"`
	}
	if e := decodeJSON(readBody(r), &ps); e != nil {
		return e
	}
	s.mu.Lock()
	if !s.botHas(PermManageChannels) {
		s.mu.Unlock()
		return errMissingPerms()
	}
	var updated []Channel
	for i, p := range ps {
		c := s.state.channels[p.ID]
		if c == nil || c.IsThread() {
			s.mu.Unlock()
			return formErr(fmt.Sprintf("%d.id", i), "CHANNEL_INVALID", "Unknown channel")
		}
		if p.Position != nil {
			c.Position = *p.Position
		}
		if p.ParentID != nil {
			c.ParentID = *p.ParentID
		}
		updated = append(updated, copyChannel(c))
	}
	s.mu.Unlock()
	for _, c := range updated {
		s.dispatch("CHANNEL_UPDATE", IntentGuilds, c)
	}
	writeNoContent(w)
	return nil
}

func (s *Server) getChannel(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	cp := s.state.channels[r.PathValue("channel")]
	var c Channel
	if cp != nil {
		c = copyChannel(cp)
	}
	visible := cp != nil && s.botCanLocked(cp, PermViewChannel)
	s.mu.Unlock()
	if cp == nil {
		return errUnknownChannel()
	}
	if !visible {
		return errMissingAccess()
	}
	writeJSON(w, 200, c)
	return nil
}

func (s *Server) patchChannel(w http.ResponseWriter, r *http.Request) *apiError {
	body := readBody(r)
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return errInvalidJSON()
	}
	var p channelPayload
	if e := decodeJSON(body, &p); e != nil {
		return e
	}
	s.mu.Lock()
	c := s.state.channels[r.PathValue("channel")]
	if c == nil {
		s.mu.Unlock()
		return errUnknownChannel()
	}
	if !s.botHas(PermManageChannels) && !(c.IsThread() && s.botHas(PermManageThreads)) {
		s.mu.Unlock()
		return errMissingPerms()
	}
	next := copyChannel(c)
	var f formErrors
	if p.Name != nil {
		next.Name = normalizeChannelName(c.Type, *p.Name)
		validateChannelName(&f, next.Name)
	}
	if _, ok := obj["topic"]; ok {
		next.Topic = ""
		if p.Topic != nil {
			next.Topic = *p.Topic
		}
		validateTopic(&f, c.Type, next.Topic)
	}
	if v, ok := obj["parent_id"]; ok && !c.IsThread() {
		np := ""
		if string(v) != "null" && p.ParentID != nil {
			np = *p.ParentID
		}
		if np != c.ParentID {
			s.checkParentLocked(&f, c.Type, np)
		}
		next.ParentID = np
	}
	if p.Position != nil {
		next.Position = *p.Position
	}
	if p.NSFW != nil {
		next.NSFW = *p.NSFW
	}
	if p.RateLimitPerUser != nil {
		next.RateLimitPerUser = *p.RateLimitPerUser
	}
	if _, ok := obj["permission_overwrites"]; ok {
		if !s.botHas(PermManageRoles) || !s.overwritesWithinLocked(next.ParentID, p.PermissionOverwrites) {
			s.mu.Unlock()
			return errMissingPerms()
		}
		next.PermissionOverwrites = slices.Clone(p.PermissionOverwrites)
		if next.PermissionOverwrites == nil {
			next.PermissionOverwrites = []Overwrite{}
		}
	}
	if p.AvailableTags != nil {
		next.AvailableTags = p.AvailableTags
		for i := range next.AvailableTags {
			if next.AvailableTags[i].ID == "" {
				next.AvailableTags[i].ID = s.nextID()
			}
		}
	}
	if c.IsThread() {
		tm := next.ThreadMetadata
		if p.Archived != nil && *p.Archived != tm.Archived {
			tm.Archived = *p.Archived
			tm.ArchiveTimestamp = time.Now().UTC()
		}
		if p.Locked != nil {
			tm.Locked = *p.Locked
		}
		if p.AutoArchiveDuration != nil {
			tm.AutoArchiveDuration = *p.AutoArchiveDuration
		}
		if p.AppliedTags != nil {
			next.AppliedTags = p.AppliedTags
		}
	}
	if e := f.err(); e != nil {
		s.mu.Unlock()
		return e
	}
	*c = next
	out := copyChannel(c)
	s.mu.Unlock()
	if out.IsThread() {
		s.dispatch("THREAD_UPDATE", IntentGuilds, out)
	} else {
		s.dispatch("CHANNEL_UPDATE", IntentGuilds, out)
	}
	writeJSON(w, 200, out)
	return nil
}

func (s *Server) deleteChannel(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	c := s.state.channels[r.PathValue("channel")]
	if c == nil {
		s.mu.Unlock()
		return errUnknownChannel()
	}
	if !s.botHas(PermManageChannels) && !(c.IsThread() && s.botHas(PermManageThreads)) {
		s.mu.Unlock()
		return errMissingPerms()
	}
	out := copyChannel(c)
	var orphaned []Channel
	var threads []Channel
	for _, id := range s.state.chanOrder {
		o := s.state.channels[id]
		if o.ParentID != c.ID {
			continue
		}
		if o.IsThread() {
			threads = append(threads, copyChannel(o))
		} else {
			o.ParentID = ""
			orphaned = append(orphaned, copyChannel(o))
		}
	}
	s.removeChannelLocked(c.ID)
	for _, t := range threads {
		s.removeChannelLocked(t.ID)
	}
	s.mu.Unlock()
	for _, o := range orphaned {
		s.dispatch("CHANNEL_UPDATE", IntentGuilds, o)
	}
	for _, t := range threads {
		s.dispatch("THREAD_DELETE", IntentGuilds, map[string]any{"id": t.ID, "guild_id": s.GuildID, "parent_id": t.ParentID, "type": t.Type})
	}
	if out.IsThread() {
		s.dispatch("THREAD_DELETE", IntentGuilds, map[string]any{"id": out.ID, "guild_id": s.GuildID, "parent_id": out.ParentID, "type": out.Type})
	} else {
		s.dispatch("CHANNEL_DELETE", IntentGuilds, out)
	}
	writeJSON(w, 200, out)
	return nil
}

func (s *Server) removeChannelLocked(id string) {
	delete(s.state.channels, id)
	delete(s.state.messages, id)
	s.state.chanOrder = slices.DeleteFunc(s.state.chanOrder, func(x string) bool { return x == id })
	for wid, wh := range s.state.webhooks {
		if wh.ChannelID == id {
			delete(s.state.webhooks, wid)
		}
	}
	s.state.whOrder = slices.DeleteFunc(s.state.whOrder, func(x string) bool { _, ok := s.state.webhooks[x]; return !ok })
}

// DeleteChannel deletes a channel as a guild admin would in the client
// (dispatches CHANNEL_DELETE); its messages and webhooks go with it.
func (s *Server) DeleteChannel(id string) {
	s.mu.Lock()
	c := s.state.channels[id]
	if c == nil {
		s.mu.Unlock()
		return
	}
	out := copyChannel(c)
	s.removeChannelLocked(id)
	s.mu.Unlock()
	if out.IsThread() {
		s.dispatch("THREAD_DELETE", IntentGuilds, map[string]any{"id": out.ID, "guild_id": s.GuildID, "parent_id": out.ParentID, "type": out.Type})
	} else {
		s.dispatch("CHANNEL_DELETE", IntentGuilds, out)
	}
}

func (s *Server) postTyping(w http.ResponseWriter, r *http.Request) *apiError {
	if _, ok := s.Channel(r.PathValue("channel")); !ok {
		return errUnknownChannel()
	}
	writeNoContent(w)
	return nil
}

func (s *Server) putOverwrite(w http.ResponseWriter, r *http.Request) *apiError {
	var o Overwrite
	if e := decodeJSON(readBody(r), &o); e != nil {
		return e
	}
	o.ID = r.PathValue("overwrite")
	s.mu.Lock()
	c := s.state.channels[r.PathValue("channel")]
	if c == nil {
		s.mu.Unlock()
		return errUnknownChannel()
	}
	if !s.botHas(PermManageRoles) || !s.overwritesWithinLocked(c.ParentID, []Overwrite{o}) {
		s.mu.Unlock()
		return errMissingPerms()
	}
	c.PermissionOverwrites = slices.DeleteFunc(c.PermissionOverwrites, func(x Overwrite) bool { return x.ID == o.ID })
	c.PermissionOverwrites = append(c.PermissionOverwrites, o)
	out := copyChannel(c)
	s.mu.Unlock()
	s.dispatch("CHANNEL_UPDATE", IntentGuilds, out)
	writeNoContent(w)
	return nil
}

func (s *Server) deleteOverwrite(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	c := s.state.channels[r.PathValue("channel")]
	if c == nil {
		s.mu.Unlock()
		return errUnknownChannel()
	}
	if !s.botHas(PermManageRoles) {
		s.mu.Unlock()
		return errMissingPerms()
	}
	id := r.PathValue("overwrite")
	c.PermissionOverwrites = slices.DeleteFunc(c.PermissionOverwrites, func(x Overwrite) bool { return x.ID == id })
	out := copyChannel(c)
	s.mu.Unlock()
	s.dispatch("CHANNEL_UPDATE", IntentGuilds, out)
	writeNoContent(w)
	return nil
}

func (s *Server) pin(on bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) *apiError {
		s.mu.Lock()
		defer s.mu.Unlock()
		m := s.findMessageLocked(r.PathValue("channel"), r.PathValue("message"))
		if m == nil {
			return errUnknownMessage()
		}
		m.Pinned = on
		writeNoContent(w)
		return nil
	}
}

// ---- threads ----

type threadPayload struct {
	Name                string          `json:"name"`
	Type                *int            `json:"type"`
	AutoArchiveDuration int             `json:"auto_archive_duration"`
	Invitable           *bool           `json:"invitable"`
	RateLimitPerUser    int             `json:"rate_limit_per_user"`
	AppliedTags         []string        `json:"applied_tags"`
	Message             json.RawMessage `json:"message"`
}

func (s *Server) newThreadLocked(parent *Channel, id, name string, typ, archive int, tags []string) *Channel {
	if archive == 0 {
		archive = 4320
	}
	t := Channel{
		ID: id, Type: typ, Name: name, ParentID: parent.ID, OwnerID: s.BotUserID, AppliedTags: tags,
		ThreadMetadata: &ThreadMetadata{AutoArchiveDuration: archive, ArchiveTimestamp: time.Now().UTC()},
		MemberCount:    1,
	}
	s.addChannelLocked(t)
	return s.state.channels[id]
}

func (s *Server) postThread(w http.ResponseWriter, r *http.Request) *apiError {
	raw, ups, e := s.parseBody(r, readBody(r))
	if e != nil {
		return e
	}
	var p threadPayload
	if e := decodeJSON(raw, &p); e != nil {
		return e
	}
	var f formErrors
	validateChannelName(&f, p.Name)
	if e := f.err(); e != nil {
		return e
	}
	s.mu.Lock()
	parent := s.state.channels[r.PathValue("channel")]
	if parent == nil {
		s.mu.Unlock()
		return errUnknownChannel()
	}
	switch parent.Type {
	case ChannelTypeForum, 16:
		s.mu.Unlock()
		if !nonEmptyJSON(p.Message) {
			return formErr("message", "BASE_TYPE_REQUIRED", "This field is required")
		}
		var mp msgPayload
		if e := decodeJSON(p.Message, &mp); e != nil {
			return e
		}
		if e := validateMessage(&mp, len(ups), true); e != nil {
			return e
		}
		am, e := parseAllowed(mp.AllowedMentions)
		if e != nil {
			return e
		}
		s.mu.Lock()
		parent = s.state.channels[r.PathValue("channel")]
		if parent == nil {
			s.mu.Unlock()
			return errUnknownChannel()
		}
		id := s.nextID()
		t := s.newThreadLocked(parent, id, p.Name, ChannelTypePublicThread, p.AutoArchiveDuration, p.AppliedTags)
		m, e := s.buildMessageLocked(newMessage{channel: t, author: *s.state.users[s.BotUserID], payload: &mp, allowed: am, uploads: ups, id: id})
		if e != nil {
			s.removeChannelLocked(id)
			s.mu.Unlock()
			return e
		}
		thread, msg := copyChannel(t), copyMessage(m)
		s.mu.Unlock()
		s.dispatch("THREAD_CREATE", IntentGuilds, threadCreate(thread))
		s.dispatchMessage("MESSAGE_CREATE", msg)
		out := map[string]any{}
		_ = json.Unmarshal(mustJSON(thread), &out)
		out["message"] = msg
		writeJSON(w, 201, out)
		return nil
	case ChannelTypeText, ChannelTypeAnnouncement:
		typ := ChannelTypePrivateThread
		if parent.Type == ChannelTypeAnnouncement {
			typ = ChannelTypeAnnounceThread
		}
		if p.Type != nil {
			typ = *p.Type
		}
		if typ != ChannelTypePublicThread && typ != ChannelTypePrivateThread && typ != ChannelTypeAnnounceThread {
			s.mu.Unlock()
			return formErr("type", "BASE_TYPE_CHOICES", "Value must be one of {10, 11, 12}.")
		}
		t := s.newThreadLocked(parent, s.nextID(), p.Name, typ, p.AutoArchiveDuration, nil)
		thread := copyChannel(t)
		s.mu.Unlock()
		s.dispatch("THREAD_CREATE", IntentGuilds, threadCreate(thread))
		writeJSON(w, 201, thread)
		return nil
	default:
		s.mu.Unlock()
		return errf(400, 50024, "Cannot execute action on this channel type")
	}
}

func threadCreate(c Channel) map[string]any {
	out := map[string]any{}
	_ = json.Unmarshal(mustJSON(c), &out)
	out["newly_created"] = true
	return out
}

func (s *Server) postMessageThread(w http.ResponseWriter, r *http.Request) *apiError {
	var p threadPayload
	if e := decodeJSON(readBody(r), &p); e != nil {
		return e
	}
	var f formErrors
	validateChannelName(&f, p.Name)
	if e := f.err(); e != nil {
		return e
	}
	s.mu.Lock()
	parent := s.state.channels[r.PathValue("channel")]
	if parent == nil {
		s.mu.Unlock()
		return errUnknownChannel()
	}
	if parent.Type != ChannelTypeText && parent.Type != ChannelTypeAnnouncement {
		s.mu.Unlock()
		return errf(400, 50024, "Cannot execute action on this channel type")
	}
	m := s.findMessageLocked(parent.ID, r.PathValue("message"))
	if m == nil {
		s.mu.Unlock()
		return errUnknownMessage()
	}
	if m.Thread != nil {
		s.mu.Unlock()
		return errf(400, 160004, "A thread has already been created for this message")
	}
	typ := ChannelTypePublicThread
	if parent.Type == ChannelTypeAnnouncement {
		typ = ChannelTypeAnnounceThread
	}
	t := s.newThreadLocked(parent, m.ID, p.Name, typ, p.AutoArchiveDuration, nil)
	thread := copyChannel(t)
	m.Thread = &thread
	s.mu.Unlock()
	s.dispatch("THREAD_CREATE", IntentGuilds, threadCreate(thread))
	writeJSON(w, 201, thread)
	return nil
}

func (s *Server) getActiveThreads(w http.ResponseWriter, r *http.Request) *apiError {
	if e := s.guildOK(r); e != nil {
		return e
	}
	s.mu.Lock()
	threads := []Channel{}
	for _, id := range s.state.chanOrder {
		if c := s.state.channels[id]; c.IsThread() && !c.ThreadMetadata.Archived {
			threads = append(threads, copyChannel(c))
		}
	}
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"threads": threads, "members": []any{}})
	return nil
}

func (s *Server) getArchivedThreads(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	parent := s.state.channels[r.PathValue("channel")]
	if parent == nil {
		s.mu.Unlock()
		return errUnknownChannel()
	}
	threads := []Channel{}
	for _, id := range s.state.chanOrder {
		if c := s.state.channels[id]; c.IsThread() && c.ParentID == parent.ID && c.ThreadMetadata.Archived {
			threads = append(threads, copyChannel(c))
		}
	}
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"threads": threads, "members": []any{}, "has_more": false})
	return nil
}

func (s *Server) joinThread(w http.ResponseWriter, r *http.Request) *apiError {
	c, ok := s.Channel(r.PathValue("channel"))
	if !ok {
		return errUnknownChannel()
	}
	if !c.IsThread() {
		return errf(400, 50024, "Cannot execute action on this channel type")
	}
	writeNoContent(w)
	return nil
}
