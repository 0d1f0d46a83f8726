package qqtest

import (
	"encoding/json"
	"strconv"
)

// Modules of the private-message API.
const (
	ModuleRead     = "music.privateMsg.PrivateMsgRead"
	ModuleWrite    = "music.privateMsg.PrivateMsgWrite"
	ModuleMusician = "music.privateMsg.MusicianMsgCardSvr"
	ModuleDazi     = "music.dazi.DzEntrySrv"
	ModuleSession  = "music.getSession.session"
	ModuleUserInfo = "music.UserInfo.userInfoServer"
	ModuleLogin    = "music.login.LoginServer"
)

func (s *Server) registerBuiltins() {
	reg := func(m Method) { mm := m; s.methods[m.Module+"/"+m.Name] = &mm }
	op := map[string]string{"session_id": "s!", "super_msg_flag": "i!"}
	send := map[string]string{
		"last_msg_seq": "i!", "user_id": "s!", "entrance": "i!", "client_key": "s!", "msg_type": "i!",
		"session_id": "s", "last_id": "s", "meta_data": "o", "source_flag": "i", "msg_id": "s",
		"user_input": "s", "super_msg_flag": "i",
	}
	// The reference's param orders (qqmusic-protocol.md section 4).
	sendOrder := []string{"last_msg_seq", "user_id", "entrance", "client_key", "msg_type",
		"session_id", "last_id", "meta_data", "source_flag", "msg_id", "user_input", "super_msg_flag"}
	configOrder := []string{"config_type", "config_value_str"}
	for _, m := range []Method{
		{Module: ModuleSession, Name: "GetSession", ParamOrder: []string{"uid", "vkey", "caller"}, Params: map[string]string{"uid": "s!", "vkey": "i!", "caller": "i!"}, Handle: s.handleGetSession},
		{Module: ModuleUserInfo, Name: "GetLoginUserInfo", Auth: true, Params: map[string]string{}, Handle: s.handleGetLoginUserInfo},
		{Module: ModuleLogin, Name: "Login", Comm: map[string]any{"tmeLoginType": nil, "tmeLoginMethod": nil}, Handle: s.handleLogin},
		{Module: ModuleLogin, Name: "Logout", Auth: true, Params: map[string]string{}, Handle: s.handleLogout},

		{Module: ModuleRead, Name: "GetSessionList", Auth: true, ParamOrder: []string{"last_id", "order", "size", "last_time", "from", "EncryptFromUin", "FansFlag"}, Params: map[string]string{
			"last_id": "s!", "order": "i!", "size": "i!", "last_time": "i!", "from": "i!", "EncryptFromUin": "s", "FansFlag": "i",
		}, Handle: s.handleGetSessionList},
		{Module: ModuleRead, Name: "GetMessage", Auth: true, ParamOrder: []string{"order", "size", "flag", "session_id", "last_id", "wns_id", "user_id", "location_id", "update_time"}, Params: map[string]string{
			"order": "i!", "size": "i!", "flag": "i!", "session_id": "s", "last_id": "s", "wns_id": "s",
			"user_id": "s", "location_id": "s", "update_time": "i",
		}, Handle: s.handleGetMessage},
		{Module: ModuleWrite, Name: "SendMessageAsync", Auth: true, Params: send, ParamOrder: sendOrder, Handle: s.handleSend},
		{Module: ModuleWrite, Name: "StarSendSuperMsg", Auth: true, Params: send, ParamOrder: sendOrder, Handle: s.handleSend},
		{Module: ModuleWrite, Name: "DeleteSession", Auth: true, Params: op, ParamOrder: []string{"session_id", "super_msg_flag"}, Handle: s.handleDeleteSession},
		{Module: ModuleWrite, Name: "DeleteMessage", Auth: true, ParamOrder: []string{"session_id", "msg_id", "super_msg_flag"}, Params: map[string]string{"session_id": "s!", "msg_id": "s!", "super_msg_flag": "i!"}, Handle: s.handleDeleteMessage},
		{Module: ModuleWrite, Name: "ClearSession", Auth: true, Params: op, ParamOrder: []string{"session_id", "super_msg_flag"}, Handle: s.handleClearSession},
		{Module: ModuleWrite, Name: "SetConfig", Auth: true, ParamOrder: configOrder, Params: map[string]string{"config_type": "i!", "config_value_str": "s!"}, Handle: s.handleSetConfig},
		{Module: ModuleRead, Name: "GetConfig", Auth: true, ParamOrder: configOrder, Params: map[string]string{"config_type": "i!", "config_value_str": "s!"}, Handle: s.handleGetConfig},
		{Module: ModuleMusician, Name: "GetMusicianCard", Auth: true, Params: map[string]string{"EncUin": "s!"}, Handle: s.handleMusicianCard},
		{Module: ModuleWrite, Name: "ActCardMsgCallBack", Auth: true, ParamOrder: []string{"target_user_id", "msg_type", "confirm", "msg_id", "ext"}, Params: map[string]string{
			"target_user_id": "s!", "msg_type": "i!", "confirm": "i!", "msg_id": "s!", "ext": "o",
		}, Handle: s.handleCardCallback},
		{Module: ModuleRead, Name: "GetEntries", Auth: true, ParamOrder: []string{"Scence", "FromUserType", "UserID", "Ext"}, Params: map[string]string{"Scence": "a!", "FromUserType": "i", "UserID": "s", "Ext": "o"}, Handle: s.handleGetEntries},
		{Module: ModuleRead, Name: "GetMsgDetails", Auth: true, ParamOrder: []string{"SessionID", "MsgIDs"}, Params: map[string]string{"SessionID": "s!", "MsgIDs": "a!"}, Handle: s.handleMsgDetails},
		{Module: ModuleWrite, Name: "SetAllMsgMardRead", Auth: true, ParamOrder: []string{"CmdFlag", "EncryptUin"}, Params: map[string]string{"CmdFlag": "i!", "EncryptUin": "s!"}, Handle: s.handleMarkAllRead},
		{Module: ModuleRead, Name: "GetSafetyHint", Auth: true, ParamOrder: []string{"encUin", "close"}, Params: map[string]string{"encUin": "s!", "close": "i!"}, Handle: s.handleSafetyHint},
		{Module: ModuleDazi, Name: "GetFriendFloatingIcon", Auth: true, Params: map[string]string{"TargetEncuin": "s!"}, Handle: s.handleFloatingIcon},
	} {
		reg(m)
	}
}

