-- Schema version 5: archived session channels (issue 15). The row is the
-- intent, written before anything is done; each step is recorded once it
-- is known done: the transcript posted into the archive place
-- (transcript_msg_id), then the channel deleted (done = 1, and the
-- session's channel cleared in the same transaction, so that its next
-- message opens a fresh one). attempts counts the transcript posts that
-- may have happened: one of them is looked for (by nonce) before any other.
CREATE TABLE archives (
	archive_id        INTEGER PRIMARY KEY AUTOINCREMENT,
	session_id        TEXT NOT NULL,
	channel_id        TEXT NOT NULL,
	reason            TEXT NOT NULL DEFAULT '',
	nonce             TEXT NOT NULL DEFAULT '',
	attempts          INTEGER NOT NULL DEFAULT 0,
	transcript_msg_id TEXT NOT NULL DEFAULT '',
	done              INTEGER NOT NULL DEFAULT 0,
	created_at        INTEGER NOT NULL,
	done_at           INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX archives_open ON archives(session_id) WHERE done = 0;
