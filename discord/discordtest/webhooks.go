package discordtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

func (s *Server) webhookURL(w *Webhook) string {
	return s.URL + "/api/webhooks/" + w.ID + "/" + w.Token
}

func (s *Server) getChannelWebhooks(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.state.channels[r.PathValue("channel")]
	if ch == nil {
		return errUnknownChannel()
	}
	if !s.botHas(PermManageWebhooks) {
		return errMissingPerms()
	}
	out := []Webhook{}
	for _, id := range s.state.whOrder {
		if wh := s.state.webhooks[id]; wh.ChannelID == ch.ID {
			out = append(out, *wh)
		}
	}
	writeJSON(w, 200, out)
	return nil
}

func (s *Server) getGuildWebhooks(w http.ResponseWriter, r *http.Request) *apiError {
	if e := s.guildOK(r); e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.botHas(PermManageWebhooks) {
		return errMissingPerms()
	}
	out := []Webhook{}
	for _, id := range s.state.whOrder {
		out = append(out, *s.state.webhooks[id])
	}
	writeJSON(w, 200, out)
	return nil
}

type webhookPayload struct {
	Name      *string `json:"name"`
	Avatar    *string `json:"avatar"`
	ChannelID *string `json:"channel_id"`
}

// avatarHash turns an avatar data URI into a stable fake hash.
func avatarHash(data string) string {
	if data == "" {
		return ""
	}
	var h uint64 = 1469598103934665603
	for i := 0; i < len(data); i++ {
		h ^= uint64(data[i])
		h *= 1099511628211
	}
	return fmt.Sprintf("%016x%016x", h, h^0x9e3779b97f4a7c15)
}

func (s *Server) postWebhook(w http.ResponseWriter, r *http.Request) *apiError {
	var p webhookPayload
	if e := decodeJSON(readBody(r), &p); e != nil {
		return e
	}
	var f formErrors
	if p.Name == nil {
		f.add("name", "BASE_TYPE_REQUIRED", "This field is required")
	} else {
		validateWebhookName(&f, "name", *p.Name)
	}
	if e := f.err(); e != nil {
		return e
	}
	s.mu.Lock()
	ch := s.state.channels[r.PathValue("channel")]
	if ch == nil {
		s.mu.Unlock()
		return errUnknownChannel()
	}
	if !s.botHas(PermManageWebhooks) {
		s.mu.Unlock()
		return errMissingPerms()
	}
	switch ch.Type {
	case ChannelTypeText, ChannelTypeAnnouncement, ChannelTypeVoice, ChannelTypeForum, 16:
	default:
		s.mu.Unlock()
		return errf(400, 50024, "Cannot execute action on this channel type")
	}
	perChannel := 0
	for _, wh := range s.state.webhooks {
		if wh.ChannelID == ch.ID {
			perChannel++
		}
	}
	if perChannel >= MaxWebhooksPerChannel {
		s.mu.Unlock()
		return errf(400, 30007, fmt.Sprintf("Maximum number of webhooks reached (%d)", MaxWebhooksPerChannel))
	}
	if len(s.state.webhooks) >= MaxWebhooksPerGuild {
		s.mu.Unlock()
		return errf(400, 30058, fmt.Sprintf("Maximum number of webhooks per guild reached (%d)", MaxWebhooksPerGuild))
	}
	bot := *s.state.users[s.BotUserID]
	id := s.nextID()
	wh := &Webhook{
		ID: id, Type: 1, GuildID: s.GuildID, ChannelID: ch.ID, Name: *p.Name,
		Token: "whtok-" + id + "-" + avatarHash(id)[:20], ApplicationID: s.ApplicationID, User: &bot,
	}
	if p.Avatar != nil {
		wh.Avatar = avatarHash(*p.Avatar)
	}
	wh.URL = s.webhookURL(wh)
	s.state.webhooks[id] = wh
	s.state.whOrder = append(s.state.whOrder, id)
	out := *wh
	s.mu.Unlock()
	s.dispatch("WEBHOOKS_UPDATE", IntentGuilds, map[string]string{"guild_id": s.GuildID, "channel_id": out.ChannelID})
	writeJSON(w, 200, out)
	return nil
}

