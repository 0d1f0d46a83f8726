// Package bridge is the relay engine of qqmusic-discord-bridge. It owns the
// neutral model (sessions, peers, messages, attachments, deliveries), the
// two ports through which it talks to QQ Music and to Discord (QQ and
// Discord), and the durable store that makes every relay survive restarts.
//
// The engine never imports package qq or package discord: adapters satisfy
// the ports, and cmd/bridge wires them together.
package bridge
