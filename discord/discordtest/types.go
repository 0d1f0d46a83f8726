package discordtest

import (
	"encoding/json"
	"time"
)

// Channel types (Discord's numbering).
const (
	ChannelTypeText           = 0
	ChannelTypeVoice          = 2
	ChannelTypeCategory       = 4
	ChannelTypeAnnouncement   = 5
	ChannelTypeAnnounceThread = 10
	ChannelTypePublicThread   = 11
	ChannelTypePrivateThread  = 12
	ChannelTypeForum          = 15
)

// Permission bits used by the double.
const (
	PermCreateInstantInvite int64 = 1 << 0
	PermAdministrator       int64 = 1 << 3
	PermManageChannels      int64 = 1 << 4
	PermManageGuild         int64 = 1 << 5
	PermAddReactions        int64 = 1 << 6
	PermViewChannel         int64 = 1 << 10
	PermSendMessages        int64 = 1 << 11
	PermManageMessages      int64 = 1 << 13
	PermEmbedLinks          int64 = 1 << 14
	PermAttachFiles         int64 = 1 << 15
	PermReadMessageHistory  int64 = 1 << 16
	PermMentionEveryone     int64 = 1 << 17
	PermManageRoles         int64 = 1 << 28
	PermManageWebhooks      int64 = 1 << 29
	PermManageThreads       int64 = 1 << 34
	PermSendInThreads       int64 = 1 << 38

	// PermAll is every permission bit Discord defines today.
	PermAll int64 = 1<<51 - 1
)

// Gateway intents the double looks at.
const (
	IntentGuilds         = 1 << 0
	IntentGuildMembers   = 1 << 1
	IntentGuildMessages  = 1 << 9
	IntentGuildReactions = 1 << 10
	IntentDirectMessages = 1 << 12
	IntentMessageContent = 1 << 15
)

// Message flags.
const (
	FlagSuppressEmbeds = 1 << 2
	FlagEphemeral      = 1 << 6
	FlagLoading        = 1 << 7
)

// User is a Discord user as it appears on the wire.
type User struct {
	ID            string `json:"id"`
	Username      string `json:"username"`
	GlobalName    string `json:"global_name,omitempty"`
	Discriminator string `json:"discriminator"`
	Avatar        string `json:"avatar,omitempty"`
	Bot           bool   `json:"bot,omitempty"`
}

// Role is a guild role. Permissions is sent as a decimal string.
type Role struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Color       int    `json:"color"`
	Hoist       bool   `json:"hoist"`
	Position    int    `json:"position"`
	Permissions int64  `json:"permissions,string"`
	Managed     bool   `json:"managed"`
	Mentionable bool   `json:"mentionable"`
}

// Member is a guild member.
type Member struct {
	User     *User     `json:"user,omitempty"`
	Nick     string    `json:"nick,omitempty"`
	Roles    []string  `json:"roles"`
	JoinedAt time.Time `json:"joined_at"`
	Deaf     bool      `json:"deaf"`
	Mute     bool      `json:"mute"`
}

// Overwrite is a channel permission overwrite (Type 0 role, 1 member).
type Overwrite struct {
	ID    string `json:"id"`
	Type  int    `json:"type"`
	Allow int64  `json:"allow,string"`
	Deny  int64  `json:"deny,string"`
}

// ThreadMetadata is the thread-only part of a channel.
type ThreadMetadata struct {
	Archived            bool      `json:"archived"`
	AutoArchiveDuration int       `json:"auto_archive_duration"`
	ArchiveTimestamp    time.Time `json:"archive_timestamp"`
	Locked              bool      `json:"locked"`
	Invitable           bool      `json:"invitable,omitempty"`
}

// ForumTag is a tag a forum channel offers.
type ForumTag struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Moderated bool   `json:"moderated"`
	EmojiID   string `json:"emoji_id,omitempty"`
	EmojiName string `json:"emoji_name,omitempty"`
}