// lookupWebhookLocked finds a webhook; with token it checks the token.
func (s *Server) lookupWebhookLocked(r *http.Request, withToken bool) (*Webhook, *apiError) {
	wh := s.state.webhooks[r.PathValue("webhook")]
	if wh == nil {
		return nil, errUnknownWebhook()
	}
	if withToken && r.PathValue("token") != wh.Token {
		return nil, errf(401, 50027, "Invalid Webhook Token")
	}
	return wh, nil
}

func (s *Server) getWebhook(withToken bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) *apiError {
		s.mu.Lock()
		defer s.mu.Unlock()
		wh, e := s.lookupWebhookLocked(r, withToken)
		if e != nil {
			return e
		}
		out := *wh
		if withToken {
			out.User = nil
		}
		writeJSON(w, 200, out)
		return nil
	}
}

func (s *Server) patchWebhook(withToken bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) *apiError {
		var p webhookPayload
		if e := decodeJSON(readBody(r), &p); e != nil {
			return e
		}
		var f formErrors
		if p.Name != nil {
			validateWebhookName(&f, "name", *p.Name)
		}
		if e := f.err(); e != nil {
			return e
		}
		s.mu.Lock()
		wh, e := s.lookupWebhookLocked(r, withToken)
		if e != nil {
			s.mu.Unlock()
			return e
		}
		if p.Name != nil {
			wh.Name = *p.Name
		}
		if p.Avatar != nil {
			wh.Avatar = avatarHash(*p.Avatar)
		}
		if p.ChannelID != nil && !withToken {
			ch := s.state.channels[*p.ChannelID]
			if ch == nil || ch.IsThread() {
				s.mu.Unlock()
				return formErr("channel_id", "CHANNEL_INVALID", "Unknown channel")
			}
			wh.ChannelID = ch.ID
		}
		out := *wh
		s.mu.Unlock()
		writeJSON(w, 200, out)
		return nil
	}
}

func (s *Server) deleteWebhook(withToken bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) *apiError {
		s.mu.Lock()
		wh, e := s.lookupWebhookLocked(r, withToken)
		if e != nil {
			s.mu.Unlock()
			return e
		}
		delete(s.state.webhooks, wh.ID)
		for i, id := range s.state.whOrder {
			if id == wh.ID {
				s.state.whOrder = append(s.state.whOrder[:i:i], s.state.whOrder[i+1:]...)
				break
			}
		}
		s.mu.Unlock()
		s.dispatch("WEBHOOKS_UPDATE", IntentGuilds, map[string]string{"guild_id": s.GuildID, "channel_id": wh.ChannelID})
		writeNoContent(w)
		return nil
	}
}

// DeleteWebhook deletes a webhook as an admin would in the client.
func (s *Server) DeleteWebhook(id string) {
	s.mu.Lock()
	wh := s.state.webhooks[id]
	if wh != nil {
		delete(s.state.webhooks, id)
		for i, x := range s.state.whOrder {
			if x == id {
				s.state.whOrder = append(s.state.whOrder[:i:i], s.state.whOrder[i+1:]...)
				break
			}
		}
	}
	s.mu.Unlock()
	if wh != nil {
		s.dispatch("WEBHOOKS_UPDATE", IntentGuilds, map[string]string{"guild_id": s.GuildID, "channel_id": wh.ChannelID})
	}
}