func notFound(what string) Reply {
	return Reply{Code: CodeNotFound, Data: map[string]any{"msg": what, "subcode": CodeNotFound}}
}

func opOK() Reply { return Reply{Data: map[string]any{"msg": "", "subcode": 0, "tips": ""}} }

func wireUser(u User) map[string]any {
	return map[string]any{
		"avatar": u.Avatar, "encrypt_uin": u.EncryptUIN, "uin": strconv.FormatInt(u.UIN, 10),
		"identity_pic": u.IdentityPic, "nick": u.Nick, "identity": u.Identity, "type": u.Type, "is_concern": u.IsConcern,
	}
}

func (s *Server) wireMessageLocked(m *Message) map[string]any {
	meta := m.RawMeta
	if len(meta) == 0 {
		meta = json.RawMessage("{}")
	}
	from := wireUser(s.userLocked(m.FromUIN))
	if s.bareOwner && m.FromUIN == s.account.MusicID {
		from = map[string]any{"uin": from["uin"], "encrypt_uin": from["encrypt_uin"]}
	}
	w := map[string]any{
		"id": m.ID, "meta_data": meta, "client_key": m.ClientKey, "from_user": from,
		"time": m.Time, "state": 0, "result": 0, "tips": "", "sequence": m.Sequence, "show_type": 0,
		"msg_type": m.MsgType, "confirm": 0, "sort_time": m.SortTime, "complainTip": "", "complainUrl": "",
	}
	wireSequence(w, m)
	return w
}

