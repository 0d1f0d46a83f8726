package discordtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

// Interaction types and callback types (Discord's numbering).
const (
	InteractionPing               = 1
	InteractionApplicationCommand = 2
	InteractionMessageComponent   = 3
	InteractionModalSubmit        = 5

	CallbackPong                   = 1
	CallbackChannelMessage         = 4
	CallbackDeferredChannelMessage = 5
	CallbackDeferredUpdateMessage  = 6
	CallbackUpdateMessage          = 7
	CallbackModal                  = 9
)

// followupLifetime is how long an interaction token accepts followups.
const followupLifetime = 15 * time.Minute

// Interaction is a handle on an interaction the test started with
// InvokeCommand, SubmitModal or ClickButton.
type Interaction struct {
	ID        string
	Token     string
	Type      int
	Name      string // command name (type 2) or custom_id (types 3 and 5)
	ChannelID string
	UserID    string
	MessageID string // the message a clicked component is on (type 3)

	s       *Server
	created time.Time
	done    chan struct{} // closed at the first callback

	// guarded by s.mu
	resp      *InteractionResponse
	original  *Message
	followups []*Message
}

// InteractionResponse is what the bot answered in its initial callback.
type InteractionResponse struct {
	Type            int // 4 message, 5 deferred, 6 deferred update, 7 update, 9 modal
	Content         string
	Flags           int
	Embeds          []Embed
	Attachments     []Attachment
	Components      json.RawMessage
	AllowedMentions *AllowedMentions
	CustomID        string // modal
	Title           string // modal
}

// Ephemeral reports whether the response was flagged ephemeral (64).
func (r InteractionResponse) Ephemeral() bool { return r.Flags&FlagEphemeral != 0 }

// Response waits for the bot's initial callback and returns it.
func (i *Interaction) Response(ctx context.Context) (InteractionResponse, error) {
	select {
	case <-i.done:
	case <-ctx.Done():
		return InteractionResponse{}, fmt.Errorf("discordtest: no callback for interaction %s (%s): %w", i.ID, i.Name, ctx.Err())
	}
	i.s.mu.Lock()
	defer i.s.mu.Unlock()
	r := *i.resp
	r.Embeds = slices.Clone(r.Embeds)
	r.Attachments = slices.Clone(r.Attachments)
	return r, nil
}

// Responded reports whether the initial callback arrived.
func (i *Interaction) Responded() bool {
	select {
	case <-i.done:
		return true
	default:
		return false
	}
}

// Original returns the current state of the response message (after any
// PATCH .../messages/@original), ephemeral or not.
func (i *Interaction) Original() (Message, bool) {
	i.s.mu.Lock()
	defer i.s.mu.Unlock()
	if i.original == nil {
		return Message{}, false
	}
	return copyMessage(i.original), true
}

// Followups returns the followup messages, oldest first.
func (i *Interaction) Followups() []Message {
	i.s.mu.Lock()
	defer i.s.mu.Unlock()
	out := make([]Message, 0, len(i.followups))
	for _, m := range i.followups {
		out = append(out, copyMessage(m))
	}
	return out
}

// InvokeCommand has a member run a slash command in the admin channel; see
// InvokeCommandIn.
func (s *Server) InvokeCommand(userID, name string, options map[string]any) *Interaction {
	return s.InvokeCommandIn(s.AdminChannelID, userID, name, options)
}

