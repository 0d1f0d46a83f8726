package store

import "context"

// Ack is a member's message that still needs its delivered or failed mark
// in Discord (Direction ToQQ), or a QQ message whose placeholder in the
// session channel must be made to say what is true (Direction ToDiscord;
// Reason says why it was parked): posted, reworded, or removed.
type Ack struct {
	EntryID      int64
	Direction    Direction
	SessionID    string
	ChannelID    string
	DiscordMsgID string
	// Delivered is true when every part reached QQ; otherwise Reason says
	// why it did not.
	Delivered bool
	Reason    string
	Attempts  int
	// Status is a ToDiscord entry's (parked, skipped, delivered, or
	// pending again after a /retry) and Placeholder its placeholder's
	// Discord message id: "" when none was posted, PlaceholderUnknown
	// when a post may have happened.
	Status      string
	Placeholder string
}

// PendingAcks returns the member messages waiting for their mark and the
// QQ messages whose placeholder waits to be posted, reworded or removed.
func (s *Store) PendingAcks(ctx context.Context) ([]Ack, error) {
	return s.pendingAcks(ctx, "")
}

// PendingAcksOf is PendingAcks for one session: a session's portal makes
// its own marks without reading every other session's.
func (s *Store) PendingAcksOf(ctx context.Context, sessionID string) ([]Ack, error) {
	if sessionID == "" {
		return nil, nil
	}
	return s.pendingAcks(ctx, sessionID)
}

// pendingAcks reads the marks to make, of one session ("" for all).
func (s *Store) pendingAcks(ctx context.Context, sessionID string) ([]Ack, error) {
	where, args := "o.ack = 1", []any{}
	if sessionID != "" {
		where, args = "o.ack = 1 AND o.session_id = ?", append(args, sessionID)
	}
	rows, err := s.db.QueryContext(ctx, acksQuery(where), args...)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []Ack
	for rows.Next() {
		var a Ack
		var failed int
		var own string
		if err := rows.Scan(&a.EntryID, &a.Direction, &own, &a.SessionID, &a.ChannelID, &a.DiscordMsgID, &a.Attempts, &a.Status, &a.Placeholder, &failed, &a.Reason); err != nil {
			return nil, s.wrap(err)
		}
		a.Delivered = failed == 0
		if a.Direction == ToDiscord {
			a.Delivered, a.Reason = false, own
		}
		out = append(out, a)
	}
	return out, s.wrap(rows.Err())
}

// acksQuery reads the marks to make among the entries matching where.
// Whether a part of a reply failed is found through the outbox_reply index
// (one look per mark, not a scan of every reply kept).
func acksQuery(where string) string {
	return `SELECT o.id, o.direction, o.last_error, o.session_id, o.channel_id, o.discord_msg_id, o.ack_attempts,
		o.status, o.placeholder_msg_id,
		(SELECT count(*) FROM outbox f WHERE f.direction = 'qq' AND f.channel_id = o.channel_id AND f.discord_msg_id = o.discord_msg_id AND f.state = 'failed'),
		coalesce((SELECT f.last_error FROM outbox f WHERE f.direction = 'qq' AND f.channel_id = o.channel_id AND f.discord_msg_id = o.discord_msg_id AND f.state = 'failed' ORDER BY f.id LIMIT 1), '')
		FROM outbox o WHERE ` + where + ` ORDER BY o.id`
}

// AckDone records that the mark was made (or given up on).
func (s *Store) AckDone(ctx context.Context, entryID int64) error {
	_, err := s.db.ExecContext(ctx, "UPDATE outbox SET ack = 0 WHERE id = ?", entryID)
	return s.wrap(err)
}

// AckFailed counts a failed attempt to make the mark.
func (s *Store) AckFailed(ctx context.Context, entryID int64) error {
	_, err := s.db.ExecContext(ctx, "UPDATE outbox SET ack_attempts = ack_attempts + 1 WHERE id = ?", entryID)
	return s.wrap(err)
}
