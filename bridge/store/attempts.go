package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MarkAttempt counts a delivery attempt that is about to start and sets
// the entry attempting. It must be committed before the attempt so that a
// crash during it leads to reconciliation, not a blind retry. An entry
// settled meanwhile (an admin's /skip) is not attempted: the error wraps
// ErrEntryState.
func (s *Store) MarkAttempt(ctx context.Context, id int64) error {
	r, err := s.db.ExecContext(ctx, "UPDATE outbox SET attempts = attempts + 1, status = 'attempting', attempted_at = ? WHERE id = ? AND state = 'pending'",
		s.ms(), id)
	if err != nil {
		return s.wrap(err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("store: entry %d is settled or gone; not attempted: %w", id, ErrEntryState)
	}
	return nil
}

// MarkAttemptSent is MarkAttempt for a delivery that records what it
// sends: in the same write, it keeps sent as the entry's recorded
// rendering unless one is already kept (the first attempt's stays). Later
// attempts and reconciliations read it back with Sent.
func (s *Store) MarkAttemptSent(ctx context.Context, id int64, sent []byte) error {
	r, err := s.db.ExecContext(ctx, "UPDATE outbox SET attempts = attempts + 1, status = 'attempting', attempted_at = ?, sent = COALESCE(sent, ?) WHERE id = ? AND state = 'pending'",
		s.ms(), sent, id)
	if err != nil {
		return s.wrap(err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("store: entry %d is settled or gone; not attempted: %w", id, ErrEntryState)
	}
	return nil
}

// Sent returns the recorded rendering of an entry (see MarkAttemptSent),
// or nil when none is kept.
func (s *Store) Sent(ctx context.Context, id int64) ([]byte, error) {
	var b []byte
	err := s.db.QueryRowContext(ctx, "SELECT sent FROM outbox WHERE id = ?", id).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return b, s.wrap(err)
}

// RecordRetry schedules another attempt of a pending entry at next after a
// transient failure (nothing happened) and keeps why it failed.
func (s *Store) RecordRetry(ctx context.Context, id int64, next time.Time, why string) error {
	_, err := s.db.ExecContext(ctx, "UPDATE outbox SET next_attempt_at = ?, last_error = ?, status = 'pending' WHERE id = ? AND state = 'pending'",
		next.UnixMilli(), why, id)
	return s.wrap(err)
}

// RecordAmbiguous records that the last attempt may have happened: the
// entry is reconciled with the remote side, at next, before any second
// attempt.
func (s *Store) RecordAmbiguous(ctx context.Context, id int64, next time.Time, why string) error {
	_, err := s.db.ExecContext(ctx, "UPDATE outbox SET next_attempt_at = ?, last_error = ?, status = 'ambiguous' WHERE id = ? AND state = 'pending'",
		next.UnixMilli(), why, id)
	return s.wrap(err)
}

// RecordDelivered settles an entry as delivered with the remote message ids
// (the Discord ids of a ToDiscord entry, the QQ id of a ToQQ entry). For
// ToDiscord it also maps the QQ message to the Discord ids and advances the
// channel's last posted message; for ToQQ it records the QQ id as the
// bridge's own and, when the member's message is complete, asks for its
// mark.
func (s *Store) RecordDelivered(ctx context.Context, id int64, remoteIDs []string) error {
	now := s.ms()
	return s.tx(ctx, func(tx *sql.Tx) error {
		e, err := scanEntry(tx.QueryRowContext(ctx, "SELECT "+entryCols+" FROM outbox WHERE id = ?", id))
		if err != nil {
			return err
		}
		if e.State != StatePending {
			return nil
		}
		return delivered(ctx, tx, e, remoteIDs, now)
	})
}

func delivered(ctx context.Context, tx *sql.Tx, e Entry, remoteIDs []string, now int64) error {
	ids := strings.Join(remoteIDs, " ")
	if _, err := tx.ExecContext(ctx, "UPDATE outbox SET state = 'delivered', status = 'delivered', remote_ids = ?, done_at = ?, last_error = '' WHERE id = ?",
		ids, now, e.ID); err != nil {
		return err
	}
	switch e.Direction {
	case ToDiscord:
		if _, err := tx.ExecContext(ctx, "UPDATE messages SET discord_ids = ? WHERE session_id = ? AND qq_msg_id = ?",
			ids, e.SessionID, e.Key); err != nil {
			return err
		}
		if err := askPlaceholderRemoval(ctx, tx, e); err != nil {
			return err
		}
		if len(remoteIDs) > 0 {
			last := remoteIDs[len(remoteIDs)-1]
			var cur string
			if err := tx.QueryRowContext(ctx, "SELECT last_posted_discord_id FROM sessions WHERE session_id = ?", e.SessionID).Scan(&cur); err != nil {
				return err
			}
			if SnowflakeAfter(last, cur) {
				if _, err := tx.ExecContext(ctx, "UPDATE sessions SET last_posted_discord_id = ? WHERE session_id = ?", last, e.SessionID); err != nil {
					return err
				}
			}
		}
	case ToQQ:
		for _, qid := range remoteIDs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO messages (session_id, qq_msg_id, origin, discord_ids, created_at)
				VALUES (?, ?, 'sent', ?, ?) ON CONFLICT DO NOTHING`, e.SessionID, qid, e.DiscordMsgID, now); err != nil {
				return err
			}
		}
		return settleReply(ctx, tx, e)
	}
	return nil
}

// settleReply asks for the mark of a member's message once none of its
// parts is pending.
func settleReply(ctx context.Context, tx *sql.Tx, e Entry) error {
	var pending int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM outbox WHERE direction = 'qq' AND channel_id = ? AND discord_msg_id = ? AND state = 'pending'",
		e.ChannelID, e.DiscordMsgID).Scan(&pending); err != nil {
		return err
	}
	if pending > 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE outbox SET ack = 1 WHERE id = (SELECT max(id) FROM outbox
		WHERE direction = 'qq' AND channel_id = ? AND discord_msg_id = ?)`, e.ChannelID, e.DiscordMsgID)
	return err
}

// RecordParked settles an entry as parked: failed for good, with why, until
// an admin retries or skips it; the session's next entry may go. For
// ToDiscord the entry waits for its placeholder in the session channel
// (see PendingAcks; one already posted, parked again after a /retry, is
// reworded with the new reason). For ToQQ the later parts of the same member's message
// are parked too (sending them alone would garble it) and the message
// waits for its failed mark.
func (s *Store) RecordParked(ctx context.Context, id int64, why string) error {
	now := s.ms()
	return s.tx(ctx, func(tx *sql.Tx) error {
		e, err := scanEntry(tx.QueryRowContext(ctx, "SELECT "+entryCols+" FROM outbox WHERE id = ?", id))
		if err != nil {
			return err
		}
		if e.State != StatePending {
			return nil
		}
		if _, err := tx.ExecContext(ctx, "UPDATE outbox SET state = 'failed', status = 'parked', last_error = ?, done_at = ? WHERE id = ?", why, now, id); err != nil {
			return err
		}
		if e.Direction != ToQQ {
			_, err := tx.ExecContext(ctx, "UPDATE outbox SET ack = 1, ack_attempts = 0 WHERE id = ?", id)
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET state = 'failed', status = 'parked', last_error = ?, done_at = ?
			WHERE direction = 'qq' AND channel_id = ? AND discord_msg_id = ? AND state = 'pending'`,
			"an earlier part failed: "+why, now, e.ChannelID, e.DiscordMsgID); err != nil {
			return err
		}
		return settleReply(ctx, tx, e)
	})
}
