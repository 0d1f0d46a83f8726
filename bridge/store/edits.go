package store

import (
	"context"
	"errors"
	"fmt"
)

// ReplyEntries returns the ToQQ entries of a member's message in order:
// its parts, then its corrections.
func (s *Store) ReplyEntries(ctx context.Context, channelID, discordMsgID string) ([]Entry, error) {
	return s.entries(ctx, "WHERE direction = 'qq' AND channel_id = ? AND discord_msg_id = ? ORDER BY id", channelID, discordMsgID)
}

// QueueCorrection queues a correction of a member's message (an edit) as
// one more ToQQ entry of it, under key, which must be unique per
// correction. It reports false when that correction was queued before.
func (s *Store) QueueCorrection(ctx context.Context, sessionID, channelID, discordMsgID, key string, p ReplyPart) (bool, error) {
	if discordMsgID == "" || key == "" || len(p.Payload) == 0 {
		return false, errors.New("store: queue correction: message id, key and payload are required")
	}
	now := s.ms()
	r, err := s.db.ExecContext(ctx, `INSERT INTO outbox (direction, session_id, key, client_key, channel_id, discord_msg_id,
		part, parts, payload, created_at, next_attempt_at) VALUES ('qq', ?, ?, ?, ?, ?, 0, 1, ?, ?, ?) ON CONFLICT (direction, key) DO NOTHING`,
		sessionID, key, p.ClientKey, channelID, discordMsgID, p.Payload, now, now)
	if err != nil {
		return false, s.wrap(err)
	}
	n, _ := r.RowsAffected()
	return n > 0, nil
}

// CancelUnsent settles as skipped, with why, the entries of a member's
// message that no attempt has started (it was deleted before it was
// sent), and reports how many. Entries an attempt started may have been
// sent and are left alone. No mark is asked for: the message is gone.
func (s *Store) CancelUnsent(ctx context.Context, channelID, discordMsgID, why string) (int, error) {
	r, err := s.db.ExecContext(ctx, `UPDATE outbox SET state = 'failed', status = 'skipped', last_error = ?, done_at = ?
		WHERE direction = 'qq' AND channel_id = ? AND discord_msg_id = ? AND state = 'pending' AND attempts = 0`,
		why, s.ms(), channelID, discordMsgID)
	if err != nil {
		return 0, fmt.Errorf("store: cancel a deleted message: %w", s.wrap(err))
	}
	n, _ := r.RowsAffected()
	return int(n), nil
}
