package bridge

import (
	"context"
	"fmt"
	"time"
)

// recoverPort turns a panic in an adapter (a bug, or input it did not
// expect) into an error, so that one bad reply cannot stop the bridge.
func recoverPort(side, method string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s adapter panicked in %s: %v", side, method, r)
	}
}

// The engine calls the ports through these wrappers, so that a remote that
// hangs (an unanswered request, a stuck connection) costs at most
// EngineConfig.RequestTimeout and never stalls relaying.

type timeoutQQ struct {
	QQ
	d time.Duration
}

func (q timeoutQQ) Self(ctx context.Context) (r0 Peer, err error) {
	ctx, cancel := context.WithTimeout(ctx, q.d)
	defer cancel()
	defer recoverPort("QQ", "Self", &err)
	return q.QQ.Self(ctx)
}

func (q timeoutQQ) ChangedSessions(ctx context.Context, since int64) (r0 []Session, err error) {
	ctx, cancel := context.WithTimeout(ctx, q.d)
	defer cancel()
	defer recoverPort("QQ", "ChangedSessions", &err)
	return q.QQ.ChangedSessions(ctx, since)
}

func (q timeoutQQ) Messages(ctx context.Context, sessionID string, after ReadPos, max int) (r0 []Message, err error) {
	ctx, cancel := context.WithTimeout(ctx, q.d)
	defer cancel()
	defer recoverPort("QQ", "Messages", &err)
	return q.QQ.Messages(ctx, sessionID, after, max)
}

func (q timeoutQQ) SendText(ctx context.Context, s OutgoingText) (r0 string, err error) {
	ctx, cancel := context.WithTimeout(ctx, q.d)
	defer cancel()
	defer recoverPort("QQ", "SendText", &err)
	return q.QQ.SendText(ctx, s)
}

func (q timeoutQQ) FindSent(ctx context.Context, sessionID, clientKey string) (r0 string, r1 bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, q.d)
	defer cancel()
	defer recoverPort("QQ", "FindSent", &err)
	return q.QQ.FindSent(ctx, sessionID, clientKey)
}

type timeoutDiscord struct {
	Discord
	d time.Duration
}

func (t timeoutDiscord) EnsureChannel(ctx context.Context, s Session, have *ChannelRef) (r0 ChannelRef, err error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	defer recoverPort("Discord", "EnsureChannel", &err)
	return t.Discord.EnsureChannel(ctx, s, have)
}

func (t timeoutDiscord) Render(m Message) (r0 Rendered, err error) {
	defer recoverPort("Discord", "Render", &err)
	return t.Discord.Render(m)
}

func (t timeoutDiscord) Post(ctx context.Context, ch ChannelRef, r Rendered) (r0 []string, err error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	defer recoverPort("Discord", "Post", &err)
	return t.Discord.Post(ctx, ch, r)
}

func (t timeoutDiscord) FindPosted(ctx context.Context, ch ChannelRef, afterID string, r Rendered) (r0 []string, r1 bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	defer recoverPort("Discord", "FindPosted", &err)
	return t.Discord.FindPosted(ctx, ch, afterID, r)
}

func (t timeoutDiscord) RepliesAfter(ctx context.Context, channelID, afterID string) (r0 []Reply, err error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	defer recoverPort("Discord", "RepliesAfter", &err)
	return t.Discord.RepliesAfter(ctx, channelID, afterID)
}

func (t timeoutDiscord) MarkDelivered(ctx context.Context, channelID, messageID string) (err error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	defer recoverPort("Discord", "MarkDelivered", &err)
	return t.Discord.MarkDelivered(ctx, channelID, messageID)
}

func (t timeoutDiscord) MarkFailed(ctx context.Context, channelID, messageID, reason string) (err error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	defer recoverPort("Discord", "MarkFailed", &err)
	return t.Discord.MarkFailed(ctx, channelID, messageID, reason)
}

func (t timeoutDiscord) PostNotice(ctx context.Context, ch ChannelRef, nonce, text string) (r0 string, err error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	defer recoverPort("Discord", "PostNotice", &err)
	return t.Discord.PostNotice(ctx, ch, nonce, text)
}

func (t timeoutDiscord) EditNotice(ctx context.Context, channelID, messageID, text string) (err error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	defer recoverPort("Discord", "EditNotice", &err)
	return t.Discord.EditNotice(ctx, channelID, messageID, text)
}

func (t timeoutDiscord) DeleteNotice(ctx context.Context, channelID, messageID string) (err error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	defer recoverPort("Discord", "DeleteNotice", &err)
	return t.Discord.DeleteNotice(ctx, channelID, messageID)
}

func (t timeoutDiscord) LastMessageIDs(ctx context.Context) (r0 map[string]string, err error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	defer recoverPort("Discord", "LastMessageIDs", &err)
	return t.Discord.LastMessageIDs(ctx)
}
