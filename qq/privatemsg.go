package qq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
)

// Modules of the private-message API.
const (
	ModulePrivateMsgRead  = "music.privateMsg.PrivateMsgRead"
	ModulePrivateMsgWrite = "music.privateMsg.PrivateMsgWrite"
	ModuleMusicianCard    = "music.privateMsg.MusicianMsgCardSvr"
	ModuleDaziEntry       = "music.dazi.DzEntrySrv"
)

// maxPages bounds the iterators, so a server that keeps saying has_more
// cannot make them loop for ever.
const maxPages = 10000

// pmCall sends one private-message call and decodes its data into T. It
// refuses locally, before any request, when there is no logged-in
// credential.
func pmCall[T any](ctx context.Context, c *Client, module, method string, param Object) (*T, error) {
	raw, err := c.pmRaw(ctx, module, method, param)
	if err != nil {
		return nil, err
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, &MalformedResponseError{What: method + " data", Excerpt: excerpt(raw, c.Credential().secrets()...), Err: err}
	}
	return &v, nil
}

func (c *Client) pmRaw(ctx context.Context, module, method string, param Object) (json.RawMessage, error) {
	if !c.Credential().HasLogin() {
		return nil, fmt.Errorf("%s: %w", method, ErrCredentialRequired)
	}
	return c.Call(ctx, Request{Module: module, Method: method, Param: param})
}

// SessionListParams are the parameters of GetSessionList. Zero values mean
// the reference defaults (order 1, size 20, FansFlag 1).
type SessionListParams struct {
	LastID   string // session_id of the previous page's last session
	LastTime int64  // sort_time of that session
	Order    int    // 0 means 1, unless OrderSet
	Size     int    // 0 means 20, unless SizeSet
	// OrderSet and SizeSet send Order and Size as they are, 0 included.
	OrderSet, SizeSet bool
	From              int
	// EncryptFromUin selects a star's super-message sessions; when set,
	// FansFlag is not sent.
	EncryptFromUin string
	// FansFlag is sent when EncryptFromUin is empty: nil means 1.
	FansFlag *int
	// NoFansFlag leaves FansFlag out.
	NoFansFlag bool
}

func (p SessionListParams) param() Object {
	m := Object{
		{"last_id", p.LastID},
		{"order", orDefault(p.Order, p.OrderSet, 1)},
		{"size", orDefault(p.Size, p.SizeSet, 20)},
		{"last_time", p.LastTime},
		{"from", p.From},
	}
	switch {
	case p.EncryptFromUin != "":
		m = append(m, Field{"EncryptFromUin", p.EncryptFromUin})
	case p.NoFansFlag:
	case p.FansFlag != nil:
		m = append(m, Field{"FansFlag", *p.FansFlag})
	default:
		m = append(m, Field{"FansFlag", 1})
	}
	return m
}

// orDefault is v, or def when v is 0 and was not set explicitly.
func orDefault(v int, set bool, def int) int {
	if v == 0 && !set {
		return def
	}
	return v
}

// GetSessionList reads one page of private-message sessions
// (PrivateMsgRead GetSessionList).
func (c *Client) GetSessionList(ctx context.Context, p SessionListParams) (*SessionList, error) {
	return pmCall[SessionList](ctx, c, ModulePrivateMsgRead, "GetSessionList", p.param())
}

// Sessions iterates over every session, page after page while has_more is
// 1 (the next page starts after the last session's session_id and
// sort_time). Each session is yielded once. An error is yielded last.
func (c *Client) Sessions(ctx context.Context, p SessionListParams) iter.Seq2[Session, error] {
	return func(yield func(Session, error) bool) {
		seen := map[FlexString]bool{}
		for range maxPages {
			page, err := c.GetSessionList(ctx, p)
			if err != nil {
				yield(Session{}, err)
				return
			}
			fresh := 0
			for _, s := range page.Sessions {
				if s.SessionID != "" {
					if seen[s.SessionID] {
						continue
					}
					seen[s.SessionID] = true
				}
				fresh++
				if !yield(s, nil) {
					return
				}
			}
			if page.HasMore != 1 || len(page.Sessions) == 0 || fresh == 0 {
				return
			}
			last := page.Sessions[len(page.Sessions)-1]
			p.LastID, p.LastTime = string(last.SessionID), int64(last.SortTime)
		}
		yield(Session{}, errors.New("qq: session list did not end after 10000 pages"))
	}
}

