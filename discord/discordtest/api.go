package discordtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/bwmarrin/discordgo"
)

// MsgOption adds details to a message typed by a member (Type, PostAsBot).
type MsgOption func(*msgOpts)

type msgOpts struct {
	uploads []upload
	replyTo string
	embeds  []Embed
	poll    json.RawMessage
}

// WithAttachment attaches a file to the message.
func WithAttachment(filename, contentType string, data []byte) MsgOption {
	return func(o *msgOpts) {
		o.uploads = append(o.uploads, upload{index: len(o.uploads), filename: filename, contentType: contentType, data: data})
	}
}

// WithReply makes the message a reply to messageID (same channel).
func WithReply(messageID string) MsgOption { return func(o *msgOpts) { o.replyTo = messageID } }

// WithEmbed adds an embed.
func WithEmbed(e Embed) MsgOption { return func(o *msgOpts) { o.embeds = append(o.embeds, e) } }

// WithPoll makes the message a poll with this question and answers.
func WithPoll(question string, answers ...string) MsgOption {
	type media struct {
		Text string `json:"text"`
	}
	type answer struct {
		Media media `json:"poll_media"`
	}
	p := struct {
		Question media    `json:"question"`
		Answers  []answer `json:"answers"`
	}{Question: media{question}}
	for _, a := range answers {
		p.Answers = append(p.Answers, answer{media{a}})
	}
	return func(o *msgOpts) { o.poll = mustJSON(p) }
}

// Type has a guild member (or a bot added with AddBotMember) post content
// in a channel: the message is stored and MESSAGE_CREATE is dispatched to
// connected gateway sessions. With no gateway connection it is only stored
// (a bot must catch up through history). Mentions in content ping as in
// the Discord client (users and roles always, @everyone with the
// permission). It panics if the user is not a member, the channel is
// unknown, or the member may not see or send in it (see Permissions):
// that is a mistake in the test. Send reports a refusal instead.
func (s *Server) Type(channelID, userID, content string, opts ...MsgOption) Message {
	if err := s.memberMaySend(channelID, userID); err != nil {
		panic(fmt.Sprintf("discordtest: Type: %v (use Send to test a refusal)", err))
	}
	return s.post("Type", channelID, userID, content, opts)
}

// PostAsBot stores a message authored by the bot itself, as if it had been
// sent earlier, and dispatches MESSAGE_CREATE.
func (s *Server) PostAsBot(channelID, content string, opts ...MsgOption) Message {
	return s.post("PostAsBot", channelID, s.BotUserID, content, opts)
}

// PostAsWebhook stores a message from a foreign webhook (not one the bot
// created) with the given display name and dispatches MESSAGE_CREATE.
func (s *Server) PostAsWebhook(channelID, username, content string) Message {
	s.mu.Lock()
	ch := s.state.channels[channelID]
	if ch == nil {
		s.mu.Unlock()
		panic(fmt.Sprintf("discordtest: PostAsWebhook: unknown channel %q", channelID))
	}
	whID := s.nextID()
	p := &msgPayload{Content: &content}
	m, e := s.buildMessageLocked(newMessage{channel: ch, author: User{ID: whID, Username: username, Discriminator: "0000", Bot: true}, webhookID: whID, payload: p})
	if e != nil {
		s.mu.Unlock()
		panic(fmt.Sprintf("discordtest: PostAsWebhook: %s", e.message))
	}
	out := copyMessage(m)
	s.mu.Unlock()
	s.dispatchMessage("MESSAGE_CREATE", out)
	return out
}

