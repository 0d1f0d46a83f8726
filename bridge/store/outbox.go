package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Direction is where a delivery goes.
type Direction string

const (
	// ToDiscord is a QQ message to post into its session channel.
	ToDiscord Direction = "discord"
	// ToQQ is a member's reply (or one part of it) to send to QQ.
	ToQQ Direction = "qq"
)

// Delivery states (Entry.State): open or settled.
const (
	// StatePending: not settled yet (Status says where it stands).
	StatePending   = "pending"
	StateDelivered = "delivered"
	// StateFailed: settled without a delivery (Status parked, skipped or
	// refused).
	StateFailed = "failed"
)

// Delivery statuses (Entry.Status): exactly where an entry stands. See
// migrations/0004_delivery_states.sql.
const (
	StatusPending    = "pending"
	StatusAttempting = "attempting"
	StatusAmbiguous  = "ambiguous"
	StatusDelivered  = "delivered"
	StatusParked     = "parked"
	StatusSkipped    = "skipped"
	StatusRefused    = "refused"
)

// Entry is one delivery in the outbox.
type Entry struct {
	ID        int64
	Direction Direction
	SessionID string
	// Key is the QQ message id (ToDiscord) or "<discord id>#<part>" (ToQQ).
	Key string
	// ClientKey, ChannelID, DiscordMsgID, Part and Parts describe a ToQQ
	// entry: the client_key it is sent with, and which part of which
	// member's message it is.
	ClientKey    string
	ChannelID    string
	DiscordMsgID string
	Part, Parts  int
	// Payload is what to deliver, encoded by the caller.
	Payload []byte
	State   string
	// Status is the detailed state (StatusPending and the others).
	Status string
	// Attempts counts the delivery attempts started. An entry that is still
	// pending with Attempts > 0 may have been delivered already: reconcile
	// it with the remote side before trying again.
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	RemoteIDs     []string
	CreatedAt     time.Time
	// AttemptedAt is when the last attempt started (zero if none).
	AttemptedAt time.Time
}

const entryCols = `id, direction, session_id, key, client_key, channel_id, discord_msg_id, part, parts,
	payload, state, attempts, next_attempt_at, last_error, remote_ids, created_at, status, attempted_at`

func scanEntry(r scanner) (Entry, error) {
	var e Entry
	var next, created, attempted int64
	var remote string
	err := r.Scan(&e.ID, &e.Direction, &e.SessionID, &e.Key, &e.ClientKey, &e.ChannelID, &e.DiscordMsgID,
		&e.Part, &e.Parts, &e.Payload, &e.State, &e.Attempts, &next, &e.LastError, &remote, &created, &e.Status, &attempted)
	e.NextAttemptAt = time.UnixMilli(next)
	e.CreatedAt = time.UnixMilli(created)
	if attempted > 0 {
		e.AttemptedAt = time.UnixMilli(attempted)
	}
	e.RemoteIDs = strings.Fields(remote)
	return e, err
}

func (s *Store) entries(ctx context.Context, q string, args ...any) ([]Entry, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+entryCols+" FROM outbox "+q, args...)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, e)
	}
	return out, s.wrap(rows.Err())
}

// Entry returns one outbox entry.
func (s *Store) Entry(ctx context.Context, id int64) (Entry, bool, error) {
	es, err := s.entries(ctx, "WHERE id = ?", id)
	if err != nil || len(es) == 0 {
		return Entry{}, false, err
	}
	return es[0], true, nil
}

// Entries returns the entries of a session in one direction, oldest first
// (for inspection and tests).
func (s *Store) Entries(ctx context.Context, dir Direction, sessionID string) ([]Entry, error) {
	return s.entries(ctx, "WHERE direction = ? AND session_id = ? ORDER BY id", dir, sessionID)
}

// Heads returns, for each session and direction, the first pending entry:
// deliveries of one session happen in order, so only heads may be tried.
// To Discord the order is the order QQ messages were queued in (their
// sequence order); to QQ it is the order members wrote the replies in
// (Discord message ids, which grow with time, then part), whatever order
// they were queued in: a reply found by a catch-up after a restart is older
// than the live replies that may have been queued before it.
// Callers skip the heads whose NextAttemptAt is still in the future.
func (s *Store) Heads(ctx context.Context) ([]Entry, error) {
	return s.entries(ctx, `WHERE id IN (
		SELECT id FROM (
			SELECT id, row_number() OVER (PARTITION BY direction, session_id ORDER BY
				CASE WHEN direction = 'qq' THEN length(discord_msg_id) ELSE 0 END,
				CASE WHEN direction = 'qq' THEN discord_msg_id ELSE '' END,
				CASE WHEN direction = 'qq' THEN part ELSE 0 END,
				id) AS rn
			FROM outbox WHERE state = 'pending')
		WHERE rn = 1) ORDER BY id`)
}