// MessagesParams are the parameters of GetMessage. Zero values mean the
// reference defaults (order 1, size 50); empty strings are not sent.
type MessagesParams struct {
	SessionID  string
	UserID     string // the peer's uin
	LastID     string // id of the previous page's last message
	WnsID      string
	Order      int // 0 means 1, unless OrderSet
	Size       int // 0 means 50, unless SizeSet
	Flag       int
	LocationID string
	UpdateTime int64 // sent when non-zero, or when UpdateTimeSet
	// OrderSet, SizeSet and UpdateTimeSet send Order, Size and UpdateTime
	// as they are, 0 included.
	OrderSet, SizeSet, UpdateTimeSet bool
}

func (p MessagesParams) param() Object {
	m := Object{{"order", orDefault(p.Order, p.OrderSet, 1)}, {"size", orDefault(p.Size, p.SizeSet, 50)}, {"flag", p.Flag}}
	for _, f := range []Field{{"session_id", p.SessionID}, {"last_id", p.LastID}, {"wns_id", p.WnsID}, {"user_id", p.UserID}, {"location_id", p.LocationID}} {
		if f.Value != "" {
			m = append(m, f)
		}
	}
	if p.UpdateTime != 0 || p.UpdateTimeSet {
		m = append(m, Field{"update_time", p.UpdateTime})
	}
	return m
}

// GetMessages reads one page of a session's messages (PrivateMsgRead
// GetMessage). The order of a page is not documented: use SortMessages.
func (c *Client) GetMessages(ctx context.Context, p MessagesParams) (*MessageList, error) {
	return pmCall[MessageList](ctx, c, ModulePrivateMsgRead, "GetMessage", p.param())
}

// Messages iterates over a session's messages page after page while
// has_more is 1; the next page starts after the last message of the page
// as the server sent it, which walks the whole history whether the server
// serves newest-first (going back in time) or oldest-first (going
// forward). Messages are yielded once each (de-duplicated by id), in the
// server's order: sort them with SortMessages when order matters. A page
// that brings nothing new ends the walk. An error is yielded last.
func (c *Client) Messages(ctx context.Context, p MessagesParams) iter.Seq2[Message, error] {
	return func(yield func(Message, error) bool) {
		seen := map[FlexString]bool{}
		for range maxPages {
			page, err := c.GetMessages(ctx, p)
			if err != nil {
				yield(Message{}, err)
				return
			}
			fresh := 0
			for _, m := range page.Messages {
				if m.ID != "" {
					if seen[m.ID] {
						continue
					}
					seen[m.ID] = true
				}
				fresh++
				if !yield(m, nil) {
					return
				}
			}
			if page.HasMore != 1 || len(page.Messages) == 0 || fresh == 0 {
				return
			}
			last := page.Messages[len(page.Messages)-1]
			if last.ID == "" {
				yield(Message{}, &MalformedResponseError{What: "GetMessage page says has_more but its last message has no id"})
				return
			}
			p.LastID = string(last.ID)
		}
		yield(Message{}, errors.New("qq: message list did not end after 10000 pages"))
	}
}