func (s *Server) wireSessionLocked(ss *session) map[string]any {
	var newMsg any
	if m := ss.latest(); m != nil {
		newMsg = s.wireMessageLocked(m)
	}
	return map[string]any{
		"session_id": ss.id, "user": wireUser(s.userLocked(ss.peer)), "new_msg": newMsg, "new_msg_cnt": ss.unread,
		"sort_time": ss.sortTime, "url": "", "create_time": ss.createTime, "from": 0,
		"SmStarVirtaulUin": "", "Auth": "", "Ext": map[string]string{}, "TailTags": []any{},
	}
}

func pageSize(asked int64, def, limit int) int {
	n := int(asked)
	if n <= 0 {
		n = def
	}
	if limit > 0 && n > limit {
		n = limit
	}
	return n
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// handleGetSessionList serves sessions by sort_time descending; the next
// page starts after (last_time, last_id).
func (s *Server) handleGetSessionList(c *Call) Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	size := pageSize(c.Int("size"), 20, s.maxSessionPage)
	list := s.liveSessionsLocked()
	if enc := c.Str("EncryptFromUin"); enc != "" {
		var only []*session
		for _, ss := range list {
			if s.userLocked(ss.peer).EncryptUIN == enc {
				only = append(only, ss)
			}
		}
		list = only
	}
	lastID, lastTime := c.Str("last_id"), c.Int("last_time")
	start := 0
	if lastID != "" || lastTime != 0 {
		if lastTime == 0 {
			if ss, ok := s.sessions[lastID]; ok {
				lastTime = ss.sortTime
			}
		}
		start = len(list)
		for i, ss := range list {
			if !sessionBefore(ss, lastTime, lastID) && !(ss.sortTime == lastTime && ss.id == lastID) {
				start = s.pageEdge(i)
				break
			}
		}
	}
	end := min(start+size, len(list))
	sessions := make([]any, 0, end-start)
	for _, ss := range list[start:end] {
		sessions = append(sessions, s.wireSessionLocked(ss))
	}
	unread := 0
	for _, ss := range list {
		unread += ss.unread
	}
	return Reply{Data: map[string]any{
		"has_more": boolInt(end < len(list)), "msg": "", "new_msg_cnt": unread, "sessions": sessions,
		"subcode": 0, "setting_guide": 0, "state": 0, "extra": map[string]string{},
	}}
}

// sessionForLocked finds the live session by session_id, else by user_id
// (a peer's uin or encrypt_uin).
func (s *Server) sessionForLocked(sessionID, userID string) (*session, Reply, bool) {
	if sessionID != "" {
		ss, ok := s.sessions[sessionID]
		if !ok || ss.deleted {
			return nil, notFound("no session " + sessionID), false
		}
		return ss, Reply{}, true
	}
	if userID == "" {
		return nil, Reply{Code: CodeBadRequest, Data: map[string]any{"msg": "neither session_id nor user_id"}}, false
	}
	uin, ok := s.uinOfLocked(userID)
	if !ok {
		return nil, notFound("no user " + userID), false
	}
	id, ok := s.sessionOf[uin]
	if !ok || s.sessions[id].deleted {
		return nil, notFound("no session with user " + userID), false
	}
	return s.sessions[id], Reply{}, true
}

func (s *Server) uinOfLocked(userID string) (int64, bool) {
	if n, err := strconv.ParseInt(userID, 10, 64); err == nil {
		_, ok := s.users[n]
		return n, ok
	}
	n, ok := s.usersByEnc[userID]
	return n, ok
}

