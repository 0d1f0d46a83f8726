// Package discordtest is a test double of Discord's REST API and gateway,
// served by an httptest server on 127.0.0.1.
//
// It is test infrastructure only, never a mode of the product: the bridge
// binary never links it. Tests point a real discordgo.Session at it (see
// [Server.HTTPClient] and [Server.NewSession]) and then drive the double
// from the test: type a message as a guild member ([Server.Type]), invoke a
// slash command ([Server.InvokeCommand]), read what the bot posted
// ([Server.Messages]), and break things on purpose ([Server.DropGateway],
// [Server.RateLimit], [Server.FailNext], [Server.SendReconnect], ...).
//
// The double speaks Discord's wire protocol: JSON over HTTP under /api/v9
// and /api/v10 with "Authorization: Bot <token>", multipart uploads with a
// payload_json part, Discord's JSON error bodies and codes (50035 Invalid
// Form Body, 30013, 30007, 10003, ...), 429 answers with retry_after and
// X-RateLimit-* headers, and a gateway on a websocket with plain JSON text
// frames (HELLO, IDENTIFY, RESUME, READY, GUILD_CREATE, heartbeats,
// dispatches, op 7 and op 9).
//
// It keeps state for one guild: roles, members, channels (categories, text,
// forum, threads), messages, reactions, webhooks, application commands and
// interactions. Snowflake ids are deterministic and strictly increasing, so
// paging with before/after works as on Discord.
//
// Deliberate modelling choices, documented where they matter:
//   - An allowed_mentions object with "parse": null is treated as "parse
//     everything" (pessimistic): only an explicit empty list, or a list
//     without the kind, suppresses @everyone, user and role pings.
//   - Events that happen while no gateway connection is up are stored but
//     not queued for RESUME; a bot must catch up through message history.
//     Events written to a connection that then drops are replayed on RESUME.
//   - Guild messages lose content, embeds, attachments and components on the
//     gateway unless IDENTIFY asked for the MESSAGE_CONTENT intent (1<<15),
//     the bot wrote the message, or the message mentions the bot.
package discordtest