// Channel is a guild channel, category or thread.
type Channel struct {
	ID                   string          `json:"id"`
	Type                 int             `json:"type"`
	GuildID              string          `json:"guild_id,omitempty"`
	Name                 string          `json:"name"`
	Topic                string          `json:"topic,omitempty"`
	ParentID             string          `json:"parent_id,omitempty"`
	Position             int             `json:"position"`
	NSFW                 bool            `json:"nsfw"`
	PermissionOverwrites []Overwrite     `json:"permission_overwrites"`
	LastMessageID        string          `json:"last_message_id,omitempty"`
	RateLimitPerUser     int             `json:"rate_limit_per_user"`
	OwnerID              string          `json:"owner_id,omitempty"`
	ThreadMetadata       *ThreadMetadata `json:"thread_metadata,omitempty"`
	MessageCount         int             `json:"message_count,omitempty"`
	MemberCount          int             `json:"member_count,omitempty"`
	Flags                int             `json:"flags"`
	AvailableTags        []ForumTag      `json:"available_tags,omitempty"`
	AppliedTags          []string        `json:"applied_tags,omitempty"`
}

// IsThread reports whether the channel is a thread (types 10, 11, 12).
func (c Channel) IsThread() bool {
	return c.Type == ChannelTypeAnnounceThread || c.Type == ChannelTypePublicThread || c.Type == ChannelTypePrivateThread
}

// Attachment is a file attached to a message. Data holds the bytes the
// double received (tests only; never sent on the wire). URL points back at
// the double, which serves the bytes without authentication like Discord's CDN.
type Attachment struct {
	ID          string `json:"id"`
	Filename    string `json:"filename"`
	Description string `json:"description,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Size        int    `json:"size"`
	URL         string `json:"url"`
	ProxyURL    string `json:"proxy_url"`
	Data        []byte `json:"-"`
}

// EmbedFooter is an embed's footer.
type EmbedFooter struct {
	Text    string `json:"text"`
	IconURL string `json:"icon_url,omitempty"`
}

// EmbedMedia is an embed's image, thumbnail or video.
type EmbedMedia struct {
	URL    string `json:"url"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
}

// EmbedAuthor is an embed's author line.
type EmbedAuthor struct {
	Name    string `json:"name"`
	URL     string `json:"url,omitempty"`
	IconURL string `json:"icon_url,omitempty"`
}

// EmbedField is one field of an embed.
type EmbedField struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Inline bool   `json:"inline,omitempty"`
}

// Embed is a rich embed.
type Embed struct {
	Type        string       `json:"type,omitempty"`
	Title       string       `json:"title,omitempty"`
	Description string       `json:"description,omitempty"`
	URL         string       `json:"url,omitempty"`
	Timestamp   string       `json:"timestamp,omitempty"`
	Color       int          `json:"color,omitempty"`
	Footer      *EmbedFooter `json:"footer,omitempty"`
	Image       *EmbedMedia  `json:"image,omitempty"`
	Thumbnail   *EmbedMedia  `json:"thumbnail,omitempty"`
	Author      *EmbedAuthor `json:"author,omitempty"`
	Fields      []EmbedField `json:"fields,omitempty"`
}

// Emoji identifies a reaction emoji: Name is the unicode emoji or the custom
// emoji's name, ID is set for custom emojis.
type Emoji struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name"`
}

// Reaction is one emoji's reactions on a message. Users lists who reacted
// (tests only).
type Reaction struct {
	Count int      `json:"count"`
	Me    bool     `json:"me"`
	Emoji Emoji    `json:"emoji"`
	Users []string `json:"-"`
}

// MessageReference points at the message a reply answers.
type MessageReference struct {
	Type            int    `json:"type,omitempty"`
	MessageID       string `json:"message_id,omitempty"`
	ChannelID       string `json:"channel_id,omitempty"`
	GuildID         string `json:"guild_id,omitempty"`
	FailIfNotExists *bool  `json:"fail_if_not_exists,omitempty"`
}

// AllowedMentions is the allowed_mentions object a request carried.
// ParseNull is true when the request sent "parse": null.
type AllowedMentions struct {
	Parse       []string `json:"parse"`
	Users       []string `json:"users,omitempty"`
	Roles       []string `json:"roles,omitempty"`
	RepliedUser bool     `json:"replied_user,omitempty"`
	ParseNull   bool     `json:"-"`
}

