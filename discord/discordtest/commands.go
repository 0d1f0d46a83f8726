package discordtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"unicode/utf8"
)

// ---- application commands ----

var commandNameRE = regexp.MustCompile(`^[-_\p{Ll}\p{N}\p{Lo}]{1,32}$`)

type commandPayload struct {
	Name                     string          `json:"name"`
	Description              string          `json:"description"`
	Type                     int             `json:"type"`
	Options                  json.RawMessage `json:"options"`
	DefaultMemberPermissions *string         `json:"default_member_permissions"`
}

func validateCommand(f *formErrors, prefix string, c commandPayload) {
	typ := c.Type
	if typ == 0 {
		typ = 1
	}
	if typ == 1 && !commandNameRE.MatchString(c.Name) {
		f.add(prefix+"name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
	}
	if typ != 1 && (utf8.RuneCountInString(c.Name) < 1 || utf8.RuneCountInString(c.Name) > 32) {
		f.add(prefix+"name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
	}
	if typ == 1 {
		if l := utf8.RuneCountInString(c.Description); l < 1 || l > 100 {
			f.add(prefix+"description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
		}
	}
	if nonEmptyJSON(c.Options) {
		var opts []json.RawMessage
		if json.Unmarshal(c.Options, &opts) != nil {
			f.add(prefix+"options", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
		} else if len(opts) > 25 {
			f.add(prefix+"options", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
		}
	}
}

func (s *Server) appOK(r *http.Request, guild bool) *apiError {
	if r.PathValue("app") != s.ApplicationID {
		return errMissingAccess()
	}
	if guild && r.PathValue("guild") != s.GuildID {
		return errMissingAccess()
	}
	return nil
}

func (s *Server) commandsLocked(guild bool) []Command {
	out := []Command{}
	for _, id := range s.state.cmdOrder {
		c := s.state.commands[id]
		if (c.GuildID != "") == guild {
			out = append(out, *c)
		}
	}
	return out
}

func (s *Server) getCommands(guild bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) *apiError {
		if e := s.appOK(r, guild); e != nil {
			return e
		}
		s.mu.Lock()
		out := s.commandsLocked(guild)
		s.mu.Unlock()
		writeJSON(w, 200, out)
		return nil
	}
}

// upsertCommandLocked stores a command, keeping the id of an existing one
// with the same name and type.
func (s *Server) upsertCommandLocked(guild bool, p commandPayload) Command {
	typ := p.Type
	if typ == 0 {
		typ = 1
	}
	gid := ""
	if guild {
		gid = s.GuildID
	}
	for _, id := range s.state.cmdOrder {
		c := s.state.commands[id]
		if c.GuildID == gid && c.Name == p.Name && c.Type == typ {
			c.Description, c.Options, c.DefaultMemberPermissions = p.Description, rawOr(p.Options, "[]"), p.DefaultMemberPermissions
			c.Version = s.nextID()
			return *c
		}
	}
	id := s.nextID()
	c := &Command{ID: id, Type: typ, ApplicationID: s.ApplicationID, GuildID: gid, Name: p.Name,
		Description: p.Description, Options: rawOr(p.Options, "[]"), DefaultMemberPermissions: p.DefaultMemberPermissions, Version: id}
	s.state.commands[id] = c
	s.state.cmdOrder = append(s.state.cmdOrder, id)
	return *c
}

func (s *Server) putCommands(guild bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) *apiError {
		if e := s.appOK(r, guild); e != nil {
			return e
		}
		var ps []commandPayload
		if e := decodeJSON(readBody(r), &ps); e != nil {
			return e
		}
		var f formErrors
		if len(ps) > 100 {
			f.add("_root", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
		}
		seen := map[string]bool{}
		for i, p := range ps {
			validateCommand(&f, fmt.Sprintf("%d.", i), p)
			key := fmt.Sprintf("%d/%s", max(p.Type, 1), p.Name)
			if seen[key] {
				f.add(fmt.Sprintf("%d.name", i), "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique")
			}
			seen[key] = true
		}
		if e := f.err(); e != nil {
			return e
		}
		s.mu.Lock()
		keep := map[string]bool{}
		out := []Command{}
		for _, p := range ps {
			c := s.upsertCommandLocked(guild, p)
			keep[c.ID] = true
			out = append(out, c)
		}
		for _, id := range slices.Clone(s.state.cmdOrder) {
			c := s.state.commands[id]
			if (c.GuildID != "") == guild && !keep[id] {
				delete(s.state.commands, id)
				s.state.cmdOrder = slices.DeleteFunc(s.state.cmdOrder, func(x string) bool { return x == id })
			}
		}
		s.mu.Unlock()
		writeJSON(w, 200, out)
		return nil
	}
}

func (s *Server) postCommand(guild bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) *apiError {
		if e := s.appOK(r, guild); e != nil {
			return e
		}
		var p commandPayload
		if e := decodeJSON(readBody(r), &p); e != nil {
			return e
		}
		var f formErrors
		validateCommand(&f, "", p)
		if e := f.err(); e != nil {
			return e
		}
		s.mu.Lock()
		c := s.upsertCommandLocked(guild, p)
		s.mu.Unlock()
		writeJSON(w, 201, c)
		return nil
	}
}

func (s *Server) deleteCommand(guild bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) *apiError {
		if e := s.appOK(r, guild); e != nil {
			return e
		}
		id := r.PathValue("command")
		s.mu.Lock()
		defer s.mu.Unlock()
		c := s.state.commands[id]
		if c == nil || (c.GuildID != "") != guild {
			return errf(404, 10063, "Unknown application command")
		}
		delete(s.state.commands, id)
		s.state.cmdOrder = slices.DeleteFunc(s.state.cmdOrder, func(x string) bool { return x == id })
		writeNoContent(w)
		return nil
	}
}