// InvokeCommandIn dispatches INTERACTION_CREATE (type 2) for a member
// running /name in a channel. Option types come from the registered command
// when there is one, otherwise from the Go values (string 3, int 4, bool 5,
// float64 10). The returned handle's Response waits for the callback. With
// no gateway session connected nothing is delivered, as on Discord, and
// Response times out.
// It panics if the user is not a member or the channel does not exist.
func (s *Server) InvokeCommandIn(channelID, userID, name string, options map[string]any) *Interaction {
	s.mu.Lock()
	s.mustMemberLocked("InvokeCommand", userID)
	var declared json.RawMessage
	cmdID := ""
	for _, id := range s.state.cmdOrder {
		if c := s.state.commands[id]; c.Name == name && c.Type == 1 {
			cmdID, declared = c.ID, c.Options
		}
	}
	if cmdID == "" {
		cmdID = s.nextID()
	}
	res := resolved{users: map[string]User{}, members: map[string]any{}, roles: map[string]Role{}, channels: map[string]Channel{}}
	opts := s.buildOptionsLocked(declared, options, &res)
	data := map[string]any{"id": cmdID, "name": name, "type": 1, "options": opts, "guild_id": s.GuildID}
	if len(res.users)+len(res.roles)+len(res.channels) > 0 {
		data["resolved"] = map[string]any{"users": res.users, "members": res.members, "roles": res.roles, "channels": res.channels}
	}
	s.mu.Unlock()
	return s.startInteraction(InteractionApplicationCommand, channelID, userID, name, "", data, nil)
}

type resolved struct {
	users    map[string]User
	members  map[string]any
	roles    map[string]Role
	channels map[string]Channel
}

// buildOptionsLocked turns a Go option map into interaction options. Types
// come from the declared options of the registered command when present,
// else from the Go values; a map[string]any value is a subcommand (type 1,
// or 2 when declared as a group) holding nested options. User (6), channel
// (7), role (8) and mentionable (9) values are ids and are added to resolved.
func (s *Server) buildOptionsLocked(declaredRaw json.RawMessage, values map[string]any, res *resolved) []map[string]any {
	type decl struct {
		Name    string          `json:"name"`
		Type    int             `json:"type"`
		Options json.RawMessage `json:"options"`
	}
	var decls []decl
	_ = json.Unmarshal(declaredRaw, &decls)
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []map[string]any{}
	for _, k := range keys {
		v := values[k]
		var d *decl
		for i := range decls {
			if decls[i].Name == k {
				d = &decls[i]
			}
		}
		t := 0
		if d != nil {
			t = d.Type
		}
		if nested, ok := v.(map[string]any); ok {
			if t != 2 {
				t = 1
			}
			var nd json.RawMessage
			if d != nil {
				nd = d.Options
			}
			out = append(out, map[string]any{"name": k, "type": t, "options": s.buildOptionsLocked(nd, nested, res)})
			continue
		}
		if t == 0 {
			switch v.(type) {
			case bool:
				t = 5
			case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
				t = 4
			case float64, float32:
				t = 10
			default:
				t = 3
			}
		}
		id := fmt.Sprint(v)
		if t == 6 || t == 9 {
			if u, ok := s.state.users[id]; ok {
				res.users[id] = *u
				if m := s.memberLocked(id); m != nil {
					m.User = nil
					res.members[id] = m
				}
			}
		}
		if r, ok := s.state.roles[id]; ok && (t == 8 || t == 9) {
			res.roles[id] = *r
		}
		if c, ok := s.state.channels[id]; ok && t == 7 {
			res.channels[id] = copyChannel(c)
		}
		out = append(out, map[string]any{"name": k, "type": t, "value": v})
	}
	return out
}

// SubmitModal dispatches a modal submit (type 5) in the admin channel: one
// text input per values entry, keyed by custom_id.
func (s *Server) SubmitModal(userID, customID string, values map[string]string) *Interaction {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rows := []any{}
	for _, k := range keys {
		rows = append(rows, map[string]any{"type": 1, "components": []any{
			map[string]any{"type": 4, "custom_id": k, "value": values[k]},
		}})
	}
	s.mu.Lock()
	s.mustMemberLocked("SubmitModal", userID)
	s.mu.Unlock()
	data := map[string]any{"custom_id": customID, "components": rows}
	return s.startInteraction(InteractionModalSubmit, s.AdminChannelID, userID, customID, "", data, nil)
}

