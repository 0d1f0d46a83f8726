package discordtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"
)

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
