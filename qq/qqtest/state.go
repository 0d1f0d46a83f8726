package qqtest

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Message types. The reference treats 2, 3, 5 and 6 as image or video;
// the text and card numbers are the double's choices (the protocol does
// not document them), so code under test must render by fields, not type.
const (
	MsgTypeText  = 1
	MsgTypeImage = 2
	MsgTypeVideo = 3
	MsgTypeCard  = 4
)

// User is a QQ Music user as private messages show it.
type User struct {
	UIN         int64  // 0: AddUser assigns one
	EncryptUIN  string // "": derived from UIN
	Nick        string // "": "user<uin>"
	Avatar      string
	IdentityPic string
	Identity    int
	Type        int
	IsConcern   int
}

// MetaData is a message's meta_data: text travels in Content; images and
// videos in Pic/URL/Width/Height; cards in Title/Content/Pic/URL.
type MetaData struct {
	Title    string `json:"title"`
	Content  string `json:"content"`
	Pic      string `json:"pic"`
	BizID    string `json:"biz_id"`
	BizType  int    `json:"biz_type"`
	URL      string `json:"url"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	Duration int    `json:"Duration"`
	Size     int    `json:"Size"`
}

// Inbound is a message a peer sends to the account (see Deliver).
type Inbound struct {
	MsgType int      // 0: MsgTypeText
	Meta    MetaData // sent as meta_data unless RawMeta is set
	// RawMeta, when set, is sent verbatim as meta_data (any JSON value),
	// for message types and fields the protocol does not document.
	RawMeta json.RawMessage
	Time    time.Time // zero: the server's clock
	ID      string    // "": assigned
}

// Text is an inbound text message.
func Text(s string) Inbound { return Inbound{MsgType: MsgTypeText, Meta: MetaData{Content: s}} }

// Image is an inbound image message (msg_type 2).
func Image(url string, width, height int) Inbound {
	return Inbound{MsgType: MsgTypeImage, Meta: MetaData{Pic: url, URL: url, Width: width, Height: height}}
}

// Video is an inbound video message (msg_type 3): pic is the cover.
func Video(url, pic string, width, height, seconds int) Inbound {
	return Inbound{MsgType: MsgTypeVideo, Meta: MetaData{URL: url, Pic: pic, Width: width, Height: height, Duration: seconds}}
}

// Card is an inbound card message (the double's msg_type 4).
func Card(title, content, pic, url string) Inbound {
	return Inbound{MsgType: MsgTypeCard, Meta: MetaData{Title: title, Content: content, Pic: pic, URL: url}}
}

// Message is a message as the server stores it.
type Message struct {
	ID        string
	SessionID string
	Sequence  int64 // 1, 2, ... within the session
	Time      int64 // unix seconds
	// SortTime is unix milliseconds, strictly increasing across the server
	// (the double's choice; the unit is not documented).
	SortTime  int64
	MsgType   int
	FromUIN   int64
	ClientKey string // what SendMessageAsync carried; "" for inbound
	Meta      MetaData
	RawMeta   json.RawMessage // meta_data exactly as sent on the wire
	Outbound  bool            // sent by the account
	Deleted   bool

	noSeq, zeroSeq bool // Quirks: sent without a sequence, or with 0
}

// Sent is one SendMessageAsync (or StarSendSuperMsg) the server accepted.
type Sent struct {
	Method     string
	SessionID  string
	UserID     string
	ClientKey  string
	MsgType    int
	LastMsgSeq int64
	Meta       MetaData
	RawMeta    json.RawMessage // the request's meta_data
	Message    Message         // the message it appended
}

// Request is one gateway item the server received.
type Request struct {
	Time    time.Time
	Path    string
	Module  string
	Method  string
	Param   json.RawMessage
	Comm    map[string]any
	Cookies map[string]string
	Signed  bool
}

type session struct {
	id         string
	peer       int64
	createTime int64
	sortTime   int64
	unread     int
	deleted    bool
	msgs       []*Message // by sequence, deleted ones kept as tombstones
	nextSeq    int64
}

func (ss *session) latest() *Message {
	for i := len(ss.msgs) - 1; i >= 0; i-- {
		if !ss.msgs[i].Deleted {
			return ss.msgs[i]
		}
	}
	return nil
}

func encryptUIN(uin int64) string {
	sum := sha1.Sum([]byte("qqtest-encrypt-uin:" + strconv.FormatInt(uin, 10)))
	enc := base64.RawURLEncoding.EncodeToString(sum[:])
	enc = strings.NewReplacer("-", "A", "_", "z").Replace(enc)
	return "o" + enc[:13]
}

// AddUser adds (or replaces) a user and returns it with its defaults
// filled in.
func (s *Server) AddUser(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addUserLocked(u)
}

func (s *Server) addUserLocked(u User) User {
	if u.UIN == 0 {
		for {
			s.nextUIN++
			if _, taken := s.users[s.nextUIN]; !taken {
				break
			}
		}
		u.UIN = s.nextUIN
	}
	if u.EncryptUIN == "" {
		u.EncryptUIN = encryptUIN(u.UIN)
	}
	if u.Nick == "" {
		u.Nick = "user" + strconv.FormatInt(u.UIN, 10)
	}
	if old, ok := s.users[u.UIN]; ok && old.EncryptUIN != u.EncryptUIN {
		delete(s.usersByEnc, old.EncryptUIN)
	}
	uu := u
	s.users[u.UIN] = &uu
	s.usersByEnc[u.EncryptUIN] = u.UIN
	return u
}

// User returns the user with that uin.
func (s *Server) User(uin int64) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[uin]
	if !ok {
		return User{}, false
	}
	return *u, true
}

// AddSession returns the id of the live session with peer, creating it
// (and adding peer as a user when its UIN is unknown or 0). A new session
// sorts first.
func (s *Server) AddSession(peer User) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[peer.UIN]; !ok || peer.UIN == 0 {
		peer = s.addUserLocked(peer)
	}
	return s.sessionWithLocked(peer.UIN).id
}

func (s *Server) sessionWithLocked(peer int64) *session {
	if id, ok := s.sessionOf[peer]; ok {
		if ss := s.sessions[id]; ss != nil && !ss.deleted {
			return ss
		}
	}
	s.nextSession++
	now := s.clock()
	ss := &session{
		id:         fmt.Sprintf("%d_%d", peer, s.nextSession),
		peer:       peer,
		createTime: now.Unix(),
		sortTime:   s.sortTimeLocked(now),
		nextSeq:    1,
	}
	s.sessions[ss.id] = ss
	s.sessionOf[peer] = ss.id
	return ss
}

// sortTimeLocked returns now in ms, made strictly greater than the last
// sort time issued.
func (s *Server) sortTimeLocked(now time.Time) int64 {
	if s.quirks.CoarseSortTime {
		return now.Unix()
	}
	t := now.UnixMilli()
	if t <= s.lastSort {
		t = s.lastSort + 1
	}
	s.lastSort = t
	return t
}

// Deliver appends an inbound message from the session's peer: it assigns
// id, sequence and time, counts it unread and moves the session first.
// A deleted session comes back, empty but for this message, as it does
// when a peer writes again.
func (s *Server) Deliver(sessionID string, in Inbound) (Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[sessionID]
	if !ok {
		return Message{}, fmt.Errorf("qqtest: Deliver: no session %q", sessionID)
	}
	if ss.deleted {
		if cur, live := s.sessionOf[ss.peer]; live && cur != ss.id && !s.sessions[cur].deleted {
			return Message{}, fmt.Errorf("qqtest: Deliver: session %q was deleted and %q replaced it", sessionID, cur)
		}
		ss.deleted = false
		ss.msgs = nil
		ss.unread = 0
		s.sessionOf[ss.peer] = ss.id
	}
	if in.MsgType == 0 {
		in.MsgType = MsgTypeText
	}
	raw := in.RawMeta
	meta := in.Meta
	if len(raw) == 0 {
		b, err := json.Marshal(in.Meta)
		if err != nil {
			return Message{}, fmt.Errorf("qqtest: Deliver: encoding meta_data: %w", err)
		}
		raw = b
	} else {
		if !json.Valid(raw) {
			return Message{}, fmt.Errorf("qqtest: Deliver: RawMeta is not valid JSON")
		}
		_ = json.Unmarshal(raw, &meta) // best effort: typed view of the raw fields
	}
	now := s.clock()
	if !in.Time.IsZero() {
		now = in.Time
	}
	if in.ID != "" {
		for _, old := range ss.msgs {
			if old.ID == in.ID {
				return Message{}, fmt.Errorf("qqtest: Deliver: session %q already has message %q", sessionID, in.ID)
			}
		}
	}
	m := s.appendLocked(ss, Message{ID: in.ID, MsgType: in.MsgType, FromUIN: ss.peer, Meta: meta, RawMeta: raw}, now)
	ss.unread++
	s.notifyLocked()
	return m, nil
}

func (s *Server) appendLocked(ss *session, m Message, now time.Time) Message {
	if m.ID == "" {
		s.nextMsgID++
		m.ID = strconv.FormatInt(s.nextMsgID, 10)
	}
	m.SessionID = ss.id
	m.Sequence = ss.nextSeq
	ss.nextSeq++
	m.Time = now.Unix()
	s.nthMsg++
	if s.quirkMessageLocked(&m, s.nthMsg) {
		m.SortTime = s.sortTimeLocked(now)
		ss.sortTime = m.SortTime
	} else {
		m.SortTime = ss.sortTime
	}
	mm := m
	ss.msgs = append(ss.msgs, &mm)
	return m
}

// Messages returns the live (not deleted) messages of a session, oldest
// first.
func (s *Server) Messages(sessionID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[sessionID]
	if !ok || ss.deleted {
		return nil
	}
	var out []Message
	for _, m := range ss.msgs {
		if !m.Deleted {
			out = append(out, *m)
		}
	}
	return out
}

// SessionInfo is a session as the server stores it.
type SessionInfo struct {
	ID         string
	Peer       User
	SortTime   int64
	CreateTime int64
	Unread     int
	Deleted    bool
}

// Sessions returns the live sessions in list order (sort_time descending).
func (s *Server) Sessions() []SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SessionInfo
	for _, ss := range s.liveSessionsLocked() {
		out = append(out, SessionInfo{ID: ss.id, Peer: s.userLocked(ss.peer), SortTime: ss.sortTime, CreateTime: ss.createTime, Unread: ss.unread})
	}
	return out
}

// Session returns one session, deleted or not.
func (s *Server) Session(id string) (SessionInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[id]
	if !ok {
		return SessionInfo{}, false
	}
	return SessionInfo{ID: ss.id, Peer: s.userLocked(ss.peer), SortTime: ss.sortTime, CreateTime: ss.createTime, Unread: ss.unread, Deleted: ss.deleted}, true
}

func (s *Server) liveSessionsLocked() []*session {
	var list []*session
	for _, ss := range s.sessions {
		if !ss.deleted {
			list = append(list, ss)
		}
	}
	sort.Slice(list, func(i, j int) bool { return sessionBefore(list[i], list[j].sortTime, list[j].id) })
	return list
}

// sessionBefore reports whether ss sorts before the position (t, id) in
// the session list: sort_time descending, then id ascending.
func sessionBefore(ss *session, t int64, id string) bool {
	if ss.sortTime != t {
		return ss.sortTime > t
	}
	return ss.id < id
}

func (s *Server) userLocked(uin int64) User {
	if u, ok := s.users[uin]; ok {
		return *u
	}
	return User{UIN: uin, EncryptUIN: encryptUIN(uin), Nick: "user" + strconv.FormatInt(uin, 10)}
}

// SetPageOrder sets the order GetMessage serves pages in: newest first
// (the default; the next page, after last_id, is older) or oldest first
// (the next page is newer).
func (s *Server) SetPageOrder(newestFirst bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.newestFirst = newestFirst
}

// SetMaxPageSizes caps the session-list and message page sizes below what
// requests ask for (0: no cap; the request's size is always respected
// below the cap).
func (s *Server) SetMaxPageSizes(sessions, messages int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxSessionPage, s.maxMessagePage = sessions, messages
}

// Sent returns what SendMessageAsync and StarSendSuperMsg accepted, in
// order.
func (s *Server) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sent(nil), s.sent...)
}

// Requests returns the gateway items received (the last 10000), in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func (s *Server) logLocked(r Request) {
	if len(s.requests) >= maxRequestLog {
		s.requests = append(s.requests[:0], s.requests[1:]...)
	}
	s.requests = append(s.requests, r)
}

// Count returns how many items of the named method (e.g. "GetMessage",
// "GetQimei" for the QIMEI proxy) the server received, faulted or not.
func (s *Server) Count(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[method]
}

// Counts returns the count of every method received.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// ResetCounts sets every count to zero.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = map[string]int{}
}

// Config returns what SetConfig stored for a config type.
func (s *Server) Config(configType int64) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.configs[configType]
	return v, ok
}
