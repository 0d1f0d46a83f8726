// Package discordtest is a test double of Discord's REST API and gateway,
// served by an httptest server on 127.0.0.1.
//
// It is test infrastructure only, never a mode of the product: the bridge
// binary never links it. Tests point a real discordgo.Session at it (give
// the session [Server.HTTPClient], which rewrites https://discord.com to the
// double, or use [Server.NewSession]) and drive the double from the test:
// type a message as a guild member ([Server.Type]), run a slash command
// ([Server.InvokeCommand], [Server.SubmitModal], [Server.ClickButton]), read
// what the bot did ([Server.Messages], [Server.Channels], [Server.Webhooks],
// [Server.Requests]) and break things on purpose ([Server.DropGateway],
// [Server.SendReconnect], [Server.SendInvalidSession],
// [Server.SetHeartbeatAcks], [Server.HangGateway],
// [Server.AnswerNextIdentify], [Server.RateLimit], [Server.FailNext],
// [Server.SetRandomFaults],
// [Server.SetRouteLimit], [Server.SetGlobalLimit], [Server.SetPostDelay]
// (posts into one channel take seconds), and, where the real
// service promises nothing, [Server.ApplyThenFail] and
// [Server.SetApplyThenFail]: a request applied in full whose answer is then
// lost as a 5xx, a dropped connection or a hang).
//
// The double speaks Discord's wire protocol: JSON over HTTP under /api/v9
// and /api/v10 with "Authorization: Bot <token>", multipart uploads with a
// payload_json part and files[n] parts, Discord's JSON error bodies and codes
// (50035 Invalid Form Body with per-field errors, 50006, 50008, 50013,
// 50027, 50109, 10003, 10008, 10015, 10062, 40005, 40060, 30007, 30013,
// 220001), 429 answers with retry_after and Retry-After / X-RateLimit-*
// headers, and a gateway on a websocket with plain JSON text frames (HELLO,
// IDENTIFY, RESUME with replay, READY with session_id and
// resume_gateway_url, GUILD_CREATE with channels, threads, roles and
// members, heartbeat ACKs, sequence numbers, dispatches, op 7 and op 9,
// close codes 4001-4005 and 4014).
//
// It keeps state for one guild: roles, members, channels (categories, text,
// forum, threads), messages with attachments (served back at their URL),
// reactions, webhooks, application commands and interactions. Snowflake ids
// are deterministic and strictly increasing, so paging with before/after
// works as on Discord.
//
// Limits enforced as on Discord: 2000 characters of content; 10 embeds and
// 6000 embed characters (title 256, description 4096, 25 fields of 256/1024,
// footer 2048, author 256); 10 files and the upload limit (413, 40005); 500
// channels per guild (30013); 50 channels per category (50035 with
// CHANNEL_PARENT_MAX_CHANNELS on parent_id, which is what Discord answers);
// 15 webhooks per channel (30007) and 1000 per guild (30058); webhook names
// and username overrides without "clyde" or "discord".
//
// Deliberate modelling choices:
//   - enforce_nonce on a channel message: a create repeated by the same
//     author with the same nonce answers with the earlier message (while it
//     exists) instead of making another; ForgetNonces stands for Discord's
//     "few minutes" passing, after which it makes a second one.
//   - An allowed_mentions object with "parse": null is treated as "parse
//     everything" (pessimistic): only an explicit empty list, or a list
//     without the kind, suppresses @everyone, user and role pings. Message
//     records what the request carried (AllowedMentions) and who would have
//     been notified (Pinged).
//   - Events that happen while no gateway connection is up are stored but
//     not queued for RESUME; a bot must catch up through message history.
//     Events written to a connection that then drops are replayed on RESUME.
//   - Guild messages lose content, embeds, attachments and components on the
//     gateway unless IDENTIFY asked for the MESSAGE_CONTENT intent (1<<15),
//     the bot wrote the message, or the message mentions the bot. Channel
//     and thread events need GUILDS, message events GUILD_MESSAGES, member
//     events GUILD_MEMBERS; INTERACTION_CREATE is always sent.
//   - A REST call's gateway events are written before its HTTP answer, the
//     harder order for a bot that must recognise its own messages.
//   - A message create with "enforce_nonce": true and a nonce already used
//     by the same author within [NonceWindow] returns that message instead
//     of creating one, as Discord does. Webhook executes have no nonce.
//   - Permissions follow Discord's computation (see [Server.Permissions]):
//     the owner, Administrator, @everyone and member roles, then channel
//     overwrites (@everyone, roles, member; a thread uses its parent's),
//     nothing without View Channel. The bot needs View Channel to read a
//     channel, its messages (Read Message History too) and to receive its
//     MESSAGE_CREATE events, and Send Messages to post; a member's
//     [Server.Type] and [Server.Send] obey the same rules. A channel created
//     in a category without overwrites copies the category's; at creation
//     the bot may only allow or deny permissions it has itself, and changing
//     the overwrites of an existing channel needs Manage Roles (50013
//     otherwise). Management calls (channels, webhooks, roles) are checked
//     at guild level. The bot has Administrator unless
//     [Server.SetBotPermissions] narrows it.
package discordtest