func (s *Server) executeWebhook(w http.ResponseWriter, r *http.Request) *apiError {
	if r.PathValue("webhook") == s.ApplicationID {
		return s.interactionFollowup(w, r)
	}
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
	q := r.URL.Query()
	wait := strings.EqualFold(q.Get("wait"), "true") || q.Get("wait") == "1"
	threadID := q.Get("thread_id")

	s.mu.Lock()
	wh, e := s.lookupWebhookLocked(r, true)
	if e != nil {
		s.mu.Unlock()
		return e
	}
	parent := s.state.channels[wh.ChannelID]
	if parent == nil {
		s.mu.Unlock()
		return errUnknownChannel()
	}
	target := parent
	var newThread, unarchived *Channel
	isForum := parent.Type == ChannelTypeForum || parent.Type == 16
	switch {
	case threadID != "":
		t := s.state.channels[threadID]
		if t == nil || !t.IsThread() || t.ParentID != parent.ID {
			s.mu.Unlock()
			return errUnknownChannel()
		}
		if t.ThreadMetadata.Locked {
			s.mu.Unlock()
			return errf(400, 50083, "Thread is archived")
		}
		if t.ThreadMetadata.Archived {
			t.ThreadMetadata.Archived = false
			c := copyChannel(t)
			unarchived = &c
		}
		target = t
	case p.ThreadName != "":
		if !isForum {
			s.mu.Unlock()
			return errf(400, 220003, "Webhooks can only create threads in forum channels")
		}
	case isForum:
		s.mu.Unlock()
		return errf(400, 220001, "Webhooks posted to forum channels must have a thread_name or thread_id")
	}
	author := User{ID: wh.ID, Username: wh.Name, Avatar: wh.Avatar, Discriminator: "0000", Bot: true}
	if p.Username != "" {
		author.Username = p.Username
	}
	if p.AvatarURL != "" {
		author.Avatar = avatarHash(p.AvatarURL)
	}
	presetID := ""
	if threadID == "" && p.ThreadName != "" {
		var f formErrors
		validateChannelName(&f, p.ThreadName)
		if e := f.err(); e != nil {
			s.mu.Unlock()
			return e
		}
		presetID = s.nextID()
		target = s.newThreadLocked(parent, presetID, p.ThreadName, ChannelTypePublicThread, 0, p.AppliedTags)
		target.OwnerID = wh.ID
		c := copyChannel(target)
		newThread = &c
	}
	flags := 0
	if p.Flags != nil {
		flags = *p.Flags & FlagSuppressEmbeds
	}
	m, e := s.buildMessageLocked(newMessage{
		channel: target, author: author, webhookID: wh.ID, payload: &p, allowed: am, uploads: ups,
		flags: flags, avatarURL: p.AvatarURL, id: presetID,
	})
	if e != nil {
		if newThread != nil {
			s.removeChannelLocked(newThread.ID)
		}
		s.mu.Unlock()
		return e
	}
	out := copyMessage(m)
	s.mu.Unlock()
	if newThread != nil {
		s.dispatch("THREAD_CREATE", IntentGuilds, threadCreate(*newThread))
	}
	if unarchived != nil {
		s.dispatch("THREAD_UPDATE", IntentGuilds, *unarchived)
	}
	s.dispatchMessage("MESSAGE_CREATE", out)
	if !wait {
		writeNoContent(w)
		return nil
	}
	writeJSON(w, 200, out)
	return nil
}

// webhookMessage serves GET/PATCH/DELETE /webhooks/{id}/{token}/messages/{message}.
func (s *Server) webhookMessage(method string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) *apiError {
		if r.PathValue("webhook") == s.ApplicationID {
			return s.interactionMessage(method, w, r)
		}
		var raw json.RawMessage
		var ups []upload
		if method == http.MethodPatch {
			var e *apiError
			if raw, ups, e = s.parseBody(r, readBody(r)); e != nil {
				return e
			}
		}
		s.mu.Lock()
		wh, e := s.lookupWebhookLocked(r, true)
		if e != nil {
			s.mu.Unlock()
			return e
		}
		chID := wh.ChannelID
		if t := r.URL.Query().Get("thread_id"); t != "" {
			chID = t
		}
		m := s.findMessageLocked(chID, r.PathValue("message"))
		if m == nil || m.WebhookID != wh.ID {
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
			out := copyMessage(m)
			s.mu.Unlock()
			s.dispatchMessage("MESSAGE_UPDATE", out)
			writeJSON(w, 200, out)
		case http.MethodDelete:
			s.removeMessageLocked(m)
			s.mu.Unlock()
			s.dispatch("MESSAGE_DELETE", IntentGuildMessages, map[string]string{"id": m.ID, "channel_id": m.ChannelID, "guild_id": s.GuildID})
			writeNoContent(w)
		}
		return nil
	}
}