// handleGetMessage serves a session's messages in the configured order;
// the next page starts after last_id. Reading marks the session read.
func (s *Server) handleGetMessage(c *Call) Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, rep, ok := s.sessionForLocked(c.Str("session_id"), c.Str("user_id"))
	if !ok {
		return rep
	}
	size := pageSize(c.Int("size"), 50, s.maxMessagePage)
	order := make([]*Message, len(ss.msgs))
	copy(order, ss.msgs)
	if s.newestFirst {
		for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
			order[i], order[j] = order[j], order[i]
		}
	}
	start := 0
	if last := c.Str("last_id"); last != "" {
		start = -1
		for i, m := range order {
			if m.ID == last {
				start = s.pageEdge(i + 1)
				break
			}
		}
		if start < 0 {
			return notFound("no message " + last + " in session " + ss.id)
		}
	}
	msgs := []any{}
	i := start
	for ; i < len(order) && len(msgs) < size; i++ {
		if !order[i].Deleted {
			msgs = append(msgs, s.wireMessageLocked(order[i]))
		}
	}
	more := false
	for ; i < len(order); i++ {
		if !order[i].Deleted {
			more = true
			break
		}
	}
	ss.unread = 0
	var endSeq int64
	if m := ss.latest(); m != nil {
		endSeq = m.Sequence
	}
	return Reply{Data: map[string]any{
		"has_more": boolInt(more), "messages": msgs, "msg": "", "session": s.wireSessionLocked(ss), "subcode": 0,
		"end_msg_seq": endSeq, "Attach": map[string]any{}, "PatInterval": 0, "PatMap": nil,
		"EncryptStar": "", "LocationTips": "", "NewMsgCnt": 0,
	}}
}

// handleSend appends the account's message, carrying the request's
// client_key, to the session (found by session_id, else created with the
// user user_id), and moves the session first.
func (s *Server) handleSend(c *Call) Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	sessionID, userID := c.Str("session_id"), c.Str("user_id")
	var ss *session
	if sessionID != "" {
		got, ok := s.sessions[sessionID]
		if !ok || got.deleted {
			return notFound("no session " + sessionID)
		}
		ss = got
		if userID != "" {
			if uin, ok := s.uinOfLocked(userID); !ok || uin != ss.peer {
				return Reply{Code: CodeBadRequest, Data: map[string]any{"msg": "user_id is not the session's peer"}}
			}
		}
	} else {
		if userID == "" {
			return Reply{Code: CodeBadRequest, Data: map[string]any{"msg": "neither session_id nor user_id"}}
		}
		uin, ok := s.uinOfLocked(userID)
		if !ok {
			return notFound("no user " + userID)
		}
		ss = s.sessionWithLocked(uin)
	}
	var raw json.RawMessage
	var meta MetaData
	if v, ok := c.Param["meta_data"]; ok && v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			return Reply{Code: CodeBadRequest, Data: map[string]any{"msg": "meta_data is not JSON"}}
		}
		raw = b
		_ = json.Unmarshal(b, &meta) // lenient typed view; RawMeta keeps the exact fields
	}
	h := heldSend{
		Sent: Sent{Method: c.Method, SessionID: ss.id, UserID: userID, ClientKey: c.Str("client_key"), MsgType: int(c.Int("msg_type")),
			LastMsgSeq: c.Int("last_msg_seq"), Meta: meta, RawMeta: raw},
		ss: ss,
	}
	if s.asyncSend {
		// Accepted; applied only when the test releases it.
		s.held = append(s.held, h)
		return Reply{Data: map[string]any{
			"messages": []any{}, "session": s.wireSessionLocked(ss), "tips": "",
			"identify_url": "", "msg": "", "reason": 0, "end_msg_seq": ss.nextSeq - 1, "update_time": s.clock().Unix(),
		}}
	}
	m := s.applySendLocked(h)
	return Reply{Data: map[string]any{
		"messages": []any{s.wireMessageLocked(&m)}, "session": s.wireSessionLocked(ss), "tips": "",
		"identify_url": "", "msg": "", "reason": 0, "end_msg_seq": m.Sequence, "update_time": m.Time,
	}}
}

