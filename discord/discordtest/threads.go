package discordtest

import (
	"encoding/json"
	"net/http"
	"time"
)

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