// ClickButton dispatches a button click (type 3) on a message.
func (s *Server) ClickButton(channelID, messageID, userID, customID string) *Interaction {
	s.mu.Lock()
	s.mustMemberLocked("ClickButton", userID)
	m := s.findMessageLocked(channelID, messageID)
	if m == nil {
		s.mu.Unlock()
		panic(fmt.Sprintf("discordtest: ClickButton: no message %s in channel %s", messageID, channelID))
	}
	msg := copyMessage(m)
	s.mu.Unlock()
	data := map[string]any{"custom_id": customID, "component_type": 2}
	return s.startInteraction(InteractionMessageComponent, channelID, userID, customID, messageID, data, &msg)
}

func (s *Server) startInteraction(typ int, channelID, userID, name, messageID string, data map[string]any, msg *Message) *Interaction {
	s.mu.Lock()
	ch := s.state.channels[channelID]
	if ch == nil {
		s.mu.Unlock()
		panic(fmt.Sprintf("discordtest: interaction: unknown channel %q", channelID))
	}
	id := s.nextID()
	it := &Interaction{
		ID: id, Token: "itok-" + id + "-" + avatarHash(id)[:24], Type: typ, Name: name,
		ChannelID: channelID, UserID: userID, MessageID: messageID,
		s: s, created: time.Now(), done: make(chan struct{}),
	}
	s.state.inters[id] = it
	s.state.byToken[it.Token] = it
	member := map[string]any{}
	_ = json.Unmarshal(mustJSON(s.memberLocked(userID)), &member)
	member["permissions"] = strconv.FormatInt(s.permsLocked(userID), 10)
	payload := map[string]any{
		"id":                             id,
		"application_id":                 s.ApplicationID,
		"type":                           typ,
		"data":                           data,
		"guild_id":                       s.GuildID,
		"channel_id":                     channelID,
		"channel":                        copyChannel(ch),
		"member":                         member,
		"token":                          it.Token,
		"version":                        1,
		"app_permissions":                strconv.FormatInt(s.permsLocked(s.BotUserID), 10),
		"locale":                         "en-US",
		"guild_locale":                   "en-US",
		"context":                        0,
		"authorizing_integration_owners": map[string]string{"0": s.GuildID},
		"entitlements":                   []any{},
	}
	if msg != nil {
		payload["message"] = msg
	}
	s.mu.Unlock()
	s.dispatch("INTERACTION_CREATE", 0, payload)
	return it
}

// Interactions returns every interaction started so far (oldest first).
func (s *Server) Interactions() []*Interaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Interaction, 0, len(s.state.inters))
	for _, it := range s.state.inters {
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool { return cmpID(out[i].ID, out[j].ID) < 0 })
	return out
}

type callbackPayload struct {
	Type *int            `json:"type"`
	Data json.RawMessage `json:"data"`
}