// Pings records who a message would have notified on Discord, after
// allowed_mentions was applied.
type Pings struct {
	Everyone bool     // @everyone or @here pinged
	Users    []string // user ids pinged (content mentions and replied user)
	Roles    []string // role ids pinged
}

// None reports whether nobody at all was pinged.
func (p Pings) None() bool { return !p.Everyone && len(p.Users) == 0 && len(p.Roles) == 0 }

// MessageInteraction is the interaction metadata on a response message.
type MessageInteraction struct {
	ID   string `json:"id"`
	Type int    `json:"type"`
	Name string `json:"name"`
	User User   `json:"user"`
}

// Message is a stored message. The fields tagged `json:"-"` are for tests:
// what allowed_mentions the request carried, who would have been pinged, the
// avatar_url override of a webhook execution, and whether the message was
// ephemeral (only ever visible through an Interaction handle).
type Message struct {
	ID                string              `json:"id"`
	Type              int                 `json:"type"`
	ChannelID         string              `json:"channel_id"`
	GuildID           string              `json:"guild_id,omitempty"`
	Author            User                `json:"author"`
	Content           string              `json:"content"`
	Timestamp         time.Time           `json:"timestamp"`
	EditedTimestamp   *time.Time          `json:"edited_timestamp"`
	TTS               bool                `json:"tts"`
	MentionEveryone   bool                `json:"mention_everyone"`
	Mentions          []User              `json:"mentions"`
	MentionRoles      []string            `json:"mention_roles"`
	Attachments       []Attachment        `json:"attachments"`
	Embeds            []Embed             `json:"embeds"`
	Reactions         []Reaction          `json:"reactions,omitempty"`
	Pinned            bool                `json:"pinned"`
	WebhookID         string              `json:"webhook_id,omitempty"`
	ApplicationID     string              `json:"application_id,omitempty"`
	MessageReference  *MessageReference   `json:"message_reference,omitempty"`
	ReferencedMessage *Message            `json:"referenced_message,omitempty"`
	Flags             int                 `json:"flags"`
	Components        json.RawMessage     `json:"components,omitempty"`
	Poll              json.RawMessage     `json:"poll,omitempty"`
	Interaction       *MessageInteraction `json:"interaction,omitempty"`
	Thread            *Channel            `json:"thread,omitempty"`
	Nonce             string              `json:"nonce,omitempty"`

	AllowedMentions *AllowedMentions `json:"-"`
	Pinged          Pings            `json:"-"`
	AvatarURL       string           `json:"-"`
	Ephemeral       bool             `json:"-"`
}

// Webhook is a channel webhook. Token is present for incoming webhooks (type 1).
type Webhook struct {
	ID            string `json:"id"`
	Type          int    `json:"type"`
	GuildID       string `json:"guild_id"`
	ChannelID     string `json:"channel_id"`
	Name          string `json:"name"`
	Avatar        string `json:"avatar,omitempty"`
	Token         string `json:"token,omitempty"`
	ApplicationID string `json:"application_id,omitempty"`
	User          *User  `json:"user,omitempty"`
	URL           string `json:"url,omitempty"`
}

// Command is a registered application command.
type Command struct {
	ID                       string          `json:"id"`
	Type                     int             `json:"type"`
	ApplicationID            string          `json:"application_id"`
	GuildID                  string          `json:"guild_id,omitempty"`
	Name                     string          `json:"name"`
	Description              string          `json:"description"`
	Options                  json.RawMessage `json:"options,omitempty"`
	DefaultMemberPermissions *string         `json:"default_member_permissions"`
	Version                  string          `json:"version"`
}

// RequestRecord is one REST request the double answered.
type RequestRecord struct {
	Method      string
	Path        string // without the /api/vN prefix, e.g. /channels/123/messages
	Query       string
	Version     int    // 9 or 10; 0 for paths outside /api
	Status      int    // 0 when no answer was given (see DelayRoute, ApplyThenFail)
	ContentType string // request Content-Type (application/json, multipart/form-data; ...)
	Body        []byte // request body, at most 64 KiB kept
	Time        time.Time
}
