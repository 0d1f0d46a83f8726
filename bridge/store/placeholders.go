package store

import (
	"context"
	"database/sql"
	"errors"
)

// PlaceholderUnknown is Ack.Placeholder while a placeholder's post has
// started and its answer is not recorded: the notice may be in the channel
// under an id the bridge does not know.
const PlaceholderUnknown = "?"

// PlaceholderPosting records that the placeholder of a parked QQ message is
// about to be posted: from now on it may be in the channel even if the
// answer is lost (or the bridge stops before PlaceholderPosted).
func (s *Store) PlaceholderPosting(ctx context.Context, entryID int64) error {
	_, err := s.db.ExecContext(ctx, "UPDATE outbox SET placeholder_msg_id = ? WHERE id = ? AND direction = 'discord' AND placeholder_msg_id = ''",
		PlaceholderUnknown, entryID)
	return s.wrap(err)
}

// PlaceholderPosted records the Discord message id of the placeholder of a
// QQ message. The step is done while the message stays parked; once it was
// delivered (an admin's /retry raced with the post) the placeholder waits
// for its removal, and once skipped for its new wording.
func (s *Store) PlaceholderPosted(ctx context.Context, entryID int64, discordMsgID string) error {
	if discordMsgID == "" || discordMsgID == PlaceholderUnknown {
		return errors.New("store: placeholder posted: no Discord message id")
	}
	_, err := s.db.ExecContext(ctx, `UPDATE outbox SET placeholder_msg_id = ?, ack_attempts = 0,
		ack = CASE WHEN state = 'delivered' OR status = 'skipped' THEN 1 ELSE 0 END
		WHERE id = ? AND direction = 'discord'`, discordMsgID, entryID)
	return s.wrap(err)
}

// PlaceholderDone records that the placeholder step of an entry is done,
// unless the entry left status meanwhile (an admin's /retry or /skip asked
// for another step).
func (s *Store) PlaceholderDone(ctx context.Context, entryID int64, status string) error {
	_, err := s.db.ExecContext(ctx, "UPDATE outbox SET ack = 0 WHERE id = ? AND direction = 'discord' AND status = ?", entryID, status)
	return s.wrap(err)
}

// askPlaceholderRemoval has a QQ message just delivered wait for the
// removal of its placeholder, when it may have one (it was parked, then
// retried): the engine deletes it (see PendingAcks).
func askPlaceholderRemoval(ctx context.Context, tx *sql.Tx, e Entry) error {
	_, err := tx.ExecContext(ctx, "UPDATE outbox SET ack = 1, ack_attempts = 0 WHERE id = ? AND placeholder_msg_id <> ''", e.ID)
	return err
}