// OutboxDepth is the number of pending deliveries in each direction.
func (s *Store) OutboxDepth(ctx context.Context) (toDiscord, toQQ int, err error) {
	rows, err := s.db.QueryContext(ctx, "SELECT direction, count(*) FROM outbox WHERE state = 'pending' GROUP BY direction")
	if err != nil {
		return 0, 0, s.wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		var d Direction
		var n int
		if err := rows.Scan(&d, &n); err != nil {
			return 0, 0, s.wrap(err)
		}
		switch d {
		case ToDiscord:
			toDiscord = n
		case ToQQ:
			toQQ = n
		}
	}
	return toDiscord, toQQ, s.wrap(rows.Err())
}

// Observed is a QQ message read from a session.
type Observed struct {
	ID       string
	Sequence int64
	// FromOwner and ClientKey identify the bridge's own replies coming back
	// (the owner wrote it, with the client_key of a ToQQ entry).
	FromOwner bool
	ClientKey string
	// Payload is the message, to be posted to Discord.
	Payload []byte
	// Skip records the message as known without relaying it (history
	// older than the backfill).
	Skip bool
}

// Cursor is how far a session has been read.
type Cursor struct {
	MsgID string
	Seq   int64
	// Reset replaces the recorded position even when Seq is lower: the
	// conversation was deleted and started again.
	Reset bool
}

// ObserveResult says what RecordObserved did with each message.
type ObserveResult struct {
	// Queued are the ids of messages queued for Discord.
	Queued []string
	// Echoes are the ids of the bridge's own replies, recorded only.
	Echoes []string
	// Settled counts the replies that were still pending and that an echo
	// proved delivered (sent before a crash, never recorded).
	Settled int
	// Known counts the messages already recorded before.
	Known int
	// Skipped counts the messages recorded as history, not relayed.
	Skipped int
}

// RecordObserved records, in one transaction, the messages read from a
// session: each message id not known before is either queued for Discord
// or, when it is the bridge's own reply, recorded as an echo (settling the
// reply's entry if it was still pending). The session's cursor moves
// forward to cursor (never backwards), the session is marked backfilled,
// and, when clearDirty, no longer dirty.
func (s *Store) RecordObserved(ctx context.Context, sessionID string, msgs []Observed, cursor Cursor, clearDirty bool) (ObserveResult, error) {
	var res ObserveResult
	now := s.ms()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res = ObserveResult{}
		for _, m := range msgs {
			if m.ID == "" {
				return errors.New("observed message without an id")
			}
			var exists int
			err := tx.QueryRowContext(ctx, "SELECT count(*) FROM messages WHERE session_id = ? AND qq_msg_id = ?", sessionID, m.ID).Scan(&exists)
			if err != nil {
				return err
			}
			if exists > 0 {
				res.Known++
				continue
			}
			if m.Skip {
				if _, err := tx.ExecContext(ctx, `INSERT INTO messages (session_id, qq_msg_id, sequence, origin, created_at)
					VALUES (?, ?, ?, 'skipped', ?)`, sessionID, m.ID, m.Sequence, now); err != nil {
					return err
				}
				res.Skipped++
				continue
			}
			var echo *Entry
			if m.FromOwner && m.ClientKey != "" {
				row := tx.QueryRowContext(ctx, "SELECT "+entryCols+" FROM outbox WHERE direction = 'qq' AND client_key = ? ORDER BY id LIMIT 1", m.ClientKey)
				e, err := scanEntry(row)
				switch {
				case err == nil:
					echo = &e
				case !errors.Is(err, sql.ErrNoRows):
					return err
				}
			}
			origin, discordIDs := "relay", ""
			if echo != nil {
				origin, discordIDs = "echo", echo.DiscordMsgID
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO messages (session_id, qq_msg_id, sequence, origin, discord_ids, created_at)
				VALUES (?, ?, ?, ?, ?, ?)`, sessionID, m.ID, m.Sequence, origin, discordIDs, now); err != nil {
				return err
			}
			if echo != nil {
				res.Echoes = append(res.Echoes, m.ID)
				if echo.State == StatePending {
					// Sent before a crash, never recorded: this is the proof.
					if err := delivered(ctx, tx, *echo, []string{m.ID}, now); err != nil {
						return err
					}
					res.Settled++
				}
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (direction, session_id, key, payload, created_at, next_attempt_at)
				VALUES ('discord', ?, ?, ?, ?, ?)`, sessionID, m.ID, m.Payload, now, now); err != nil {
				return err
			}
			res.Queued = append(res.Queued, m.ID)
		}
		clear := 0
		if clearDirty {
			clear = 1
		}
		reset := 0
		if cursor.Reset {
			reset = 1
		}
		// The position moves to the newest message read (which may have no
		// sequence) unless that is behind the recorded sequence.
		r, err := tx.ExecContext(ctx, `UPDATE sessions SET
			last_msg_id = CASE WHEN ?1 <> '' AND (?2 >= last_seq OR ?3 = 1) THEN ?1 ELSE last_msg_id END,
			last_seq = CASE WHEN ?1 <> '' AND ?3 = 1 THEN ?2 ELSE max(last_seq, ?2) END, backfilled = 1,
			dirty = CASE WHEN ?4 = 1 THEN 0 ELSE dirty END, updated_at = ?5
			WHERE session_id = ?6`,
			cursor.MsgID, cursor.Seq, reset, clear, now, sessionID)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return fmt.Errorf("record messages: unknown session %s", sessionID)
		}
		return nil
	})
	return res, err
}