// SortMessages orders messages oldest first: by sequence, then time, then
// id.
func SortMessages(msgs []Message) {
	slices.SortStableFunc(msgs, func(a, b Message) int {
		switch {
		case a.Sequence != b.Sequence:
			return cmpInt(a.Sequence, b.Sequence)
		case a.Time != b.Time:
			return cmpInt(a.Time, b.Time)
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
}

func cmpInt(a, b FlexInt) int {
	if a < b {
		return -1
	}
	return 1
}

// SendMessageParams are the parameters of SendMessageAsync.
type SendMessageParams struct {
	UserID  string // the peer's uin (required)
	MsgType int
	// MetaData is the content; text travels in "content" (see TextMetaData).
	MetaData   map[string]any
	SessionID  string
	LastID     string
	LastMsgSeq int64
	Entrance   int
	// ClientKey identifies the message on the client side; NewClientKey
	// makes one.
	ClientKey    string
	SourceFlag   *int
	MsgID        string // original message id when resending
	UserInput    string
	SuperMsgFlag int // sent (0 included) unless NoSuperMsgFlag
	// NoSuperMsgFlag leaves super_msg_flag out.
	NoSuperMsgFlag bool
	// StarSend uses StarSendSuperMsg (a star's super message) instead.
	StarSend bool
}

// TextMetaData is the meta_data of a text message.
func TextMetaData(text string) map[string]any { return map[string]any{"content": text} }

// NewClientKey returns a random client_key.
func NewClientKey() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (p SendMessageParams) param() Object {
	m := Object{
		{"last_msg_seq", p.LastMsgSeq},
		{"user_id", p.UserID},
		{"entrance", p.Entrance},
		{"client_key", p.ClientKey},
		{"msg_type", p.MsgType},
	}
	// Then the optional ones, in the reference's order, when given.
	str := func(k, v string) {
		if v != "" {
			m = append(m, Field{k, v})
		}
	}
	str("session_id", p.SessionID)
	str("last_id", p.LastID)
	if p.MetaData != nil {
		m = append(m, Field{"meta_data", p.MetaData})
	}
	if p.SourceFlag != nil {
		m = append(m, Field{"source_flag", *p.SourceFlag})
	}
	str("msg_id", p.MsgID)
	str("user_input", p.UserInput)
	if !p.NoSuperMsgFlag {
		m = append(m, Field{"super_msg_flag", p.SuperMsgFlag})
	}
	return m
}

// SendMessage sends a private message (PrivateMsgWrite SendMessageAsync, or
// StarSendSuperMsg when StarSend is set).
func (c *Client) SendMessage(ctx context.Context, p SendMessageParams) (*SendResult, error) {
	if p.UserID == "" {
		return nil, errors.New("qq: SendMessage needs the peer's UserID")
	}
	method := "SendMessageAsync"
	if p.StarSend {
		method = "StarSendSuperMsg"
	}
	return pmCall[SendResult](ctx, c, ModulePrivateMsgWrite, method, p.param())
}

// DeleteSession deletes a session (PrivateMsgWrite DeleteSession).
func (c *Client) DeleteSession(ctx context.Context, sessionID string, superMsgFlag int) (*OperationResult, error) {
	return pmCall[OperationResult](ctx, c, ModulePrivateMsgWrite, "DeleteSession",
		Object{{"session_id", sessionID}, {"super_msg_flag", superMsgFlag}})
}

// DeleteMessage deletes one message (PrivateMsgWrite DeleteMessage).
func (c *Client) DeleteMessage(ctx context.Context, sessionID, msgID string, superMsgFlag int) (*OperationResult, error) {
	return pmCall[OperationResult](ctx, c, ModulePrivateMsgWrite, "DeleteMessage",
		Object{{"session_id", sessionID}, {"msg_id", msgID}, {"super_msg_flag", superMsgFlag}})
}

// ClearSession removes every message of a session (PrivateMsgWrite
// ClearSession).
func (c *Client) ClearSession(ctx context.Context, sessionID string, superMsgFlag int) (*OperationResult, error) {
	return pmCall[OperationResult](ctx, c, ModulePrivateMsgWrite, "ClearSession",
		Object{{"session_id", sessionID}, {"super_msg_flag", superMsgFlag}})
}

// SetConfig writes a private-message setting (PrivateMsgWrite SetConfig).
func (c *Client) SetConfig(ctx context.Context, configType int, value string) (*OperationResult, error) {
	return pmCall[OperationResult](ctx, c, ModulePrivateMsgWrite, "SetConfig",
		Object{{"config_type", configType}, {"config_value_str", value}})
}

// GetConfig reads a private-message setting (PrivateMsgRead GetConfig).
func (c *Client) GetConfig(ctx context.Context, configType int, value string) (*ConfigResult, error) {
	return pmCall[ConfigResult](ctx, c, ModulePrivateMsgRead, "GetConfig",
		Object{{"config_type", configType}, {"config_value_str", value}})
}

// GetMusicianCard reads a musician's message card (MusicianMsgCardSvr
// GetMusicianCard).
func (c *Client) GetMusicianCard(ctx context.Context, encUin string) (*MusicianCard, error) {
	raw, err := c.pmRaw(ctx, ModuleMusicianCard, "GetMusicianCard", Object{{"EncUin", encUin}})
	if err != nil {
		return nil, err
	}
	if !json.Valid(raw) {
		return nil, &MalformedResponseError{What: "GetMusicianCard data", Excerpt: excerpt(raw)}
	}
	return &MusicianCard{Data: raw}, nil
}

// CardActionParams are the parameters of ActCardMsgCallBack.
type CardActionParams struct {
	TargetUserID string
	MsgType      int
	Confirm      int
	MsgID        string
	Ext          map[string]any // sent when not empty
}

// ReportCardAction reports the user's answer to a card message
// (PrivateMsgWrite ActCardMsgCallBack).
func (c *Client) ReportCardAction(ctx context.Context, p CardActionParams) (*OperationResult, error) {
	m := Object{{"target_user_id", p.TargetUserID}, {"msg_type", p.MsgType}, {"confirm", p.Confirm}, {"msg_id", p.MsgID}}
	if len(p.Ext) > 0 {
		m = append(m, Field{"ext", p.Ext})
	}
	return pmCall[OperationResult](ctx, c, ModulePrivateMsgWrite, "ActCardMsgCallBack", m)
}

// ChatEntriesParams are the parameters of GetEntries.
type ChatEntriesParams struct {
	Scenes       []int
	FromUserType *int              // sent when not nil
	UserID       string            // sent when not empty
	Ext          map[string]string // sent when not nil
}

// GetChatEntries reads the chat page's entries (PrivateMsgRead GetEntries).
func (c *Client) GetChatEntries(ctx context.Context, p ChatEntriesParams) (*ChatEntries, error) {
	scenes := p.Scenes
	if scenes == nil {
		scenes = []int{}
	}
	m := Object{{"Scence", scenes}} // sic
	if p.FromUserType != nil {
		m = append(m, Field{"FromUserType", *p.FromUserType})
	}
	if p.UserID != "" {
		m = append(m, Field{"UserID", p.UserID})
	}
	if p.Ext != nil {
		m = append(m, Field{"Ext", p.Ext})
	}
	return pmCall[ChatEntries](ctx, c, ModulePrivateMsgRead, "GetEntries", m)
}

// GetMediaDetails reads the details of image and video messages
// (PrivateMsgRead GetMsgDetails).
func (c *Client) GetMediaDetails(ctx context.Context, sessionID string, msgIDs []string) (*MediaDetails, error) {
	if msgIDs == nil {
		msgIDs = []string{}
	}
	return pmCall[MediaDetails](ctx, c, ModulePrivateMsgRead, "GetMsgDetails",
		Object{{"SessionID", sessionID}, {"MsgIDs", msgIDs}})
}

// MarkAllRead marks messages read (PrivateMsgWrite SetAllMsgMardRead).
func (c *Client) MarkAllRead(ctx context.Context, cmdFlag int, encryptUin string) (*OperationResult, error) {
	return pmCall[OperationResult](ctx, c, ModulePrivateMsgWrite, "SetAllMsgMardRead",
		Object{{"CmdFlag", cmdFlag}, {"EncryptUin", encryptUin}})
}

// GetSafetyHint reads the safety hint shown for a peer (PrivateMsgRead
// GetSafetyHint).
func (c *Client) GetSafetyHint(ctx context.Context, encUin string, close int) (*SafetyHint, error) {
	return pmCall[SafetyHint](ctx, c, ModulePrivateMsgRead, "GetSafetyHint",
		Object{{"encUin", encUin}, {"close", close}})
}

// GetFriendFloatingIcon reads the chat page's friendship badge
// (music.dazi.DzEntrySrv GetFriendFloatingIcon); the reference does not
// model the reply, so it is returned raw.
func (c *Client) GetFriendFloatingIcon(ctx context.Context, targetEncUin string) (json.RawMessage, error) {
	raw, err := c.pmRaw(ctx, ModuleDaziEntry, "GetFriendFloatingIcon", Object{{"TargetEncuin", targetEncUin}})
	if err != nil {
		return nil, err
	}
	if !json.Valid(raw) {
		return nil, &MalformedResponseError{What: "GetFriendFloatingIcon data", Excerpt: excerpt(raw)}
	}
	return raw, nil
}
