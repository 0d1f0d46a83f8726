package bridge

import (
	"context"
	"errors"
)

// QQ is the QQ Music side of the bridge, as the engine needs it. Package qq
// provides the client; an adapter turns it into this port.
//
// Errors: ErrLoginRequired (wrapped) when the credential is missing or
// expired and a refresh could not fix it; ErrRateLimited (wrapped) when the
// server's risk control refused the call; anything else is transient.
type QQ interface {
	// Self returns the bridged account.
	Self(ctx context.Context) (Peer, error)

	// ChangedSessions returns the sessions that may have changed since the
	// watermark since, newest first: every session of the list's first
	// page with its change signals (SortTime, NewMsgID, NewMsgCnt): the
	// sessions tied with the watermark, or changed without a newer
	// SortTime, are at the top of the list; then, page after page, those
	// whose SortTime is newer than since. An idle poll costs one request
	// whatever the number of sessions; the engine compares the signals with
	// what it stored.
	ChangedSessions(ctx context.Context, since int64) ([]Session, error)

	// Messages returns the messages of a session newer than the read
	// position after, in session order (by sequence where messages have
	// one, else by their place in the server's pages), at most the newest
	// max of them when max > 0. Messages without a sequence are never left
	// out; some already known may be returned (the engine de-duplicates by
	// message id). When the conversation was deleted and started again (its
	// sequences went back), the new conversation's messages are returned.
	// It works whichever order the server pages in, starts an oldest-first
	// server at after.MsgID (so a restart does not re-read the history) and
	// reads a bounded number of pages.
	Messages(ctx context.Context, sessionID string, after ReadPos, max int) ([]Message, error)

	// SendText sends text to the peer of a session with the given
	// client_key and returns the QQ message id (or "" when the server did
	// not say). Sending twice with the same key may deliver twice: callers
	// reconcile with FindSent first.
	SendText(ctx context.Context, s OutgoingText) (string, error)

	// FindSent looks for a message carrying clientKey among the recent
	// messages of a session and returns its id.
	FindSent(ctx context.Context, sessionID, clientKey string) (id string, found bool, err error)

	// MaxTextLen is the longest text, in characters, one QQ message takes.
	MaxTextLen() int
}

// ReadPos is how far a session was read: the newest message recorded
// (MsgID) and the highest sequence recorded (Seq). The zero value reads
// from the newest messages back.
type ReadPos struct {
	Seq   int64
	MsgID string
}

// OutgoingText is one text message to send to QQ.
type OutgoingText struct {
	SessionID string
	// PeerUIN is the user_id of the receiver.
	PeerUIN   string
	Text      string
	ClientKey string
}

// Discord is the Discord side of the bridge, as the engine needs it.
// Package discord implements it.
type Discord interface {
	// EnsureChannel returns the channel (or forum post) of a session,
	// creating it when have is nil or no longer exists, renaming it when the
	// peer's nick changed, and finding or creating its webhook. When have
	// is nil it first adopts a channel it made earlier for the session (for
	// example found by its topic): the bridge may have died between the
	// creation and recording it, and must not leave a duplicate behind.
	EnsureChannel(ctx context.Context, s Session, have *ChannelRef) (ChannelRef, error)

	// Render turns a QQ message into what Post posts, exactly: the engine
	// records it durably with the first attempt and uses the recorded
	// bytes for every later attempt and reconciliation, never a new
	// rendering. An error is permanent (the message cannot be shown).
	Render(m Message) (Rendered, error)

	// Post posts a recorded rendering into a session channel as its sender
	// and returns the Discord message ids in order (a long message is
	// split).
	Post(ctx context.Context, ch ChannelRef, r Rendered) ([]string, error)

	// FindPosted reports whether the recorded rendering r was already
	// posted into ch after the Discord message afterID (an attempt whose
	// outcome is unknown), and returns its ids if so. It compares what is
	// in the channel with r, never with a re-rendering.
	FindPosted(ctx context.Context, ch ChannelRef, afterID string, r Rendered) (ids []string, found bool, err error)

	// RepliesAfter returns the replies allowed members wrote in a channel
	// after the Discord message afterID, oldest first: the catch-up after
	// a reconnect or a restart.
	RepliesAfter(ctx context.Context, channelID, afterID string) ([]Reply, error)

	// PostNotice posts a notice of the bridge (as the bot, not as a QQ
	// user) into a session channel and returns its message id: the
	// placeholder of a QQ message that could not be shown. Posting twice
	// with the same nonce (at most 25 characters) within a few minutes
	// posts once.
	PostNotice(ctx context.Context, ch ChannelRef, nonce, text string) (string, error)

	// EditNotice rewords a notice posted with PostNotice; DeleteNotice
	// deletes it. Both are idempotent, and a notice (or channel) no longer
	// there is done, not an error.
	EditNotice(ctx context.Context, channelID, messageID, text string) error
	DeleteNotice(ctx context.Context, channelID, messageID string) error

	// LastMessageIDs returns the id of the newest message of each channel
	// (and active forum post) of the guild, in one or two requests whatever
	// their number: after a reconnect, the engine reads only the session
	// channels with a message newer than it caught up to. A session
	// channel absent from the map (an archived post) is read to be safe.
	LastMessageIDs(ctx context.Context) (map[string]string, error)

	// MarkDelivered marks a member's message as sent to QQ (and takes off
	// an earlier failed mark: a reply delivered by /retry); MarkFailed
	// marks it as failed and says why. Both are idempotent.
	MarkDelivered(ctx context.Context, channelID, messageID string) error
	MarkFailed(ctx context.Context, channelID, messageID, reason string) error
}

// Rendered is what the Discord port posts for one QQ message, exactly
// (text, sender name and avatar, embeds of every part): opaque, versioned
// bytes the adapter defines, kept in the outbox with the first attempt.
type Rendered []byte

// DiscordHandler receives what happens on the Discord side.
type DiscordHandler interface {
	// HandleReply is called for each message an allowed member writes in a
	// session channel. It returns only once the reply is durably queued; a
	// reply whose handling failed is found again by the next catch-up.
	HandleReply(ctx context.Context, r Reply) error
	// Resumed is called after every (re)connection to the gateway, before
	// any message of the new session is handed to HandleReply, and when a
	// live message could not be handled, before the next one is: the
	// engine then catches up with RepliesAfter, and the replies of a
	// channel that may have missed something wait for its catch-up. It
	// does not block.
	Resumed(ctx context.Context)
}

// MissedHandler is implemented by a DiscordHandler that can catch up a
// single channel. An adapter that could not take in a live message of a
// channel (handling it failed, or its queue was full) calls Missed rather
// than Resumed, before it hands over the next message: the message is in
// the channel's history, and the channel's newer replies wait for the
// catch-up of that channel only. It does not block.
type MissedHandler interface {
	Missed(ctx context.Context, channelID string)
}

var (
	// ErrLoginRequired means QQ refused the credential and a refresh could
	// not fix it: a new login is needed.
	ErrLoginRequired = errors.New("QQ Music login required")
	// ErrRateLimited means QQ's risk control refused the call; back off.
	ErrRateLimited = errors.New("QQ Music rate limit")
	// ErrChannelNotFound (wrapped) from Post or FindPosted means the
	// session's channel or webhook no longer exists in Discord: the engine
	// then calls EnsureChannel again before retrying.
	ErrChannelNotFound = errors.New("Discord channel of the session not found")
)
