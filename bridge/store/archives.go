package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Archive is the record of archiving a session's channel (see migration
// 0005): written first as the intent, advanced as each step is known done.
type Archive struct {
	ID        int64
	SessionID string
	// ChannelID is the channel being archived.
	ChannelID string
	Reason    string
	// Nonce identifies the transcript post (at most 25 characters), so
	// that one that may have been posted is found before another is.
	Nonce string
	// Attempts counts transcript posts that may have happened.
	Attempts int
	// TranscriptMsgID is the transcript's message, once posted.
	TranscriptMsgID string
	Done            bool
	CreatedAt       time.Time
}

// ErrArchiveState means the archive is not open (finished meanwhile).
var ErrArchiveState = errors.New("store: archive already finished")

const archiveCols = `archive_id, session_id, channel_id, reason, nonce, attempts, transcript_msg_id, done, created_at`

func scanArchive(r scanner) (Archive, error) {
	var a Archive
	var created int64
	err := r.Scan(&a.ID, &a.SessionID, &a.ChannelID, &a.Reason, &a.Nonce, &a.Attempts, &a.TranscriptMsgID, &a.Done, &created)
	a.CreatedAt = time.UnixMilli(created)
	return a, err
}

// BeginArchive records the intent to archive the session's channel
// channelID, or returns the open archive of the session when there is one
// (a crash left it unfinished: it is resumed, never begun twice).
func (s *Store) BeginArchive(ctx context.Context, sessionID, channelID, reason string) (Archive, error) {
	var out Archive
	err := s.tx(ctx, func(tx *sql.Tx) error {
		a, err := scanArchive(tx.QueryRowContext(ctx, "SELECT "+archiveCols+" FROM archives WHERE session_id = ? AND done = 0", sessionID))
		if err == nil {
			out = a
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO archives (session_id, channel_id, reason, created_at) VALUES (?, ?, ?, ?)`,
			sessionID, channelID, reason, s.ms())
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		nonce := fmt.Sprintf("qmdb-archive-%d", id)
		if _, err := tx.ExecContext(ctx, "UPDATE archives SET nonce = ? WHERE archive_id = ?", nonce, id); err != nil {
			return err
		}
		out, err = scanArchive(tx.QueryRowContext(ctx, "SELECT "+archiveCols+" FROM archives WHERE archive_id = ?", id))
		return err
	})
	return out, err
}

// OpenArchives returns the archives not finished, oldest first.
func (s *Store) OpenArchives(ctx context.Context) ([]Archive, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+archiveCols+" FROM archives WHERE done = 0 ORDER BY archive_id")
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []Archive
	for rows.Next() {
		a, err := scanArchive(rows)
		if err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, a)
	}
	return out, s.wrap(rows.Err())
}

// Archives returns the finished archives of a session, newest first.
func (s *Store) Archives(ctx context.Context, sessionID string) ([]Archive, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+archiveCols+" FROM archives WHERE session_id = ? AND done = 1 ORDER BY archive_id DESC", sessionID)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []Archive
	for rows.Next() {
		a, err := scanArchive(rows)
		if err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, a)
	}
	return out, s.wrap(rows.Err())
}

// MarkArchiveAttempt records, before it is made, that the transcript may
// be posted.
func (s *Store) MarkArchiveAttempt(ctx context.Context, id int64) error {
	return s.archiveUpdate(ctx, "UPDATE archives SET attempts = attempts + 1 WHERE archive_id = ? AND done = 0", id)
}

// RecordTranscript records the transcript's message.
func (s *Store) RecordTranscript(ctx context.Context, id int64, msgID string) error {
	return s.archiveUpdate(ctx, "UPDATE archives SET transcript_msg_id = ? WHERE archive_id = ? AND done = 0", msgID, id)
}

func (s *Store) archiveUpdate(ctx context.Context, q string, args ...any) error {
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return s.wrap(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrArchiveState
	}
	return nil
}

// FinishArchive records the channel deleted: the archive is done and the
// session's channel is cleared, if it still is the archived one, so that
// its next message opens a fresh channel.
func (s *Store) FinishArchive(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		a, err := scanArchive(tx.QueryRowContext(ctx, "SELECT "+archiveCols+" FROM archives WHERE archive_id = ? AND done = 0", id))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrArchiveState
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE archives SET done = 1, done_at = ? WHERE archive_id = ?", s.ms(), id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE sessions SET channel_id = '', parent_id = '', webhook_id = '', webhook_token = '',
			channel_name = '', channel_nick = '', channel_avatar = '', last_seen_discord_id = '', last_posted_discord_id = '',
			caught_up_discord_id = '', updated_at = ? WHERE session_id = ? AND channel_id = ?`, s.ms(), a.SessionID, a.ChannelID)
		return err
	})
}

// LeastActiveBridged returns up to n sessions that have a Discord channel
// and no open archive, least recently active (oldest sort time) first.
func (s *Store) LeastActiveBridged(ctx context.Context, n int) ([]Session, error) {
	return s.sessions(ctx, `WHERE channel_id <> '' AND session_id NOT IN (SELECT session_id FROM archives WHERE done = 0)
		ORDER BY sort_time, session_id LIMIT ?`, n)
}

// SessionsOfPeer returns the sessions whose peer has the QQ number who, or
// the nick who (case-insensitive), most recently active first, at most 10.
func (s *Store) SessionsOfPeer(ctx context.Context, who string) ([]Session, error) {
	return s.sessions(ctx, `WHERE peer_uin = ? OR lower(peer_nick) = lower(?) ORDER BY sort_time DESC, session_id LIMIT 10`, who, who)
}

// ShownBefore returns which of the given QQ message ids of a session are
// settled: recorded (relayed, history, or the bridge's own replies) with
// no delivery to Discord still open. A re-opened channel shows these as
// its earlier messages; the others are still to be delivered as new ones.
func (s *Store) ShownBefore(ctx context.Context, sessionID string, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	for len(ids) > 0 {
		batch := ids[:min(len(ids), 200)]
		ids = ids[len(batch):]
		args := make([]any, 0, len(batch)+1)
		args = append(args, sessionID)
		for _, id := range batch {
			args = append(args, id)
		}
		rows, err := s.db.QueryContext(ctx, `SELECT m.qq_msg_id FROM messages m WHERE m.session_id = ?
			AND m.qq_msg_id IN (?`+strings.Repeat(", ?", len(batch)-1)+`)
			AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.direction = 'discord' AND o.key = m.qq_msg_id AND o.state = 'pending')`, args...)
		if err != nil {
			return nil, s.wrap(err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, s.wrap(err)
			}
			out[id] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, s.wrap(err)
		}
	}
	return out, nil
}
