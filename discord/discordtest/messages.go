package discordtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// newMessage describes a message to store.
type newMessage struct {
	channel     *Channel
	author      User
	webhookID   string
	appID       string
	payload     *msgPayload
	allowed     *allowed
	uploads     []upload
	typ         int
	flags       int
	avatarURL   string
	interaction *MessageInteraction
	ephemeral   bool
	id          string // preset id (forum starter message == thread id)
}

// buildMessageLocked validates references and builds (and, unless
// ephemeral, stores) a message. Content/embed validation is done by callers.
func (s *Server) buildMessageLocked(n newMessage) (*Message, *apiError) {
	p := n.payload
	var replyTo *Message
	var ref *MessageReference
	if p.MessageReference != nil && p.MessageReference.MessageID != "" {
		r := *p.MessageReference
		if r.ChannelID == "" {
			r.ChannelID = n.channel.ID
		}
		r.GuildID = s.GuildID
		replyTo = s.findMessageLocked(r.ChannelID, r.MessageID)
		if replyTo == nil {
			if r.FailIfNotExists == nil || *r.FailIfNotExists {
				return nil, formErr("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
			}
		} else {
			ref = &r
		}
	}
	id := n.id
	if id == "" {
		id = s.nextID()
	}
	content := ""
	if p.Content != nil {
		content = *p.Content
	}
	m := &Message{
		ID:               id,
		ChannelID:        n.channel.ID,
		GuildID:          s.GuildID,
		Author:           n.author,
		Content:          content,
		Timestamp:        time.Now().UTC(),
		TTS:              p.TTS,
		Embeds:           slices.Clone(p.Embeds),
		WebhookID:        n.webhookID,
		ApplicationID:    n.appID,
		Type:             n.typ,
		Flags:            n.flags,
		MessageReference: ref,
		AvatarURL:        n.avatarURL,
		Interaction:      n.interaction,
		Ephemeral:        n.ephemeral,
		Mentions:         []User{},
		MentionRoles:     []string{},
	}
	if m.Embeds == nil {
		m.Embeds = []Embed{}
	}
	for i := range m.Embeds {
		if m.Embeds[i].Type == "" {
			m.Embeds[i].Type = "rich"
		}
	}
	if nonEmptyJSON(p.Components) {
		m.Components = slices.Clone(p.Components)
	}
	if nonEmptyJSON(p.Poll) {
		m.Poll = slices.Clone(p.Poll)
	}
	if replyTo != nil {
		m.Type = 19
		rm := copyMessage(replyTo)
		rm.ReferencedMessage = nil
		m.ReferencedMessage = &rm
	}
	m.Attachments = s.attachmentsLocked(m.ChannelID, n.uploads, p.Attachments)
	if n.allowed != nil {
		m.AllowedMentions = n.allowed.rec
	}
	m.Pinged = s.pingsLocked(content, n.allowed, n.author.ID, replyTo)
	s.applyMentionsLocked(m)
	if !n.ephemeral {
		s.storeMessageLocked(m)
	}
	return m, nil
}

func (s *Server) applyMentionsLocked(m *Message) {
	m.Mentions = []User{}
	for _, id := range m.Pinged.Users {
		if u, ok := s.state.users[id]; ok {
			m.Mentions = append(m.Mentions, *u)
		}
	}
	m.MentionRoles = append([]string{}, m.Pinged.Roles...)
	m.MentionEveryone = m.Pinged.Everyone
}

func (s *Server) storeMessageLocked(m *Message) {
	s.state.messages[m.ChannelID] = append(s.state.messages[m.ChannelID], m)
	if ch := s.state.channels[m.ChannelID]; ch != nil {
		ch.LastMessageID = m.ID
		if ch.IsThread() {
			ch.MessageCount++
		}
	}
}

// canSendIn reports whether messages may be posted in a channel type.
func canSendIn(c *Channel) bool {
	switch c.Type {
	case ChannelTypeText, ChannelTypeAnnouncement, ChannelTypeVoice,
		ChannelTypeAnnounceThread, ChannelTypePublicThread, ChannelTypePrivateThread:
		return true
	}
	return false
}

// ---- REST: channel messages ----

func (s *Server) getMessages(w http.ResponseWriter, r *http.Request) *apiError {
	q := r.URL.Query()
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return formErr("limit", "NUMBER_TYPE_COERCE", fmt.Sprintf("Value \"%s\" is not int.", v))
		}
		if n < 1 || n > 100 {
			return formErr("limit", "NUMBER_TYPE_MAX", "int value should be between 1 and 100.")
		}
		limit = n
	}
	parse := func(k string) (int64, bool, *apiError) {
		v := q.Get(k)
		if v == "" {
			return 0, false, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, false, formErr(k, "NUMBER_TYPE_COERCE", fmt.Sprintf("Value \"%s\" is not snowflake.", v))
		}
		return n, true, nil
	}
	before, hasBefore, e1 := parse("before")
	after, hasAfter, e2 := parse("after")
	around, hasAround, e3 := parse("around")
	for _, e := range []*apiError{e1, e2, e3} {
		if e != nil {
			return e
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.state.channels[r.PathValue("channel")]
	if ch == nil {
		return errUnknownChannel()
	}
	if !canSendIn(ch) {
		return errf(400, 50008, "Cannot send messages in a non-text channel")
	}
	if !s.botCanLocked(ch, PermViewChannel) {
		return errMissingAccess()
	}
	if !s.botCanLocked(ch, PermReadMessageHistory) {
		writeJSON(w, 200, []Message{}) // Discord shows no history then
		return nil
	}
	all := s.state.messages[ch.ID]
	idOf := func(m *Message) int64 { n, _ := strconv.ParseInt(m.ID, 10, 64); return n }
	var sel []*Message // oldest first
	switch {
	case hasAround:
		idx := len(all)
		for i, m := range all {
			if idOf(m) >= around {
				idx = i
				break
			}
		}
		lo := max(0, idx-limit/2)
		hi := min(len(all), lo+limit)
		sel = all[lo:hi]
	case hasAfter:
		for _, m := range all {
			if idOf(m) > after {
				sel = append(sel, m)
				if len(sel) == limit {
					break
				}
			}
		}
	default:
		for _, m := range all {
			if !hasBefore || idOf(m) < before {
				sel = append(sel, m)
			}
		}
		if len(sel) > limit {
			sel = sel[len(sel)-limit:]
		}
	}
	out := make([]Message, 0, len(sel))
	for i := len(sel) - 1; i >= 0; i-- { // Discord answers newest first
		m := copyMessage(sel[i])
		m.Nonce = "" // only the create answer and MESSAGE_CREATE carry it
		out = append(out, m)
	}
	writeJSON(w, 200, out)
	return nil
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.state.channels[r.PathValue("channel")]
	if ch == nil {
		return errUnknownChannel()
	}
	if !s.botCanLocked(ch, PermViewChannel) {
		return errMissingAccess()
	}
	if !s.botCanLocked(ch, PermReadMessageHistory) {
		return errMissingPerms()
	}
	m := s.findMessageLocked(ch.ID, r.PathValue("message"))
	if m == nil {
		return errUnknownMessage()
	}
	out := copyMessage(m)
	out.Nonce = "" // only the create answer and MESSAGE_CREATE carry it
	writeJSON(w, 200, out)
	return nil
}

func (s *Server) postMessage(w http.ResponseWriter, r *http.Request) *apiError {
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
	nonce, e := parseNonce(p.Nonce)
	if e != nil {
		return e
	}
	s.mu.Lock()
	if p.EnforceNonce && nonce != "" {
		// Discord returns the message made with this nonce instead of a
		// second one.
		if m := s.nonceHitLocked(s.BotUserID, nonce); m != nil {
			out := copyMessage(m)
			s.mu.Unlock()
			writeJSON(w, 200, out)
			return nil
		}
	}
	ch := s.state.channels[r.PathValue("channel")]
	if ch == nil {
		s.mu.Unlock()
		return errUnknownChannel()
	}
	if !canSendIn(ch) {
		s.mu.Unlock()
		return errf(400, 50008, "Cannot send messages in a non-text channel")
	}
	if !s.botCanLocked(ch, PermViewChannel) {
		s.mu.Unlock()
		return errMissingAccess()
	}
	if !s.botCanLocked(ch, PermSendMessages) || (len(ups) > 0 && !s.botCanLocked(ch, PermAttachFiles)) {
		s.mu.Unlock()
		return errMissingPerms()
	}
	if ch.ThreadMetadata != nil && ch.ThreadMetadata.Locked {
		s.mu.Unlock()
		return errf(400, 50083, "Thread is archived")
	}
	unarchived := false
	if ch.ThreadMetadata != nil && ch.ThreadMetadata.Archived {
		ch.ThreadMetadata.Archived = false
		unarchived = true
	}
	flags := 0
	if p.Flags != nil {
		flags = *p.Flags & FlagSuppressEmbeds
	}
	m, e := s.buildMessageLocked(newMessage{
		channel: ch, author: *s.state.users[s.BotUserID], payload: &p, allowed: am, uploads: ups, flags: flags,
	})
	if e == nil && nonce != "" {
		m.Nonce = nonce
		if p.EnforceNonce {
			s.rememberNonceLocked(s.BotUserID, nonce, m)
		}
	}
	var thread Channel
	if unarchived {
		thread = copyChannel(ch)
	}
	s.mu.Unlock()
	if e != nil {
		return e
	}
	out := copyMessage(m)
	if unarchived {
		s.dispatch("THREAD_UPDATE", IntentGuilds, thread)
	}
	s.dispatchMessage("MESSAGE_CREATE", out)
	writeJSON(w, 200, out)
	return nil
}

// editMessageLocked applies a PATCH body (content, embeds, components,
// flags, allowed_mentions, attachments, files) to a message.
func (s *Server) editMessageLocked(m *Message, raw json.RawMessage, ups []upload) *apiError {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return errInvalidJSON()
	}
	var p msgPayload
	if e := decodeJSON(raw, &p); e != nil {
		return e
	}
	next := copyMessage(m)
	if v, ok := obj["content"]; ok {
		next.Content = ""
		if string(v) != "null" && p.Content != nil {
			next.Content = *p.Content
		}
	}
	if _, ok := obj["embeds"]; ok {
		next.Embeds = slices.Clone(p.Embeds)
		if next.Embeds == nil {
			next.Embeds = []Embed{}
		}
	}
	if v, ok := obj["components"]; ok {
		next.Components = nil
		if nonEmptyJSON(v) {
			next.Components = slices.Clone(v)
		}
	}
	if p.Flags != nil {
		next.Flags = (next.Flags &^ FlagSuppressEmbeds) | (*p.Flags & FlagSuppressEmbeds)
	}
	if _, ok := obj["attachments"]; ok {
		var keep []Attachment
		for _, a := range next.Attachments {
			for _, r := range p.Attachments {
				if r.id() == a.ID {
					keep = append(keep, a)
				}
			}
		}
		next.Attachments = keep
	}
	next.Attachments = append(next.Attachments, s.attachmentsLocked(m.ChannelID, ups, p.Attachments)...)
	if next.Attachments == nil {
		next.Attachments = []Attachment{}
	}
	check := msgPayload{Content: &next.Content, Embeds: next.Embeds, Components: next.Components}
	if e := validateMessage(&check, len(next.Attachments), true); e != nil {
		return e
	}
	am, e := parseAllowed(p.AllowedMentions)
	if e != nil {
		return e
	}
	if am != nil {
		next.AllowedMentions = am.rec
	}
	if _, ok := obj["content"]; ok {
		// Edits can add pings only for newly mentioned users; replies are not re-pinged.
		next.Pinged = s.pingsLocked(next.Content, am, m.Author.ID, nil)
		if am == nil && m.AllowedMentions != nil {
			prev, _ := parseAllowed(mustJSON(m.AllowedMentions))
			next.Pinged = s.pingsLocked(next.Content, prev, m.Author.ID, nil)
		}
		s.applyMentionsLocked(&next)
	}
	now := time.Now().UTC()
	next.EditedTimestamp = &now
	*m = next
	return nil
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func (s *Server) patchMessage(w http.ResponseWriter, r *http.Request) *apiError {
	raw, ups, e := s.parseBody(r, readBody(r))
	if e != nil {
		return e
	}
	s.mu.Lock()
	ch := s.state.channels[r.PathValue("channel")]
	if ch == nil {
		s.mu.Unlock()
		return errUnknownChannel()
	}
	m := s.findMessageLocked(ch.ID, r.PathValue("message"))
	if m == nil {
		s.mu.Unlock()
		return errUnknownMessage()
	}
	if m.Author.ID != s.BotUserID || m.WebhookID != "" {
		s.mu.Unlock()
		return errf(403, 50005, "Cannot edit a message authored by another user")
	}
	if ch.ThreadMetadata != nil && ch.ThreadMetadata.Archived {
		// Unlike a new message, an edit does not re-open the thread.
		s.mu.Unlock()
		return errf(400, 50083, "Thread is archived")
	}
	if e := s.editMessageLocked(m, raw, ups); e != nil {
		s.mu.Unlock()
		return e
	}
	out := copyMessage(m)
	s.mu.Unlock()
	s.dispatchMessage("MESSAGE_UPDATE", out)
	writeJSON(w, 200, out)
	return nil
}

func (s *Server) deleteMessage(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	ch := s.state.channels[r.PathValue("channel")]
	if ch == nil {
		s.mu.Unlock()
		return errUnknownChannel()
	}
	m := s.findMessageLocked(ch.ID, r.PathValue("message"))
	if m == nil {
		s.mu.Unlock()
		return errUnknownMessage()
	}
	if m.Author.ID != s.BotUserID && !s.botHas(PermManageMessages) {
		s.mu.Unlock()
		return errMissingPerms()
	}
	s.removeMessageLocked(m)
	s.mu.Unlock()
	s.dispatch("MESSAGE_DELETE", IntentGuildMessages, map[string]string{"id": m.ID, "channel_id": m.ChannelID, "guild_id": s.GuildID})
	writeNoContent(w)
	return nil
}

func (s *Server) removeMessageLocked(m *Message) {
	s.state.messages[m.ChannelID] = slices.DeleteFunc(s.state.messages[m.ChannelID], func(x *Message) bool { return x == m })
}