// KnownMessage reports whether a QQ message was recorded, and the Discord
// message ids it maps to (the posted parts; for an echo, the member's
// message it came from).
func (s *Store) KnownMessage(ctx context.Context, sessionID, qqMsgID string) (discordIDs []string, known bool, err error) {
	var ids string
	err = s.db.QueryRowContext(ctx, "SELECT discord_ids FROM messages WHERE session_id = ? AND qq_msg_id = ?", sessionID, qqMsgID).Scan(&ids)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, s.wrap(err)
	}
	return strings.Fields(ids), true, nil
}

// MinRelayedSeq is the smallest sequence among the QQ messages recorded for
// a session (0, false when there are none).
func (s *Store) MinRelayedSeq(ctx context.Context, sessionID string) (int64, bool, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, "SELECT min(sequence) FROM messages WHERE session_id = ? AND origin IN ('relay', 'echo') AND sequence > 0", sessionID).Scan(&v)
	if err != nil {
		return 0, false, s.wrap(err)
	}
	return v.Int64, v.Valid, nil
}

// ReplyPart is one QQ message a member's reply becomes.
type ReplyPart struct {
	ClientKey string
	Payload   []byte
}

// QueueReply records, in one transaction, a member's Discord message as
// ToQQ entries (one per part, keyed "<discordMsgID>#<part>") and advances
// the channel's last seen member message. When refusal is not "", the
// message is recorded as failed with that reason instead (parts may then
// be empty) and waits for its failed mark. It reports false when the
// message was queued before.
func (s *Store) QueueReply(ctx context.Context, sessionID, channelID, discordMsgID string, parts []ReplyPart, refusal string) (bool, error) {
	if discordMsgID == "" {
		return false, errors.New("store: queue reply: no Discord message id")
	}
	if refusal == "" && len(parts) == 0 {
		return false, errors.New("store: queue reply: nothing to send and no refusal")
	}
	queued := false
	now := s.ms()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		queued = false
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM outbox WHERE direction = 'qq' AND discord_msg_id = ? AND channel_id = ?",
			discordMsgID, channelID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			if refusal != "" {
				if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (direction, session_id, key, channel_id, discord_msg_id, part, parts,
					payload, state, status, last_error, ack, created_at, done_at) VALUES ('qq', ?, ?, ?, ?, 0, 1, x'', 'failed', 'refused', ?, 1, ?, ?)`,
					sessionID, discordMsgID+"#0", channelID, discordMsgID, refusal, now, now); err != nil {
					return err
				}
			}
			for i, p := range parts {
				if refusal != "" {
					break
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (direction, session_id, key, client_key, channel_id, discord_msg_id,
					part, parts, payload, created_at, next_attempt_at) VALUES ('qq', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
					sessionID, fmt.Sprintf("%s#%d", discordMsgID, i), p.ClientKey, channelID, discordMsgID, i, len(parts),
					p.Payload, now, now); err != nil {
					return err
				}
			}
			queued = true
		}
		return advanceLastSeen(ctx, tx, channelID, discordMsgID)
	})
	return queued, err
}
