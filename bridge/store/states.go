package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// HeadsOf returns the heads of one session (see Heads): at most one per
// direction.
func (s *Store) HeadsOf(ctx context.Context, sessionID string) ([]Entry, error) {
	var out []Entry
	for _, q := range []string{
		`WHERE direction = 'discord' AND session_id = ? AND state = 'pending' ORDER BY id LIMIT 1`,
		`WHERE direction = 'qq' AND session_id = ? AND state = 'pending'
			ORDER BY length(discord_msg_id), discord_msg_id, part, id LIMIT 1`,
	} {
		es, err := s.entries(ctx, q, sessionID)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	return out, nil
}

// ErrNoEntry (wrapped) means no outbox entry has the id given.
var ErrNoEntry = errors.New("no such outbox entry")

// ErrEntryState (wrapped) means the entry is not in a state the operation
// applies to (for example /retry of an entry that is not parked).
var ErrEntryState = errors.New("the outbox entry is not in a state this applies to")

// Stuck returns the entries that need a look, oldest first: the parked
// ones, and the pending ones that were tried at least once or whose last
// attempt may have happened. sessionID "" means every session; limit <= 0
// means no limit.
func (s *Store) Stuck(ctx context.Context, sessionID string, limit int) ([]Entry, error) {
	if limit <= 0 {
		limit = -1
	}
	return s.entries(ctx, `WHERE (status = 'parked' OR state = 'pending' AND (attempts > 0 OR status IN ('attempting', 'ambiguous')))
		AND (? = '' OR session_id = ?) ORDER BY id LIMIT ?`, sessionID, sessionID, limit)
}

// Retry puts a parked entry back in the queue: it is tried once more at
// its turn (its session's earlier entries first). A ToQQ entry takes the
// other parked parts of the same member's message with it. It returns the
// entries revived.
func (s *Store) Retry(ctx context.Context, id int64) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		e, err := txEntry(ctx, tx, id)
		if err != nil {
			return err
		}
		if e.Status != StatusParked {
			return fmt.Errorf("entry %d is %s, only a parked entry can be retried: %w", id, e.Status, ErrEntryState)
		}
		n, err = s.revive(ctx, tx, e)
		return err
	})
	return n, err
}

// RetrySession puts every parked entry of a session back in the queue.
func (s *Store) RetrySession(ctx context.Context, sessionID string) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		n = 0
		ids, err := txIDs(ctx, tx, "SELECT id FROM outbox WHERE session_id = ? AND status = 'parked' ORDER BY id", sessionID)
		if err != nil {
			return err
		}
		for _, id := range ids {
			e, err := txEntry(ctx, tx, id)
			if err != nil {
				return err
			}
			if e.Status != StatusParked { // revived with an earlier part
				continue
			}
			k, err := s.revive(ctx, tx, e)
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	return n, err
}

// revive makes a parked entry (and, for ToQQ, the parked parts of the same
// member's message) pending again, due now. An entry tried before keeps
// one attempt on its count, so that it is reconciled before it is tried
// again (its last attempt may have happened), and gets a fresh budget of
// attempts. A QQ message's placeholder stays until the message is
// delivered (then it is removed) or parked again (then it is reworded);
// one not posted yet is not posted.
func (s *Store) revive(ctx context.Context, tx *sql.Tx, e Entry) (int, error) {
	q := `UPDATE outbox SET state = 'pending', status = 'pending', attempts = min(attempts, 1), next_attempt_at = ?,
		done_at = 0, ack = 0, ack_attempts = 0 WHERE status = 'parked' AND `
	args := []any{s.ms()}
	if e.Direction == ToQQ {
		q += "direction = 'qq' AND channel_id = ? AND discord_msg_id = ?"
		args = append(args, e.ChannelID, e.DiscordMsgID)
	} else {
		q += "id = ?"
		args = append(args, e.ID)
	}
	r, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	n, _ := r.RowsAffected()
	return int(n), nil
}

// Skip settles a parked or pending entry as skipped, with why: it is never
// delivered. A ToQQ entry takes the later unsent parts of the same
// member's message with it, and the message gets its failed mark. A QQ
// message's placeholder stays, and waits to be reworded. An entry whose
// attempt is under way cannot be skipped (ErrEntryState): it may be
// delivered this very moment.
func (s *Store) Skip(ctx context.Context, id int64, why string) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		e, err := txEntry(ctx, tx, id)
		if err != nil {
			return err
		}
		n, err = s.skip(ctx, tx, e, why)
		return err
	})
	return n, err
}

