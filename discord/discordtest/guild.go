package discordtest

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

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
