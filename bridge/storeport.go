package bridge

import (
	"context"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
)

// Store is the engine's durable memory, as the engine uses it.
// *store.Store implements it; tests wrap it (to fail at a step, as a
// process dying there would).
type Store interface {
	SetClock(now func() time.Time)

	// Archived session channels (archive.go).
	ArchiveStore

	// Sessions and the session list.
	Watermark(ctx context.Context) (int64, error)
	MarkChanged(ctx context.Context, changes []store.SessionChange, watermark int64) error
	DirtySessions(ctx context.Context) ([]store.Session, error)
	RecentSessions(ctx context.Context, n int) ([]string, error)
	MarkDirty(ctx context.Context, sessionID string) error
	Session(ctx context.Context, id string) (store.Session, bool, error)
	SessionByChannel(ctx context.Context, channelID string) (store.Session, bool, error)
	BridgedSessions(ctx context.Context) ([]store.Session, error)
	CountBridged(ctx context.Context) (int, error)
	SetChannel(ctx context.Context, sessionID string, ch store.Channel, nick, avatar string) error
	AdvanceCaughtUp(ctx context.Context, channelID, discordID string) error

	// Messages read and replies written.
	RecordObserved(ctx context.Context, sessionID string, msgs []store.Observed, cursor store.Cursor, clearDirty bool) (store.ObserveResult, error)
	MinRelayedSeq(ctx context.Context, sessionID string) (int64, bool, error)
	KnownMessage(ctx context.Context, sessionID, qqMsgID string) (discordIDs []string, known bool, err error)
	QueueReply(ctx context.Context, sessionID, channelID, discordMsgID string, parts []store.ReplyPart, refusal string) (bool, error)

	// The outbox.
	Heads(ctx context.Context) ([]store.Entry, error)
	HeadsOf(ctx context.Context, sessionID string) ([]store.Entry, error)
	Entry(ctx context.Context, id int64) (store.Entry, bool, error)
	MarkAttempt(ctx context.Context, id int64) error
	MarkAttemptSent(ctx context.Context, id int64, sent []byte) error
	Sent(ctx context.Context, id int64) ([]byte, error)
	RecordRetry(ctx context.Context, id int64, next time.Time, why string) error
	RecordAmbiguous(ctx context.Context, id int64, next time.Time, why string) error
	RecordDelivered(ctx context.Context, id int64, remoteIDs []string) error
	RecordParked(ctx context.Context, id int64, why string) error
	PendingAcks(ctx context.Context) ([]store.Ack, error)
	PendingAcksOf(ctx context.Context, sessionID string) ([]store.Ack, error)
	AckDone(ctx context.Context, entryID int64) error
	AckFailed(ctx context.Context, entryID int64) error
	PlaceholderPosting(ctx context.Context, entryID int64) error
	PlaceholderPosted(ctx context.Context, entryID int64, discordMsgID string) error
	PlaceholderDone(ctx context.Context, entryID int64, status string) error
	OutboxDepth(ctx context.Context) (toDiscord, toQQ int, err error)
	OldestPending(ctx context.Context) (map[store.Direction]time.Time, error)
	Prune(ctx context.Context, before time.Time) (int64, error)

	// What an admin sees and does.
	Stuck(ctx context.Context, sessionID string, limit int) ([]store.Entry, error)
	CountParked(ctx context.Context) (int, error)
	Retry(ctx context.Context, id int64) (int, error)
	RetrySession(ctx context.Context, sessionID string) (int, error)
	Skip(ctx context.Context, id int64, why string) (int, error)
	SkipSession(ctx context.Context, sessionID, why string) (skipped, busy int, err error)

	// Edits and deletions of members' messages (edits.go).
	ReplyEntries(ctx context.Context, channelID, discordMsgID string) ([]store.Entry, error)
	QueueCorrection(ctx context.Context, sessionID, channelID, discordMsgID, key string, p store.ReplyPart) (bool, error)
	CancelUnsent(ctx context.Context, channelID, discordMsgID, why string) (int, error)
}

var _ Store = (*store.Store)(nil)
