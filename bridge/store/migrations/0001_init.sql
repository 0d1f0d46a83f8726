-- Schema version 1 of the bridge database.

-- Small named values: the session-list watermark.
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;

-- One row per QQ private-message session the bridge has seen.
CREATE TABLE sessions (
	session_id        TEXT PRIMARY KEY,
	peer_uin          TEXT NOT NULL DEFAULT '',
	peer_encrypt_uin  TEXT NOT NULL DEFAULT '',
	peer_nick         TEXT NOT NULL DEFAULT '',
	peer_avatar       TEXT NOT NULL DEFAULT '',
	sort_time         INTEGER NOT NULL DEFAULT 0,
	-- The Discord channel (or forum post) and its webhook; '' until created.
	channel_id        TEXT NOT NULL DEFAULT '',
	parent_id         TEXT NOT NULL DEFAULT '',
	webhook_id        TEXT NOT NULL DEFAULT '',
	webhook_token     TEXT NOT NULL DEFAULT '',
	channel_name      TEXT NOT NULL DEFAULT '',
	-- The channel was made for this peer nick and avatar.
	channel_nick      TEXT NOT NULL DEFAULT '',
	channel_avatar    TEXT NOT NULL DEFAULT '',
	-- Cursor: the last QQ message relayed (observed and queued).
	last_msg_id       TEXT NOT NULL DEFAULT '',
	last_seq          INTEGER NOT NULL DEFAULT 0,
	backfilled        INTEGER NOT NULL DEFAULT 0,
	-- dirty = 1: the session changed and its messages must be read.
	dirty             INTEGER NOT NULL DEFAULT 0,
	-- The newest Discord message id the bridge has seen from members, and
	-- the newest one it posted itself.
	last_seen_discord_id   TEXT NOT NULL DEFAULT '',
	last_posted_discord_id TEXT NOT NULL DEFAULT '',
	created_at        INTEGER NOT NULL,
	updated_at        INTEGER NOT NULL
) STRICT;

CREATE INDEX sessions_channel ON sessions(channel_id) WHERE channel_id <> '';
CREATE INDEX sessions_dirty ON sessions(dirty) WHERE dirty = 1;

-- Every QQ message id the bridge knows, with the Discord message ids it maps to.
CREATE TABLE messages (
	session_id  TEXT NOT NULL,
	qq_msg_id   TEXT NOT NULL,
	sequence    INTEGER NOT NULL DEFAULT 0,
	-- 'relay': observed on QQ and relayed to Discord; 'skipped': history older
	-- than the backfill, known but not relayed; 'echo': the bridge's own
	-- reply seen coming back; 'sent': returned by SendText.
	origin      TEXT NOT NULL,
	-- Discord message ids, space separated.
	discord_ids TEXT NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL,
	PRIMARY KEY (session_id, qq_msg_id)
) STRICT, WITHOUT ROWID;

-- Deliveries in both directions.
CREATE TABLE outbox (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	-- 'discord' (a QQ message to post) or 'qq' (a member's reply to send).
	direction       TEXT NOT NULL CHECK (direction IN ('discord', 'qq')),
	session_id      TEXT NOT NULL,
	-- Unique per direction: the QQ message id, or '<discord id>#<part>'.
	key             TEXT NOT NULL,
	-- For 'qq': the client_key sent with the text.
	client_key      TEXT NOT NULL DEFAULT '',
	-- For 'qq': the Discord channel and message the reply came from.
	channel_id      TEXT NOT NULL DEFAULT '',
	discord_msg_id  TEXT NOT NULL DEFAULT '',
	part            INTEGER NOT NULL DEFAULT 0,
	parts           INTEGER NOT NULL DEFAULT 1,
	payload         BLOB NOT NULL,
	-- 'pending', 'delivered' or 'failed'.
	state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	remote_ids      TEXT NOT NULL DEFAULT '',
	-- ack = 1: the Discord message still needs its delivered/failed mark.
	ack             INTEGER NOT NULL DEFAULT 0,
	ack_attempts    INTEGER NOT NULL DEFAULT 0,
	created_at      INTEGER NOT NULL,
	done_at         INTEGER NOT NULL DEFAULT 0,
	UNIQUE (direction, key)
) STRICT;

CREATE INDEX outbox_pending ON outbox(direction, session_id, id) WHERE state = 'pending';
CREATE INDEX outbox_ack ON outbox(id) WHERE ack = 1;
CREATE INDEX outbox_client_key ON outbox(client_key) WHERE client_key <> '';
