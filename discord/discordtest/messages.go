package discordtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// msgPayload is the JSON body (or payload_json part) of a message create,
// webhook execute, interaction callback data or followup.
type msgPayload struct {
	Content          *string           `json:"content"`
	TTS              bool              `json:"tts"`
	Embeds           []Embed           `json:"embeds"`
	AllowedMentions  json.RawMessage   `json:"allowed_mentions"`
	MessageReference *MessageReference `json:"message_reference"`
	Components       json.RawMessage   `json:"components"`
	Attachments      []attachmentRef   `json:"attachments"`
	Flags            *int              `json:"flags"`
	StickerIDs       []string          `json:"sticker_ids"`
	Poll             json.RawMessage   `json:"poll"`
	Nonce            json.RawMessage   `json:"nonce"`
	EnforceNonce     bool              `json:"enforce_nonce"`
	// webhook execute only
	Username    string   `json:"username"`
	AvatarURL   string   `json:"avatar_url"`
	ThreadName  string   `json:"thread_name"`
	AppliedTags []string `json:"applied_tags"`
	// interaction modal only
	CustomID string `json:"custom_id"`
	Title    string `json:"title"`
}

type attachmentRef struct {
	ID          json.RawMessage `json:"id"`
	Filename    string          `json:"filename"`
	Description string          `json:"description"`
}

func (a attachmentRef) id() string {
	var s string
	if json.Unmarshal(a.ID, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(a.ID, &n) == nil {
		return n.String()
	}
	return ""
}

type upload struct {
	index       int
	filename    string
	contentType string
	data        []byte
}

var filesField = regexp.MustCompile(`^files?\[?(\d*)\]?$`)

// parseBody splits a request into its JSON payload (raw) and uploaded files.
// For JSON requests the payload is the body itself.
func (s *Server) parseBody(r *http.Request, body []byte) (json.RawMessage, []upload, *apiError) {
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		if len(bytes.TrimSpace(body)) == 0 {
			return nil, nil, errInvalidJSON()
		}
		if !json.Valid(body) {
			return nil, nil, errInvalidJSON()
		}
		return body, nil, nil
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, nil, errf(400, 50035, "Invalid Form Body")
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	var payload json.RawMessage
	var files []upload
	form := map[string]string{}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, errf(400, 50035, "Invalid Form Body")
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return nil, nil, errf(400, 50035, "Invalid Form Body")
		}
		name := p.FormName()
		switch {
		case name == "payload_json":
			if !json.Valid(data) {
				return nil, nil, errInvalidJSON()
			}
			payload = data
		case p.FileName() != "":
			if len(data) > s.cfg.uploadLimit {
				return nil, nil, errf(413, 40005, "Request entity too large")
			}
			idx := len(files)
			if m := filesField.FindStringSubmatch(name); m != nil && m[1] != "" {
				idx, _ = strconv.Atoi(m[1])
			}
			ctype := p.Header.Get("Content-Type")
			files = append(files, upload{index: idx, filename: p.FileName(), contentType: ctype, data: data})
		default:
			form[name] = string(data)
		}
	}
	if payload == nil {
		// Plain form fields instead of payload_json.
		m := map[string]any{}
		for k, v := range form {
			m[k] = v
		}
		payload, _ = json.Marshal(m)
	}
	return payload, files, nil
}

// allowed is a parsed allowed_mentions (nil means "not sent": default rules).
type allowed struct {
	rec                    *AllowedMentions
	everyone, users, roles bool
	userList, roleList     []string
	repliedUser            bool
}

