package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
)

// Peer is the other side of a session, as last seen.
type Peer struct {
	UIN        string
	EncryptUIN string
	Nick       string
	AvatarURL  string
}

// Channel is where a session lives in Discord. ChannelID is "" until the
// channel is created.
type Channel struct {
	ChannelID    string
	ParentID     string
	WebhookID    string
	WebhookToken string
	Name         string
}

// Session is everything the store keeps about one QQ session.
type Session struct {
	ID       string
	Peer     Peer
	SortTime int64
	Channel  Channel
	// ChannelNick and ChannelAvatar are the peer's nick and avatar when the
	// channel was last ensured: a difference means a rename is due.
	ChannelNick   string
	ChannelAvatar string
	// LastMsgID and LastSeq are the cursor: the newest QQ message recorded.
	LastMsgID string
	LastSeq   int64
	// Backfilled is true once the session's history was read the first time.
	Backfilled bool
	// Dirty is true when the session changed and its messages must be read.
	Dirty bool
	// LastSeenDiscordID is the newest member message seen in the channel;
	// LastPostedDiscordID the newest message the bridge posted there.
	LastSeenDiscordID   string
	LastPostedDiscordID string
	// CaughtUpDiscordID is where the next catch-up reads from: every
	// member message up to it is known (there may be gaps after it).
	CaughtUpDiscordID string
}

// SessionChange is a session the session list says changed.
type SessionChange struct {
	ID       string
	Peer     Peer
	SortTime int64
	// Dormant records a session seen for the first time without marking
	// it dirty (older than the first start's horizon), with LastMsgID, its
	// newest message, as the read position to compare the next change
	// with.
	Dormant   bool
	LastMsgID string
}

const sessionCols = `session_id, peer_uin, peer_encrypt_uin, peer_nick, peer_avatar, sort_time,
	channel_id, parent_id, webhook_id, webhook_token, channel_name, channel_nick, channel_avatar,
	last_msg_id, last_seq, backfilled, dirty, last_seen_discord_id, last_posted_discord_id, caught_up_discord_id`

type scanner interface{ Scan(...any) error }

func scanSession(r scanner) (Session, error) {
	var s Session
	err := r.Scan(&s.ID, &s.Peer.UIN, &s.Peer.EncryptUIN, &s.Peer.Nick, &s.Peer.AvatarURL, &s.SortTime,
		&s.Channel.ChannelID, &s.Channel.ParentID, &s.Channel.WebhookID, &s.Channel.WebhookToken, &s.Channel.Name,
		&s.ChannelNick, &s.ChannelAvatar, &s.LastMsgID, &s.LastSeq, &s.Backfilled, &s.Dirty,
		&s.LastSeenDiscordID, &s.LastPostedDiscordID, &s.CaughtUpDiscordID)
	return s, err
}

func (s *Store) sessions(ctx context.Context, where string, args ...any) ([]Session, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+sessionCols+" FROM sessions "+where, args...)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		ss, err := scanSession(rows)
		if err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, ss)
	}
	return out, s.wrap(rows.Err())
}

func (s *Store) session(ctx context.Context, where string, args ...any) (Session, bool, error) {
	ss, err := s.sessions(ctx, where+" LIMIT 1", args...)
	if err != nil || len(ss) == 0 {
		return Session{}, false, err
	}
	return ss[0], true, nil
}

// Session returns the session with the given QQ session id.
func (s *Store) Session(ctx context.Context, id string) (Session, bool, error) {
	return s.session(ctx, "WHERE session_id = ?", id)
}

// SessionByChannel returns the session living in a Discord channel.
func (s *Store) SessionByChannel(ctx context.Context, channelID string) (Session, bool, error) {
	if channelID == "" {
		return Session{}, false, nil
	}
	return s.session(ctx, "WHERE channel_id = ?", channelID)
}

// DirtySessions returns the sessions whose messages must be read, oldest
// change first.
func (s *Store) DirtySessions(ctx context.Context) ([]Session, error) {
	return s.sessions(ctx, "WHERE dirty = 1 ORDER BY sort_time, session_id")
}

// BridgedSessions returns the sessions that have a Discord channel.
func (s *Store) BridgedSessions(ctx context.Context) ([]Session, error) {
	return s.sessions(ctx, "WHERE channel_id <> '' ORDER BY session_id")
}

// CountBridged is the number of sessions that have a Discord channel.
func (s *Store) CountBridged(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM sessions WHERE channel_id <> ''").Scan(&n)
	return n, s.wrap(err)
}

const keyWatermark = "session_watermark"

// Watermark is the newest session sort_time already taken into account.
func (s *Store) Watermark(ctx context.Context) (int64, error) {
	var v string
	err := s.db.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", keyWatermark).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, s.wrap(err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, s.corrupt(errors.New("watermark is not a number"))
	}
	return n, nil
}