func (s *Server) handleDeleteSession(c *Call) Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[c.Str("session_id")]
	if !ok || ss.deleted {
		return notFound("no session " + c.Str("session_id"))
	}
	ss.deleted = true
	for _, m := range ss.msgs {
		m.Deleted = true
	}
	ss.unread = 0
	return opOK()
}

func (s *Server) handleDeleteMessage(c *Call) Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[c.Str("session_id")]
	if !ok || ss.deleted {
		return notFound("no session " + c.Str("session_id"))
	}
	id := c.Str("msg_id")
	for _, m := range ss.msgs {
		if m.ID == id && !m.Deleted {
			m.Deleted = true
			return opOK()
		}
	}
	return notFound("no message " + id + " in session " + ss.id)
}

func (s *Server) handleClearSession(c *Call) Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[c.Str("session_id")]
	if !ok || ss.deleted {
		return notFound("no session " + c.Str("session_id"))
	}
	for _, m := range ss.msgs {
		m.Deleted = true
	}
	ss.unread = 0
	return opOK()
}

func (s *Server) handleSetConfig(c *Call) Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.configs[c.Int("config_type")] = c.Str("config_value_str")
	return opOK()
}

func (s *Server) handleGetConfig(c *Call) Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.configs[c.Int("config_type")]
	n, _ := strconv.ParseInt(v, 10, 64)
	return Reply{Data: map[string]any{"config_value": n, "config_value_str": v, "msg": ""}}
}

// handleMusicianCard answers with the user's card fields (the double's own
// shape: the reference keeps the card's fields raw).
func (s *Server) handleMusicianCard(c *Call) Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	uin, ok := s.usersByEnc[c.Str("EncUin")]
	if !ok {
		return Reply{Data: map[string]any{}}
	}
	u := s.userLocked(uin)
	return Reply{Data: map[string]any{"EncUin": u.EncryptUIN, "Nick": u.Nick, "Avatar": u.Avatar}}
}

func (s *Server) handleCardCallback(c *Call) Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := c.Str("msg_id")
	for _, ss := range s.sessions {
		for _, m := range ss.msgs {
			if m.ID == id && !m.Deleted {
				return opOK()
			}
		}
	}
	return notFound("no message " + id)
}

func (s *Server) handleGetEntries(c *Call) Reply {
	entries := map[string]any{}
	if scenes, ok := c.Param["Scence"].([]any); ok {
		for _, sc := range scenes {
			entries[strconv.FormatInt(asInt(sc), 10)] = []any{}
		}
	}
	return Reply{Data: map[string]any{"RetCode": 0, "RetMsg": "", "Entries": entries, "CanBeDazi": false, "DzData": map[string]any{}}}
}

// handleMsgDetails answers {MsgIDs: {id: message}} for the live messages
// of the session among MsgIDs.
func (s *Server) handleMsgDetails(c *Call) Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[c.Str("SessionID")]
	if !ok || ss.deleted {
		return notFound("no session " + c.Str("SessionID"))
	}
	want := map[string]bool{}
	if ids, ok := c.Param["MsgIDs"].([]any); ok {
		for _, id := range ids {
			want[asString(id)] = true
		}
	}
	out := map[string]any{}
	for _, m := range ss.msgs {
		if want[m.ID] && !m.Deleted {
			out[m.ID] = s.wireMessageLocked(m)
		}
	}
	return Reply{Data: map[string]any{"MsgIDs": out}}
}

// handleMarkAllRead clears the unread count of the session with the peer
// EncryptUin, or of every session when it is empty.
func (s *Server) handleMarkAllRead(c *Call) Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	enc := c.Str("EncryptUin")
	for _, ss := range s.sessions {
		if enc == "" || s.userLocked(ss.peer).EncryptUIN == enc {
			ss.unread = 0
		}
	}
	return opOK()
}

func (s *Server) handleSafetyHint(c *Call) Reply {
	return Reply{Data: map[string]any{"hint": ""}}
}

func (s *Server) handleFloatingIcon(c *Call) Reply {
	return Reply{Data: map[string]any{}}
}