func (s *Server) interactionCallback(w http.ResponseWriter, r *http.Request) *apiError {
	raw, ups, e := s.parseBody(r, readBody(r))
	if e != nil {
		return e
	}
	var cb callbackPayload
	if e := decodeJSON(raw, &cb); e != nil {
		return e
	}
	if cb.Type == nil {
		return formErr("type", "BASE_TYPE_REQUIRED", "This field is required")
	}
	var p msgPayload
	if nonEmptyJSON(cb.Data) {
		if e := decodeJSON(cb.Data, &p); e != nil {
			return e
		}
	}
	if *cb.Type == CallbackChannelMessage {
		if e := validateMessage(&p, len(ups), true); e != nil {
			return e
		}
	}
	s.mu.Lock()
	it := s.state.inters[r.PathValue("interaction")]
	if it == nil || it.Token != r.PathValue("token") || time.Since(it.created) > s.cfg.interactionTimeout {
		s.mu.Unlock()
		return errf(404, 10062, "Unknown interaction")
	}
	if it.resp != nil {
		s.mu.Unlock()
		return errf(400, 40060, "Interaction has already been acknowledged.")
	}
	allowedTypes := []int{CallbackChannelMessage, CallbackDeferredChannelMessage, CallbackModal}
	if it.Type == InteractionMessageComponent {
		allowedTypes = append(allowedTypes, CallbackDeferredUpdateMessage, CallbackUpdateMessage)
	}
	if it.Type == InteractionModalSubmit {
		allowedTypes = []int{CallbackChannelMessage, CallbackDeferredChannelMessage, CallbackDeferredUpdateMessage, CallbackUpdateMessage}
	}
	if !slices.Contains(allowedTypes, *cb.Type) {
		s.mu.Unlock()
		return formErr("type", "INTERACTION_RESPONSE_TYPE_INVALID", fmt.Sprintf("Interaction response type %d is not valid for interaction type %d", *cb.Type, it.Type))
	}
	flags := 0
	if p.Flags != nil {
		flags = *p.Flags
	}
	resp := &InteractionResponse{Type: *cb.Type, Flags: flags, Embeds: slices.Clone(p.Embeds), Components: slices.Clone(p.Components),
		CustomID: p.CustomID, Title: p.Title}
	if p.Content != nil {
		resp.Content = *p.Content
	}
	var created *Message
	switch *cb.Type {
	case CallbackChannelMessage, CallbackDeferredChannelMessage:
		if *cb.Type == CallbackDeferredChannelMessage {
			p = msgPayload{Flags: p.Flags}
			flags = (flags & FlagEphemeral) | FlagLoading
		}
		am, e := parseAllowed(p.AllowedMentions)
		if e != nil {
			s.mu.Unlock()
			return e
		}
		m, e := s.interactionMessageLocked(it, &p, am, ups, flags)
		if e != nil {
			s.mu.Unlock()
			return e
		}
		it.original = m
		resp.Attachments = slices.Clone(m.Attachments)
		if m.AllowedMentions != nil {
			resp.AllowedMentions = m.AllowedMentions
		}
		c := copyMessage(m)
		created = &c
	case CallbackUpdateMessage:
		if m := s.findMessageLocked(it.ChannelID, it.MessageID); m != nil {
			if e := s.editMessageLocked(m, cb.Data, ups); e != nil {
				s.mu.Unlock()
				return e
			}
			c := copyMessage(m)
			s.mu.Unlock()
			s.dispatchMessage("MESSAGE_UPDATE", c)
			s.mu.Lock()
		}
	case CallbackModal:
		var f formErrors
		if p.CustomID == "" {
			f.add("data.custom_id", "BASE_TYPE_REQUIRED", "This field is required")
		}
		if l := utf8.RuneCountInString(p.Title); l < 1 || l > 45 {
			f.add("data.title", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45 in length.")
		}
		if !nonEmptyJSON(p.Components) {
			f.add("data.components", "BASE_TYPE_REQUIRED", "This field is required")
		}
		if e := f.err(); e != nil {
			s.mu.Unlock()
			return e
		}
	}
	it.resp = resp
	close(it.done)
	s.mu.Unlock()
	if created != nil {
		s.dispatchMessage("MESSAGE_CREATE", *created)
	}
	writeNoContent(w)
	return nil
}

// interactionMessageLocked creates a response or followup message.
func (s *Server) interactionMessageLocked(it *Interaction, p *msgPayload, am *allowed, ups []upload, flags int) (*Message, *apiError) {
	ch := s.state.channels[it.ChannelID]
	if ch == nil {
		return nil, errUnknownChannel()
	}
	u := *s.state.users[it.UserID]
	typ := 20
	if it.Type != InteractionApplicationCommand {
		typ = 0
	}
	return s.buildMessageLocked(newMessage{
		channel: ch, author: *s.state.users[s.BotUserID], webhookID: s.ApplicationID, appID: s.ApplicationID,
		payload: p, allowed: am, uploads: ups, typ: typ, flags: flags & (FlagEphemeral | FlagLoading | FlagSuppressEmbeds),
		interaction: &MessageInteraction{ID: it.ID, Type: it.Type, Name: it.Name, User: u},
		ephemeral:   flags&FlagEphemeral != 0,
	})
}

// lookupInteractionLocked finds an interaction by its token for followups.
func (s *Server) lookupInteractionLocked(r *http.Request) (*Interaction, *apiError) {
	it := s.state.byToken[r.PathValue("token")]
	if it == nil || time.Since(it.created) > followupLifetime {
		return nil, errUnknownWebhook()
	}
	if it.resp == nil {
		return nil, errUnknownWebhook()
	}
	return it, nil
}

func (s *Server) interactionFollowup(w http.ResponseWriter, r *http.Request) *apiError {
	raw, ups, e := s.parseBody(r, readBody(r))
	if e != nil {
		return e
	}
	var p msgPayload
	if e := decodeJSON(raw, &p); e != nil {
		return e
	}
	if e := validateMessage(&p, len(ups), true); e != nil {
		return e
	}
	am, e := parseAllowed(p.AllowedMentions)
	if e != nil {
		return e
	}
	s.mu.Lock()
	it, e := s.lookupInteractionLocked(r)
	if e != nil {
		s.mu.Unlock()
		return e
	}
	var m *Message
	event := "MESSAGE_CREATE"
	if it.original != nil && it.original.Flags&FlagLoading != 0 {
		// The first followup after a deferred response replaces the
		// "thinking" message, as on Discord.
		if e := s.editMessageLocked(it.original, raw, ups); e != nil {
			s.mu.Unlock()
			return e
		}
		it.original.Flags &^= FlagLoading
		m = it.original
		event = "MESSAGE_UPDATE"
	} else {
		flags := 0
		if p.Flags != nil {
			flags = *p.Flags
		}
		m, e = s.interactionMessageLocked(it, &p, am, ups, flags)
		if e != nil {
			s.mu.Unlock()
			return e
		}
		it.followups = append(it.followups, m)
	}
	out := copyMessage(m)
	s.mu.Unlock()
	s.dispatchMessage(event, out)
	writeJSON(w, 200, out)
	return nil
}

// interactionMessage serves GET/PATCH/DELETE on @original and followups.
func (s *Server) interactionMessage(method string, w http.ResponseWriter, r *http.Request) *apiError {
	var raw json.RawMessage
	var ups []upload
	if method == http.MethodPatch {
		var e *apiError
		if raw, ups, e = s.parseBody(r, readBody(r)); e != nil {
			return e
		}
	}
	s.mu.Lock()
	it, e := s.lookupInteractionLocked(r)
	if e != nil {
		s.mu.Unlock()
		return e
	}
	var m *Message
	if id := r.PathValue("message"); id == "@original" {
		m = it.original
	} else {
		for _, f := range it.followups {
			if f.ID == id {
				m = f
			}
		}
	}
	if m == nil {
		s.mu.Unlock()
		return errUnknownMessage()
	}
	switch method {
	case http.MethodGet:
		out := copyMessage(m)
		s.mu.Unlock()
		writeJSON(w, 200, out)
	case http.MethodPatch:
		if e := s.editMessageLocked(m, raw, ups); e != nil {
			s.mu.Unlock()
			return e
		}
		m.Flags &^= FlagLoading
		out := copyMessage(m)
		s.mu.Unlock()
		s.dispatchMessage("MESSAGE_UPDATE", out)
		writeJSON(w, 200, out)
	case http.MethodDelete:
		if !m.Ephemeral {
			s.removeMessageLocked(m)
		}
		if m == it.original {
			it.original = nil
		} else {
			it.followups = slices.DeleteFunc(it.followups, func(x *Message) bool { return x == m })
		}
		s.mu.Unlock()
		if !m.Ephemeral {
			s.dispatch("MESSAGE_DELETE", IntentGuildMessages, map[string]string{"id": m.ID, "channel_id": m.ChannelID, "guild_id": s.GuildID})
		}
		writeNoContent(w)
	}
	return nil
}

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