func (s *Server) post(fn, channelID, userID, content string, opts []MsgOption) Message {
	var o msgOpts
	for _, f := range opts {
		f(&o)
	}
	s.mu.Lock()
	s.mustMemberLocked(fn, userID)
	ch := s.state.channels[channelID]
	if ch == nil {
		s.mu.Unlock()
		panic(fmt.Sprintf("discordtest: %s: unknown channel %q", fn, channelID))
	}
	p := &msgPayload{Content: &content, Embeds: o.embeds, Poll: o.poll}
	if o.replyTo != "" {
		p.MessageReference = &MessageReference{MessageID: o.replyTo, ChannelID: channelID}
	}
	m, e := s.buildMessageLocked(newMessage{channel: ch, author: *s.state.users[userID], payload: p, uploads: o.uploads})
	if e != nil {
		s.mu.Unlock()
		panic(fmt.Sprintf("discordtest: %s: %s", fn, e.message))
	}
	out := copyMessage(m)
	s.mu.Unlock()
	s.dispatchMessage("MESSAGE_CREATE", out)
	return out
}

// EditAsMember edits a stored message's content as its author would in the
// client and dispatches MESSAGE_UPDATE.
func (s *Server) EditAsMember(channelID, messageID, content string) {
	s.mu.Lock()
	m := s.findMessageLocked(channelID, messageID)
	if m == nil {
		s.mu.Unlock()
		panic(fmt.Sprintf("discordtest: EditAsMember: no message %s in %s", messageID, channelID))
	}
	if e := s.editMessageLocked(m, mustJSON(map[string]string{"content": content}), nil); e != nil {
		s.mu.Unlock()
		panic(fmt.Sprintf("discordtest: EditAsMember: %s", e.message))
	}
	out := copyMessage(m)
	s.mu.Unlock()
	s.dispatchMessage("MESSAGE_UPDATE", out)
}

// EditAsMemberAt is EditAsMember with the edit made at a given time (its
// edited_timestamp), e.g. long after the message was written.
func (s *Server) EditAsMemberAt(channelID, messageID, content string, at time.Time) {
	s.mu.Lock()
	m := s.findMessageLocked(channelID, messageID)
	if m == nil {
		s.mu.Unlock()
		panic(fmt.Sprintf("discordtest: EditAsMemberAt: no message %s in %s", messageID, channelID))
	}
	if e := s.editMessageLocked(m, mustJSON(map[string]string{"content": content}), nil); e != nil {
		s.mu.Unlock()
		panic(fmt.Sprintf("discordtest: EditAsMemberAt: %s", e.message))
	}
	at = at.UTC()
	m.EditedTimestamp = &at
	out := copyMessage(m)
	s.mu.Unlock()
	s.dispatchMessage("MESSAGE_UPDATE", out)
}

// DeleteAsMember deletes a stored message and dispatches MESSAGE_DELETE.
func (s *Server) DeleteAsMember(channelID, messageID string) {
	s.mu.Lock()
	m := s.findMessageLocked(channelID, messageID)
	if m != nil {
		s.removeMessageLocked(m)
	}
	s.mu.Unlock()
	if m != nil {
		s.dispatch("MESSAGE_DELETE", IntentGuildMessages, map[string]string{"id": m.ID, "channel_id": m.ChannelID, "guild_id": s.GuildID})
	}
}

// NewSession returns a discordgo session wired to this double: its Client
// rewrites https://discord.com to s.URL, intents are every non-privileged
// intent plus MESSAGE_CONTENT and GUILD_MEMBERS, and ShouldReconnectOnError
// is false (discordgo's reconnect loop outlives Close otherwise). Close the
// session before the server.
func (s *Server) NewSession() *discordgo.Session {
	dg, err := discordgo.New("Bot " + s.Token)
	if err != nil { // discordgo.New never fails for a plain token
		panic(err)
	}
	dg.Client = s.HTTPClient()
	dg.ShouldReconnectOnError = false
	dg.Identify.Intents = discordgo.IntentsAllWithoutPrivileged | discordgo.IntentMessageContent | discordgo.IntentGuildMembers
	dg.LogLevel = discordgo.LogError - 1 // silence
	return dg
}

var _ http.RoundTripper = (*rewriteTransport)(nil)