// MarkChanged records, in one transaction, the sessions the session list
// reported as changed (creating the unknown ones, updating the peer, setting
// them dirty unless Dormant) and advances the watermark to watermark (never backwards).
func (s *Store) MarkChanged(ctx context.Context, changes []SessionChange, watermark int64) error {
	now := s.ms()
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, c := range changes {
			dirty, lastID := 1, ""
			if c.Dormant {
				dirty, lastID = 0, c.LastMsgID
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO sessions
				(session_id, peer_uin, peer_encrypt_uin, peer_nick, peer_avatar, sort_time, dirty, last_msg_id, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (session_id) DO UPDATE SET
					peer_uin = CASE WHEN excluded.peer_uin <> '' THEN excluded.peer_uin ELSE peer_uin END,
					peer_encrypt_uin = CASE WHEN excluded.peer_encrypt_uin <> '' THEN excluded.peer_encrypt_uin ELSE peer_encrypt_uin END,
					peer_nick = CASE WHEN excluded.peer_nick <> '' THEN excluded.peer_nick ELSE peer_nick END,
					peer_avatar = CASE WHEN excluded.peer_avatar <> '' THEN excluded.peer_avatar ELSE peer_avatar END,
					sort_time = max(sort_time, excluded.sort_time),
					dirty = max(dirty, excluded.dirty), updated_at = excluded.updated_at`,
				c.ID, c.Peer.UIN, c.Peer.EncryptUIN, c.Peer.Nick, c.Peer.AvatarURL, c.SortTime, dirty, lastID, now, now)
			if err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = CAST(max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)`,
			keyWatermark, strconv.FormatInt(watermark, 10))
		return err
	})
}

// MarkDirty sets a session dirty so that its messages are read again.
func (s *Store) MarkDirty(ctx context.Context, sessionID string) error {
	_, err := s.db.ExecContext(ctx, "UPDATE sessions SET dirty = 1, updated_at = ? WHERE session_id = ?", s.ms(), sessionID)
	return s.wrap(err)
}

// SetChannel records the Discord channel of a session, made for the given
// peer nick and avatar.
func (s *Store) SetChannel(ctx context.Context, sessionID string, ch Channel, nick, avatar string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE sessions SET channel_id = ?, parent_id = ?, webhook_id = ?,
		webhook_token = ?, channel_name = ?, channel_nick = ?, channel_avatar = ?, updated_at = ?,
		last_seen_discord_id = CASE WHEN channel_id = ? THEN last_seen_discord_id ELSE '' END,
		last_posted_discord_id = CASE WHEN channel_id = ? THEN last_posted_discord_id ELSE '' END,
		caught_up_discord_id = CASE WHEN channel_id = ? THEN caught_up_discord_id ELSE '' END
		WHERE session_id = ?`,
		ch.ChannelID, ch.ParentID, ch.WebhookID, ch.WebhookToken, ch.Name, nick, avatar, s.ms(),
		ch.ChannelID, ch.ChannelID, ch.ChannelID, sessionID)
	if err != nil {
		return s.wrap(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return s.wrap(errors.New("set channel: unknown session " + sessionID))
	}
	return nil
}

// AdvanceLastSeen moves the last seen member message of a channel forward
// to id (never backwards).
func (s *Store) AdvanceLastSeen(ctx context.Context, channelID, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return advanceLastSeen(ctx, tx, channelID, id) })
}

func advanceLastSeen(ctx context.Context, tx *sql.Tx, channelID, id string) error {
	if channelID == "" || id == "" {
		return nil
	}
	var cur string
	err := tx.QueryRowContext(ctx, "SELECT last_seen_discord_id FROM sessions WHERE channel_id = ?", channelID).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if !SnowflakeAfter(id, cur) {
		return nil
	}
	_, err = tx.ExecContext(ctx, "UPDATE sessions SET last_seen_discord_id = ? WHERE channel_id = ?", id, channelID)
	return err
}

// AdvanceCaughtUp records that every member message of a channel up to id
// is known (never moving backwards). Call it after a catch-up read, with the
// newest id the read returned or any id that existed before the read began.
func (s *Store) AdvanceCaughtUp(ctx context.Context, channelID, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if channelID == "" || id == "" {
			return nil
		}
		var cur string
		err := tx.QueryRowContext(ctx, "SELECT caught_up_discord_id FROM sessions WHERE channel_id = ?", channelID).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if !SnowflakeAfter(id, cur) {
			return nil
		}
		_, err = tx.ExecContext(ctx, "UPDATE sessions SET caught_up_discord_id = ? WHERE channel_id = ?", id, channelID)
		return err
	})
}

// SnowflakeAfter reports whether Discord id a is newer than b ("" is older
// than everything). Ids are decimal numbers of varying length.
func SnowflakeAfter(a, b string) bool {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return len(a) > len(b)
	}
	return a > b
}

// RecentSessions returns the ids of at most n bridged sessions that are
// not dirty, newest sort_time first: those the safety sweep re-reads.
func (s *Store) RecentSessions(ctx context.Context, n int) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT session_id FROM sessions WHERE channel_id <> '' AND dirty = 0
		ORDER BY sort_time DESC, session_id LIMIT ?`, n)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, id)
	}
	return out, s.wrap(rows.Err())
}
