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
