package bridge

import "time"

// Peer is a QQ Music user as the bridge shows it.
type Peer struct {
	// UIN is the user's QQ Music id (the session's user_id when replying).
	UIN string
	// EncryptUIN is the user's encrypted uin, as the API returns it.
	EncryptUIN string
	// Nick is the display name; it may change over time.
	Nick string
	// AvatarURL is the user's avatar, or "".
	AvatarURL string
}

// Session is one private-message conversation of the bridged account.
type Session struct {
	// ID is the QQ session_id.
	ID string
	// Peer is the other side of the conversation.
	Peer Peer
	// SortTime is the session's sort_time: it grows when the session
	// changes, but may tie with others' or (on some servers) not move.
	SortTime int64
	// NewMsgID is the id of the session's newest message as the session
	// list shows it ("" when absent); NewMsgCnt its count of unread ones.
	NewMsgID  string
	NewMsgCnt int
	// LastActive is when the session last changed, as far as the list
	// tells (its newest message's time, else its sort_time read as a
	// time); zero when unknown.
	LastActive time.Time
}

// MessageKind says how a QQ message is rendered.
type MessageKind int

const (
	// KindText is plain text in Text.
	KindText MessageKind = iota
	// KindImage is a picture in Media (msg_type 2, 3, 5 or 6 with a picture).
	KindImage
	// KindVideo is a video in Media.
	KindVideo
	// KindCard is a song, playlist or other card: Card is set.
	KindCard
	// KindUnknown is a type the bridge does not know; Fields holds what it
	// carried so that it can be shown, never dropped.
	KindUnknown
)

func (k MessageKind) String() string {
	switch k {
	case KindText:
		return "text"
	case KindImage:
		return "image"
	case KindVideo:
		return "video"
	case KindCard:
		return "card"
	default:
		return "unknown"
	}
}

// Media is an image or a video.
type Media struct {
	URL    string
	Width  int
	Height int
	// Duration of a video, when known.
	Duration time.Duration
	// Size in bytes, when known.
	Size int64
}

// Card is a rich message: a song, a playlist, a profile, ...
type Card struct {
	Title       string
	Description string
	CoverURL    string
	URL         string
}

// Field is a named value of a message the bridge cannot render otherwise.
type Field struct {
	Name  string
	Value string
}

// Message is one QQ private message in the bridge's terms.
type Message struct {
	// ID is the QQ message id; it identifies the message for de-duplication.
	ID string
	// SessionID is the QQ session the message belongs to.
	SessionID string
	// Sequence orders the messages of a session (then Time).
	Sequence int64
	// Time is when QQ says the message was sent.
	Time time.Time
	// Sender is who wrote it.
	Sender Peer
	// FromOwner is true when the bridged account itself wrote the message
	// (in the QQ Music app, or through the bridge).
	FromOwner bool
	// ClientKey is the client_key the sender attached, if any: the bridge's
	// own replies carry one derived from the Discord message id.
	ClientKey string
	// Type is the raw QQ msg_type.
	Type int
	Kind MessageKind
	// Text is the text (for text messages) or the caption.
	Text  string
	Media *Media
	Card  *Card
	// Fields describes an unknown message type.
	Fields []Field
}

// Less reports whether m sorts before o within a session: by Sequence, then
// Time, then ID.
func (m Message) Less(o Message) bool {
	if m.Sequence != o.Sequence {
		return m.Sequence < o.Sequence
	}
	if !m.Time.Equal(o.Time) {
		return m.Time.Before(o.Time)
	}
	return m.ID < o.ID
}

// Reply is a message an allowed Discord member wrote in a session channel,
// to be sent to QQ.
type Reply struct {
	// ChannelID is the Discord channel (or forum post) it was written in.
	ChannelID string
	// MessageID is the Discord message id; the QQ client_key derives from it.
	MessageID string
	// AuthorID and AuthorName identify the member.
	AuthorID   string
	AuthorName string
	// Content is the message text.
	Content string
	// AttachmentURLs are the URLs of the attached files.
	AttachmentURLs []string
	// ReplyTo is the Discord message id it answers, or "".
	ReplyTo string
	// Quote is what it answers, as QQ is shown it, or nil.
	Quote *Quote
	// Attachments are the attached files (AttachmentURLs lists their
	// URLs too).
	Attachments []Attachment
	// Unsendable, when the message holds nothing QQ can take, names what
	// it held (e.g. "a poll"), for the refusal shown to the member.
	Unsendable string
	// Time is when Discord says it was written.
	Time time.Time
}

// ChannelRef is where a session lives in Discord.
type ChannelRef struct {
	// ChannelID is the text channel, or the forum post's thread id.
	ChannelID string
	// ParentID is the category (channel mode) or the forum (forum mode).
	ParentID string
	// WebhookID and WebhookToken are the webhook that posts as QQ users.
	WebhookID    string
	WebhookToken string
	// Name is the channel or post name last given.
	Name string
}
