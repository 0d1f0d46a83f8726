package bridge

import (
	"context"
	"time"
)

// The engine calls the ports through these wrappers, so that a remote that
// hangs (an unanswered request, a stuck connection) costs at most
// EngineConfig.RequestTimeout and never stalls relaying.

type timeoutQQ struct {
	QQ
	d time.Duration
}

func (q timeoutQQ) Self(ctx context.Context) (Peer, error) {
	ctx, cancel := context.WithTimeout(ctx, q.d)
	defer cancel()
	return q.QQ.Self(ctx)
}

func (q timeoutQQ) ChangedSessions(ctx context.Context, since int64) ([]Session, error) {
	ctx, cancel := context.WithTimeout(ctx, q.d)
	defer cancel()
	return q.QQ.ChangedSessions(ctx, since)
}

func (q timeoutQQ) Messages(ctx context.Context, sessionID string, afterSeq int64, max int) ([]Message, error) {
	ctx, cancel := context.WithTimeout(ctx, q.d)
	defer cancel()
	return q.QQ.Messages(ctx, sessionID, afterSeq, max)
}

func (q timeoutQQ) SendText(ctx context.Context, s OutgoingText) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, q.d)
	defer cancel()
	return q.QQ.SendText(ctx, s)
}

func (q timeoutQQ) FindSent(ctx context.Context, sessionID, clientKey string) (string, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, q.d)
	defer cancel()
	return q.QQ.FindSent(ctx, sessionID, clientKey)
}

type timeoutDiscord struct {
	Discord
	d time.Duration
}

func (t timeoutDiscord) EnsureChannel(ctx context.Context, s Session, have *ChannelRef) (ChannelRef, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.Discord.EnsureChannel(ctx, s, have)
}

func (t timeoutDiscord) Post(ctx context.Context, ch ChannelRef, m Message) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.Discord.Post(ctx, ch, m)
}

func (t timeoutDiscord) FindPosted(ctx context.Context, ch ChannelRef, afterID string, m Message) ([]string, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.Discord.FindPosted(ctx, ch, afterID, m)
}

func (t timeoutDiscord) RepliesAfter(ctx context.Context, channelID, afterID string) ([]Reply, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.Discord.RepliesAfter(ctx, channelID, afterID)
}

func (t timeoutDiscord) MarkDelivered(ctx context.Context, channelID, messageID string) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.Discord.MarkDelivered(ctx, channelID, messageID)
}

func (t timeoutDiscord) MarkFailed(ctx context.Context, channelID, messageID, reason string) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.Discord.MarkFailed(ctx, channelID, messageID, reason)
}
