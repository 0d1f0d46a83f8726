// Package discord is the bridge's Discord side, built on discordgo.
//
// An Adapter implements bridge.Discord: it gives every QQ Music session its
// own private text channel (or forum post; only the bot, the admin and
// viewer roles, the owner and administrators see them, see privacy.go),
// posts QQ messages there through a
// webhook under the sender's name and avatar, and hands what allowed members
// write back to a bridge.DiscordHandler. It keeps the gateway connection
// alive with a watchdog that rebuilds stuck sessions, bounds every REST call
// (no endless 429 retries) and never lets bridged content ping anyone.
//
// Every call that acts reports what became of it (see bridge.OutcomeOf):
// done, transient, permanent (a 4xx, with the reason) or ambiguous (a
// create whose answer was lost: never retried blind). A QQ message is
// rendered once (Render) into versioned bytes the engine records; posts and
// FindPosted use those bytes, never a new rendering. The bot's own posts
// carry a nonce with enforce_nonce (PostAsBot), and a channel, forum post
// or webhook whose create answer was lost is looked up before another is
// made.
//
// It also offers the admin-channel primitives that the login and admin UI is
// built on: posting and editing a message with an image, guild slash
// commands and interaction replies, all restricted to the admin role.
//
// The pure parts (channel naming, message splitting, mention neutralising
// and rendering) live in naming.go, split.go, sanitize.go and render.go.
package discord
