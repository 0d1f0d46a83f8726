package discordtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"
)

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