// parseAllowed validates allowed_mentions. Absent gives nil.
func parseAllowed(raw json.RawMessage) (*allowed, *apiError) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, formErr("allowed_mentions", "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
	}
	var am AllowedMentions
	a := &allowed{rec: &am}
	if p, ok := obj["parse"]; ok {
		if string(p) == "null" {
			am.ParseNull = true
			a.everyone, a.users, a.roles = true, true, true
		} else {
			if err := json.Unmarshal(p, &am.Parse); err != nil {
				return nil, formErr("allowed_mentions.parse", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
			}
			for i, v := range am.Parse {
				switch v {
				case "everyone":
					a.everyone = true
				case "users":
					a.users = true
				case "roles":
					a.roles = true
				default:
					return nil, formErr(fmt.Sprintf("allowed_mentions.parse.%d", i), "BASE_TYPE_CHOICES",
						"Value must be one of ('roles', 'users', 'everyone').")
				}
			}
		}
	}
	for _, k := range []string{"users", "roles"} {
		v, ok := obj[k]
		if !ok || string(v) == "null" {
			continue
		}
		var ids []string
		if err := json.Unmarshal(v, &ids); err != nil {
			return nil, formErr("allowed_mentions."+k, "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
		}
		if len(ids) > 100 {
			return nil, formErr("allowed_mentions."+k, "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
		}
		if k == "users" {
			am.Users, a.userList = ids, ids
		} else {
			am.Roles, a.roleList = ids, ids
		}
	}
	if v, ok := obj["replied_user"]; ok {
		_ = json.Unmarshal(v, &am.RepliedUser)
		a.repliedUser = am.RepliedUser
	}
	if a.users && len(a.userList) > 0 && !am.ParseNull {
		return nil, formErr("allowed_mentions", "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
			`parse:["users"] and users: [ids...] are mutually exclusive.`)
	}
	if a.roles && len(a.roleList) > 0 && !am.ParseNull {
		return nil, formErr("allowed_mentions", "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
			`parse:["roles"] and roles: [ids...] are mutually exclusive.`)
	}
	return a, nil
}

var (
	userMentionRE = regexp.MustCompile(`<@!?(\d+)>`)
	roleMentionRE = regexp.MustCompile(`<@&(\d+)>`)
)

// pingsLocked works out who a message pings. Members (the bot included)
// ping @everyone/@here only with the Mention Everyone permission, and roles
// only when the role is mentionable or they have that permission; webhook
// authors (not members) are not restricted. allowed_mentions (nil: not
// sent) then filters.
func (s *Server) pingsLocked(content string, a *allowed, authorID string, replyTo *Message) Pings {
	everyoneOK, usersOK, rolesOK, repliedOK := true, true, true, true
	if a != nil {
		everyoneOK, usersOK, rolesOK, repliedOK = a.everyone, a.users, a.roles, a.repliedUser
	}
	var p Pings
	if strings.Contains(content, "@everyone") || strings.Contains(content, "@here") {
		can := true
		if _, isMember := s.state.members[authorID]; isMember {
			can = s.permsLocked(authorID)&PermMentionEveryone != 0
		}
		p.Everyone = everyoneOK && can
	}
	for _, m := range userMentionRE.FindAllStringSubmatch(content, -1) {
		id := m[1]
		if _, ok := s.state.members[id]; !ok {
			continue
		}
		if (usersOK || (a != nil && slices.Contains(a.userList, id))) && !slices.Contains(p.Users, id) {
			p.Users = append(p.Users, id)
		}
	}
	for _, m := range roleMentionRE.FindAllStringSubmatch(content, -1) {
		id := m[1]
		role, ok := s.state.roles[id]
		if !ok || id == s.GuildID {
			continue
		}
		if _, isMember := s.state.members[authorID]; isMember && !role.Mentionable &&
			s.permsLocked(authorID)&PermMentionEveryone == 0 {
			continue // members need a mentionable role or the Mention Everyone permission
		}
		if (rolesOK || (a != nil && slices.Contains(a.roleList, id))) && !slices.Contains(p.Roles, id) {
			p.Roles = append(p.Roles, id)
		}
	}
	if replyTo != nil && repliedOK && replyTo.WebhookID == "" && replyTo.Author.ID != authorID &&
		!slices.Contains(p.Users, replyTo.Author.ID) {
		p.Users = append(p.Users, replyTo.Author.ID)
	}
	return p
}

// validateMessage checks content and embed limits.
func validateMessage(p *msgPayload, nFiles int, requireNonEmpty bool) *apiError {
	var f formErrors
	content := ""
	if p.Content != nil {
		content = *p.Content
	}
	if utf8.RuneCountInString(content) > MaxContentLength {
		f.add("content", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", MaxContentLength))
	}
	validateEmbeds(&f, p.Embeds)
	if nFiles > MaxAttachments {
		f.add("files", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", MaxAttachments))
	}
	if p.Username != "" {
		validateWebhookName(&f, "username", p.Username)
	}
	if p.AvatarURL != "" {
		if u, err := url.Parse(p.AvatarURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			f.add("avatar_url", "URL_TYPE_INVALID_URL", "Not a well formed URL.")
		}
	}
	if e := f.err(); e != nil {
		return e
	}
	if requireNonEmpty && strings.TrimSpace(content) == "" && len(p.Embeds) == 0 && nFiles == 0 &&
		len(p.StickerIDs) == 0 && !nonEmptyJSON(p.Components) && !nonEmptyJSON(p.Poll) {
		return errf(400, 50006, "Cannot send an empty message")
	}
	return nil
}

func nonEmptyJSON(r json.RawMessage) bool {
	t := strings.TrimSpace(string(r))
	return t != "" && t != "null" && t != "[]" && t != "{}"
}

func validateEmbeds(f *formErrors, embeds []Embed) {
	if len(embeds) > MaxEmbeds {
		f.add("embeds", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", MaxEmbeds))
		return
	}
	total := 0
	n := utf8.RuneCountInString
	max := func(path, v string, limit int) {
		if n(v) > limit {
			f.add(path, "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", limit))
		}
	}
	checkURL := func(path, v string) {
		if v == "" {
			return
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "attachment") || (u.Scheme != "attachment" && u.Host == "") {
			f.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")
		}
	}
	for i, e := range embeds {
		pre := fmt.Sprintf("embeds.%d.", i)
		max(pre+"title", e.Title, 256)
		max(pre+"description", e.Description, 4096)
		checkURL(pre+"url", e.URL)
		total += n(e.Title) + n(e.Description)
		if e.Footer != nil {
			max(pre+"footer.text", e.Footer.Text, 2048)
			total += n(e.Footer.Text)
		}
		if e.Author != nil {
			max(pre+"author.name", e.Author.Name, 256)
			checkURL(pre+"author.icon_url", e.Author.IconURL)
			total += n(e.Author.Name)
		}
		if e.Image != nil {
			checkURL(pre+"image.url", e.Image.URL)
		}
		if e.Thumbnail != nil {
			checkURL(pre+"thumbnail.url", e.Thumbnail.URL)
		}
		if e.Timestamp != "" {
			if _, err := time.Parse(time.RFC3339, e.Timestamp); err != nil {
				f.add(pre+"timestamp", "DATE_TYPE_PARSE", "Could not parse "+e.Timestamp+". Should be ISO8601.")
			}
		}
		if len(e.Fields) > 25 {
			f.add(pre+"fields", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
		}
		for j, fl := range e.Fields {
			fp := fmt.Sprintf("%sfields.%d.", pre, j)
			if strings.TrimSpace(fl.Name) == "" {
				f.add(fp+"name", "BASE_TYPE_REQUIRED", "This field is required")
			}
			if strings.TrimSpace(fl.Value) == "" {
				f.add(fp+"value", "BASE_TYPE_REQUIRED", "This field is required")
			}
			max(fp+"name", fl.Name, 256)
			max(fp+"value", fl.Value, 1024)
			total += n(fl.Name) + n(fl.Value)
		}
	}
	if total > MaxEmbedTotal {
		f.add("embeds", "MAX_EMBED_SIZE_EXCEEDED", fmt.Sprintf("Embed size exceeds maximum size of %d", MaxEmbedTotal))
	}
}

func validateWebhookName(f *formErrors, field, name string) {
	if l := utf8.RuneCountInString(name); l < 1 || l > 80 {
		f.add(field, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 80 in length.")
		return
	}
	low := strings.ToLower(name)
	for _, bad := range []string{"clyde", "discord"} {
		if strings.Contains(low, bad) {
			f.add(field, "USERNAME_INVALID_CONTAINS", fmt.Sprintf("Username cannot contain %q", bad))
		}
	}
}

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

func (s *Server) attachmentsLocked(channelID string, ups []upload, refs []attachmentRef) []Attachment {
	out := []Attachment{}
	for _, u := range ups {
		id := s.nextID()
		a := Attachment{ID: id, Filename: u.filename, ContentType: u.contentType, Size: len(u.data), Data: slices.Clone(u.data)}
		for _, r := range refs {
			if r.id() == strconv.Itoa(u.index) {
				if r.Description != "" {
					a.Description = r.Description
				}
				if r.Filename != "" {
					a.Filename = r.Filename
				}
			}
		}
		a.URL = fmt.Sprintf("%s/attachments/%s/%s/%s", s.URL, channelID, id, url.PathEscape(a.Filename))
		a.ProxyURL = a.URL
		out = append(out, a)
	}
	return out
}

// serveAttachment serves stored attachment bytes like Discord's CDN.
func (s *Server) serveAttachment(w http.ResponseWriter, r *http.Request) {
	ch, id := r.PathValue("channel"), r.PathValue("attachment")
	s.mu.Lock()
	var found *Attachment
	for _, m := range s.state.messages[ch] {
		for i := range m.Attachments {
			if m.Attachments[i].ID == id {
				a := m.Attachments[i]
				found = &a
			}
		}
	}
	s.mu.Unlock()
	if found == nil {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	ct := found.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(found.Data)))
	_, _ = w.Write(found.Data)
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

// ---- reactions ----

func parseEmoji(raw string) (Emoji, bool) {
	if raw == "" || utf8.RuneCountInString(raw) > 100 {
		return Emoji{}, false
	}
	if strings.Contains(raw, ":") {
		parts := strings.Split(raw, ":")
		if len(parts) > 3 || (len(parts) == 3 && parts[0] != "a") {
			return Emoji{}, false
		}
		name, id := parts[len(parts)-2], parts[len(parts)-1]
		if _, err := strconv.ParseUint(id, 10, 64); err != nil || name == "" {
			return Emoji{}, false
		}
		return Emoji{ID: id, Name: name}, true
	}
	for _, r := range raw {
		if r < 0x80 && r != '#' && r != '*' && (r < '0' || r > '9') {
			return Emoji{}, false
		}
	}
	return Emoji{Name: raw}, true
}

func (s *Server) reaction(add bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) *apiError {
		emoji, ok := parseEmoji(r.PathValue("emoji"))
		if !ok {
			return errf(400, 10014, "Unknown Emoji")
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
		if add && !s.botHas(PermAddReactions) {
			s.mu.Unlock()
			return errMissingPerms()
		}
		changed := s.reactLocked(m, emoji, s.BotUserID, add)
		chID, msgID := m.ChannelID, m.ID // *m may be rewritten (an edit) once unlocked
		s.mu.Unlock()
		if changed {
			ev := "MESSAGE_REACTION_ADD"
			if !add {
				ev = "MESSAGE_REACTION_REMOVE"
			}
			s.dispatch(ev, IntentGuildReactions, map[string]any{
				"user_id": s.BotUserID, "channel_id": chID, "message_id": msgID, "guild_id": s.GuildID, "emoji": emoji,
			})
		}
		writeNoContent(w)
		return nil
	}
}

func (s *Server) reactLocked(m *Message, e Emoji, userID string, add bool) bool {
	key := e.Name
	if e.ID != "" {
		key = e.ID
	}
	for i := range m.Reactions {
		rx := &m.Reactions[i]
		k := rx.Emoji.Name
		if rx.Emoji.ID != "" {
			k = rx.Emoji.ID
		}
		if k != key {
			continue
		}
		has := slices.Contains(rx.Users, userID)
		switch {
		case add && !has:
			rx.Users = append(rx.Users, userID)
		case !add && has:
			rx.Users = slices.DeleteFunc(rx.Users, func(u string) bool { return u == userID })
		default:
			return false
		}
		rx.Count = len(rx.Users)
		rx.Me = slices.Contains(rx.Users, s.BotUserID)
		if rx.Count == 0 {
			m.Reactions = slices.Delete(m.Reactions, i, i+1)
		}
		return true
	}
	if !add {
		return false
	}
	m.Reactions = append(m.Reactions, Reaction{Count: 1, Me: userID == s.BotUserID, Emoji: e, Users: []string{userID}})
	return true
}

// React adds a reaction by a member (dispatches MESSAGE_REACTION_ADD).
func (s *Server) React(channelID, messageID, userID, emoji string) {
	e, ok := parseEmoji(emoji)
	if !ok {
		panic(fmt.Sprintf("discordtest: React: bad emoji %q", emoji))
	}
	s.mu.Lock()
	m := s.findMessageLocked(channelID, messageID)
	changed := m != nil && s.reactLocked(m, e, userID, true)
	s.mu.Unlock()
	if changed {
		s.dispatch("MESSAGE_REACTION_ADD", IntentGuildReactions, map[string]any{
			"user_id": userID, "channel_id": channelID, "message_id": messageID, "guild_id": s.GuildID, "emoji": e,
		})
	}
}
