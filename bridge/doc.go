// Package bridge is the relay engine of qqmusic-discord-bridge. It owns the
// neutral model (sessions, peers, messages, attachments, deliveries), the
// two ports through which it talks to QQ Music and to Discord (QQ and
// Discord), and the Engine that relays between them, remembering
// everything in the durable store of package bridge/store.
//
// The engine polls QQ's session list down to a stored watermark (an idle
// cycle is one request), compares every change signal of the list's first
// page (sort_time, the newest message's id, the unread count) with what it
// stored, reads the messages of the sessions that changed (and, in a
// periodic safety sweep, of the most recently active ones) from their
// stored read position, and records each new message, identified by its
// id, with its outbox entry and the session's cursor in one transaction;
// delivery to Discord follows the commit.
// Members' replies (HandleReply) are queued the same way and sent to QQ
// with a client_key derived from the Discord message id. A delivery that
// was attempted but not recorded (a crash, a lost answer) is reconciled
// with the remote side (FindPosted, FindSent) before any retry, so a
// message is relayed exactly once in each direction across kills and
// restarts.
//
// The engine never imports package qq or package discord: adapters satisfy
// the ports, and cmd/bridge wires them together.
package bridge
