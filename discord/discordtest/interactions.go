package discordtest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"
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