// SkipSession skips every parked or pending entry of a session (see Skip);
// entries being attempted are left alone and counted in busy.
func (s *Store) SkipSession(ctx context.Context, sessionID, why string) (skipped, busy int, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		skipped, busy = 0, 0
		ids, err := txIDs(ctx, tx, "SELECT id FROM outbox WHERE session_id = ? AND (state = 'pending' OR status = 'parked') ORDER BY id", sessionID)
		if err != nil {
			return err
		}
		for _, id := range ids {
			e, err := txEntry(ctx, tx, id)
			if err != nil {
				return err
			}
			if e.Status == StatusSkipped {
				continue
			}
			k, err := s.skip(ctx, tx, e, why)
			if errors.Is(err, ErrEntryState) {
				busy++
				continue
			}
			if err != nil {
				return err
			}
			skipped += k
		}
		return nil
	})
	return skipped, busy, err
}

func (s *Store) skip(ctx context.Context, tx *sql.Tx, e Entry, why string) (int, error) {
	switch {
	case e.Status == StatusAttempting:
		return 0, fmt.Errorf("entry %d is being delivered right now; look again in a minute: %w", e.ID, ErrEntryState)
	case e.State != StatePending && e.Status != StatusParked:
		return 0, fmt.Errorf("entry %d is already %s: %w", e.ID, e.Status, ErrEntryState)
	}
	now := s.ms()
	// A QQ message with a placeholder (or one due: it was parked) keeps it,
	// reworded: it will not be shown (SQLite's SET reads the old status).
	q := `UPDATE outbox SET state = 'failed', status = 'skipped', last_error = ?, done_at = ?,
		ack = CASE WHEN direction = 'discord' AND (status = 'parked' OR placeholder_msg_id <> '') THEN 1 ELSE 0 END, ack_attempts = 0
		WHERE (state = 'pending' AND status <> 'attempting' OR status = 'parked') AND `
	args := []any{why, now}
	if e.Direction == ToQQ {
		q += "direction = 'qq' AND channel_id = ? AND discord_msg_id = ? AND part >= ?"
		args = append(args, e.ChannelID, e.DiscordMsgID, e.Part)
	} else {
		q += "id = ?"
		args = append(args, e.ID)
	}
	r, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	n, _ := r.RowsAffected()
	if e.Direction == ToQQ {
		if err := settleReply(ctx, tx, e); err != nil {
			return 0, err
		}
	}
	return int(n), nil
}

// OldestPending is the creation time of the oldest pending entry in each
// direction (absent when none is pending).
func (s *Store) OldestPending(ctx context.Context) (map[Direction]time.Time, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT direction, min(created_at) FROM outbox WHERE state = 'pending' GROUP BY direction")
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	out := map[Direction]time.Time{}
	for rows.Next() {
		var d Direction
		var ms int64
		if err := rows.Scan(&d, &ms); err != nil {
			return nil, s.wrap(err)
		}
		out[d] = time.UnixMilli(ms)
	}
	return out, s.wrap(rows.Err())
}

// CountParked is the number of parked entries.
func (s *Store) CountParked(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM outbox WHERE status = 'parked'").Scan(&n)
	return n, s.wrap(err)
}

func txEntry(ctx context.Context, tx *sql.Tx, id int64) (Entry, error) {
	e, err := scanEntry(tx.QueryRowContext(ctx, "SELECT "+entryCols+" FROM outbox WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, fmt.Errorf("outbox entry %d: %w", id, ErrNoEntry)
	}
	return e, err
}

func txIDs(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// IsOwnClientKey reports whether clientKey is one the bridge sent with a
// reply.
func (s *Store) IsOwnClientKey(ctx context.Context, clientKey string) (bool, error) {
	if clientKey == "" {
		return false, nil
	}
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM outbox WHERE direction = 'qq' AND client_key = ?", clientKey).Scan(&n)
	return n > 0, s.wrap(err)
}

// Prune deletes settled deliveries (and nothing else) finished before
// before; parked ones stay until an admin retries or skips them. The
// message map is kept: it is what prevents duplicates.
func (s *Store) Prune(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, "DELETE FROM outbox WHERE state <> 'pending' AND status <> 'parked' AND ack = 0 AND done_at < ?", before.UnixMilli())
	if err != nil {
		return 0, s.wrap(err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
