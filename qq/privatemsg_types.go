package qq

import "encoding/json"

// The reply types of the private-message API. Field names in JSON are the
// server's (and the reference library's models'); every field may be
// absent or null. Scalars use FlexInt / FlexString / FlexBool, so a number
// sent as a string (or the reverse) still decodes.

// User is a private-message peer or sender.
type User struct {
	Avatar      FlexString `json:"avatar"`
	EncryptUin  FlexString `json:"encrypt_uin"`
	Uin         FlexString `json:"uin"`
	IdentityPic FlexString `json:"identity_pic"`
	Nick        FlexString `json:"nick"`
	Identity    FlexInt    `json:"identity"` // -1 when absent
	Type        FlexInt    `json:"type"`     // -1 when absent
	IsConcern   FlexInt    `json:"is_concern"`
}

// UnmarshalJSON applies the reference defaults (identity and type -1).
func (u *User) UnmarshalJSON(b []byte) error {
	type plain User
	v := plain{Identity: -1, Type: -1}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*u = User(v)
	return nil
}

// MetaData is a message's content: text in Content; cards also carry
// Title, Pic and URL; images and videos Pic/URL, Width, Height, Duration
// and Size.
type MetaData struct {
	Title    FlexString `json:"title"`
	Content  FlexString `json:"content"`
	Pic      FlexString `json:"pic"`
	BizID    FlexString `json:"biz_id"`
	BizType  FlexInt    `json:"biz_type"`
	URL      FlexString `json:"url"`
	Width    FlexInt    `json:"width"`
	Height   FlexInt    `json:"height"`
	Duration FlexInt    `json:"Duration"`
	Size     FlexInt    `json:"Size"`
}

// Message is one private message.
type Message struct {
	ID          FlexString `json:"id"`
	MetaData    *MetaData  `json:"meta_data"`
	ClientKey   FlexString `json:"client_key"`
	FromUser    *User      `json:"from_user"`
	Time        FlexInt    `json:"time"`
	State       FlexInt    `json:"state"`
	Result      FlexInt    `json:"result"`
	Tips        FlexString `json:"tips"`
	Sequence    FlexInt    `json:"sequence"`
	ShowType    FlexInt    `json:"show_type"`
	MsgType     FlexInt    `json:"msg_type"`
	Confirm     FlexInt    `json:"confirm"`
	SortTime    FlexInt    `json:"sort_time"`
	ComplainTip FlexString `json:"complainTip"`
	ComplainURL FlexString `json:"complainUrl"`
}

// IsMedia reports whether the reference treats the message as an image or
// video (msg_type 2, 3, 5 or 6).
func (m *Message) IsMedia() bool {
	switch m.MsgType {
	case 2, 3, 5, 6:
		return true
	}
	return false
}

// Session is one private-message conversation.
type Session struct {
	SessionID        FlexString            `json:"session_id"`
	User             *User                 `json:"user"`
	NewMsg           *Message              `json:"new_msg"`
	NewMsgCnt        FlexInt               `json:"new_msg_cnt"`
	SortTime         FlexInt               `json:"sort_time"`
	URL              FlexString            `json:"url"`
	CreateTime       FlexInt               `json:"create_time"`
	From             FlexInt               `json:"from"`
	SmStarVirtualUin FlexString            `json:"SmStarVirtaulUin"` // sic
	Auth             FlexString            `json:"Auth"`
	Ext              map[string]FlexString `json:"Ext"`
	TailTags         []json.RawMessage     `json:"TailTags"`
}

// SessionList is a page of GetSessionList.
type SessionList struct {
	HasMore      FlexInt               `json:"has_more"`
	Msg          FlexString            `json:"msg"`
	NewMsgCnt    FlexInt               `json:"new_msg_cnt"`
	Sessions     []Session             `json:"sessions"`
	Subcode      FlexInt               `json:"subcode"`
	SettingGuide FlexInt               `json:"setting_guide"`
	State        FlexInt               `json:"state"`
	Extra        map[string]FlexString `json:"extra"`
}

// PatText is a "pat" (拍一拍) text.
type PatText struct {
	Nick   FlexString `json:"Nick"`
	PatTxt FlexString `json:"PatTxt"`
}

// MessageList is a page of GetMessage.
type MessageList struct {
	HasMore      FlexInt                    `json:"has_more"`
	Messages     []Message                  `json:"messages"`
	Msg          FlexString                 `json:"msg"`
	Session      *Session                   `json:"session"`
	Subcode      FlexInt                    `json:"subcode"`
	EndMsgSeq    FlexInt                    `json:"end_msg_seq"`
	Attach       map[string]json.RawMessage `json:"Attach"`
	PatInterval  FlexInt                    `json:"PatInterval"`
	PatMap       map[string]PatText         `json:"PatMap"`
	EncryptStar  FlexString                 `json:"EncryptStar"`
	LocationTips FlexString                 `json:"LocationTips"`
	NewMsgCnt    FlexInt                    `json:"NewMsgCnt"`
}

// SendResult is the reply of SendMessageAsync / StarSendSuperMsg.
type SendResult struct {
	Messages    []Message  `json:"messages"`
	Session     *Session   `json:"session"`
	Tips        FlexString `json:"tips"`
	IdentifyURL FlexString `json:"identify_url"`
	Msg         FlexString `json:"msg"`
	Reason      FlexInt    `json:"reason"`
	EndMsgSeq   FlexInt    `json:"end_msg_seq"`
	UpdateTime  FlexInt    `json:"update_time"`
}

// OperationResult is the reply of the write operations.
type OperationResult struct {
	Msg     FlexString `json:"msg"`
	Subcode FlexInt    `json:"subcode"`
	Tips    FlexString `json:"tips"`
}

// ConfigResult is the reply of GetConfig.
type ConfigResult struct {
	ConfigValue    FlexInt    `json:"config_value"`
	ConfigValueStr FlexString `json:"config_value_str"`
	Msg            FlexString `json:"msg"`
}

// MusicianCard is the reply of GetMusicianCard; the reference does not
// model its fields, so Data is the raw object.
type MusicianCard struct {
	Data json.RawMessage
}

// EntryItem is one chat-page entry.
type EntryItem struct {
	EntryType   FlexInt               `json:"EntryType"` // -1 when absent
	Icon        FlexString            `json:"Icon"`
	Title       FlexString            `json:"Title"`
	SkipScheme  FlexString            `json:"SkipScheme"`
	RightTopTag FlexString            `json:"RightTopTag"`
	Ext         map[string]FlexString `json:"Ext"`
}

// UnmarshalJSON applies the reference default (EntryType -1).
func (e *EntryItem) UnmarshalJSON(b []byte) error {
	type plain EntryItem
	v := plain{EntryType: -1}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*e = EntryItem(v)
	return nil
}

// ChatEntries is the reply of GetEntries: entries grouped by scene number
// (as a decimal string key).
type ChatEntries struct {
	RetCode   FlexInt                `json:"RetCode"`
	RetMsg    FlexString             `json:"RetMsg"`
	Entries   map[string][]EntryItem `json:"Entries"`
	CanBeDazi *FlexBool              `json:"CanBeDazi"`
	DzData    json.RawMessage        `json:"DzData"`
}

// MediaDetails is the reply of GetMsgDetails: message id -> message.
type MediaDetails struct {
	MsgIDs map[string]Message `json:"MsgIDs"`
}

// SafetyHint is the reply of GetSafetyHint.
type SafetyHint struct {
	Hint FlexString `json:"hint"`
}
