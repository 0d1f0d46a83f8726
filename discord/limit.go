package discord

import "github.com/qmdbridge/qqmusic-discord-bridge/bridge"

// guildFullErr is ErrGuildFull as the engine reads it: bridge.ErrNoRoom,
// on which it archives the least recently active session to make room.
type guildFullErr struct{}

func (guildFullErr) Error() string   { return ErrGuildFull.Error() }
func (guildFullErr) Unwrap() []error { return []error{ErrGuildFull, bridge.ErrNoRoom} }

func errGuildFull() error { return guildFullErr{} }
