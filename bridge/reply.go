package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
)

// ClientKeyFor is the QQ client_key of part (0-based) of the reply written
// as Discord message discordMsgID. It is deterministic, so a retry after a
// crash carries the same key and FindSent can recognise an earlier send.
func ClientKeyFor(discordMsgID string, part int) string {
	return fmt.Sprintf("qmdb-%s-%d", discordMsgID, part)
}

// HandleReply queues a member's message for QQ. It returns once the reply
// (and the channel's last seen message) is committed; delivery follows.
// A message in a channel that is no session's is ignored. A reply QQ
// cannot take (empty, or too long with RefuseLongReplies) is recorded as
// refused and marked failed in Discord with the reason.
func (e *Engine) HandleReply(ctx context.Context, r Reply) error {
	if r.ChannelID == "" || r.MessageID == "" {
		return fmt.Errorf("handle reply: channel id and message id are required")
	}
	s, ok, err := e.st.SessionByChannel(ctx, r.ChannelID)
	if err != nil {
		return fmt.Errorf("handle reply %s: %w", r.MessageID, err)
	}
	if !ok {
		e.log.Debug("bridge: message in a channel that is no session's; ignored", "channel", r.ChannelID, "message", r.MessageID)
		return nil
	}
	texts, refusal := e.splitReply(replyText(r))
	parts := make([]store.ReplyPart, 0, len(texts))
	for i, t := range texts {
		b, err := json.Marshal(replyPayload{PeerUIN: s.Peer.UIN, Text: t, Time: r.Time})
		if err != nil {
			return fmt.Errorf("handle reply %s: %w", r.MessageID, err)
		}
		parts = append(parts, store.ReplyPart{ClientKey: ClientKeyFor(r.MessageID, i), Payload: b})
	}
	queued, err := e.st.QueueReply(ctx, s.ID, r.ChannelID, r.MessageID, parts, refusal)
	if err != nil {
		return fmt.Errorf("handle reply %s: %w", r.MessageID, err)
	}
	if queued {
		e.activity()
		if refusal != "" {
			e.obs.Relayed(ToQQ, OutcomeRefused)
			e.log.Info("bridge: reply refused", "channel", r.ChannelID, "message", r.MessageID, "reason", refusal)
		}
		kick(e.kickDeliver)
	}
	return nil
}

// replyText is what QQ receives for a reply: the text, then the
// attachments' URLs (until media upload exists).
func replyText(r Reply) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(r.Content))
	for _, u := range r.AttachmentURLs {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(u)
	}
	return b.String()
}

// splitReply cuts text into messages QQ takes, or says why it cannot.
func (e *Engine) splitReply(text string) ([]string, string) {
	if strings.TrimSpace(text) == "" {
		return nil, "nothing to send: the message has no text and no attachment"
	}
	limit := e.qq.MaxTextLen()
	n := len([]rune(text))
	if limit <= 0 || n <= limit {
		return []string{text}, ""
	}
	if e.cfg.RefuseLongReplies {
		return nil, fmt.Sprintf("too long for QQ Music: %d characters, one message takes at most %d; shorten it and send again", n, limit)
	}
	parts := splitText(text, limit)
	if len(parts) > e.cfg.MaxReplyParts {
		return nil, fmt.Sprintf("too long for QQ Music: %d characters would need %d messages of at most %d, the bridge sends at most %d; shorten it and send again",
			n, len(parts), limit, e.cfg.MaxReplyParts)
	}
	return parts, ""
}

// splitText cuts text into pieces of at most limit runes, preferring to
// cut after a line break, else after a space, in the last fifth of a piece.
func splitText(text string, limit int) []string {
	rs := []rune(text)
	var out []string
	for len(rs) > limit {
		cut := limit
		for _, good := range []func(rune) bool{func(r rune) bool { return r == '\n' }, unicode.IsSpace} {
			found := false
			for i := limit; i > limit*4/5; i-- {
				if good(rs[i-1]) {
					cut, found = i, true
					break
				}
			}
			if found {
				break
			}
		}
		out = append(out, string(rs[:cut]))
		rs = rs[cut:]
	}
	if len(rs) > 0 {
		out = append(out, string(rs))
	}
	return out
}

// Resumed asks for a catch-up of every session channel: the gateway
// (re)connected, and replies written meanwhile must be queued. It does not
// block.
func (e *Engine) Resumed(ctx context.Context) {
	e.requestCatchUp()
}

// requestCatchUp makes a catch-up due now.
func (e *Engine) requestCatchUp() {
	e.mu.Lock()
	if e.catchUpSince.IsZero() {
		e.catchUpSince = e.now()
	}
	e.catchUpPending = true
	e.catchUpAt = e.now()
	e.mu.Unlock()
	kick(e.kickDeliver)
}

// requestChannelCatchUp makes a catch-up of one channel due now. The
// engine asks for it when a session gets a channel: one adopted after a
// crash may hold replies written before the bridge knew the channel, which
// were ignored when they arrived. It costs one read of that channel, not a
// catch-up of every channel.
func (e *Engine) requestChannelCatchUp(channelID string) {
	e.mu.Lock()
	if e.catchUpSince.IsZero() {
		e.catchUpSince = e.now()
	}
	e.catchUpChans[channelID] = true
	e.mu.Unlock()
	kick(e.kickDeliver)
}

// nextCatchUp is when the pending catch-up is due (zero if none).
func (e *Engine) nextCatchUp() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.catchUpChans) > 0 {
		return e.now()
	}
	if !e.catchUpPending {
		return time.Time{}
	}
	return e.catchUpAt
}

// catchUpDue reports whether a catch-up (of every channel, or of single
// channels) is pending and due now.
func (e *Engine) catchUpDue() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.catchUpChans) > 0 || (e.catchUpPending && !e.now().Before(e.catchUpAt))
}

// catchUpIfDue runs the pending catch-up when it is due, or else the
// pending catch-ups of single channels; a failed one is tried again, as a
// catch-up of every channel, with back-off.
func (e *Engine) catchUpIfDue(ctx, dctx context.Context) {
	e.mu.Lock()
	due := e.catchUpPending && !e.now().Before(e.catchUpAt)
	var only map[string]bool
	if due {
		e.catchUpPending = false
		clear(e.catchUpChans) // covered by the catch-up of every channel
	} else if len(e.catchUpChans) > 0 {
		only, e.catchUpChans = e.catchUpChans, map[string]bool{}
	}
	e.mu.Unlock()
	if (!due && only == nil) || e.catchUp(ctx, dctx, only) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.catchUpFails++
	at := e.now().Add(e.backoff(e.catchUpFails))
	if !e.catchUpPending || at.Before(e.catchUpAt) {
		e.catchUpAt = at
	}
	e.catchUpPending = true
}

// catchUp queues the replies written in every session channel (or, when
// only is set, in those channels) since its catch-up watermark. It reports
// whether every channel was read.
func (e *Engine) catchUp(ctx, dctx context.Context, only map[string]bool) bool {
	sessions, err := e.st.BridgedSessions(ctx)
	if err != nil {
		e.fault("store", err)
		return false
	}
	failed := false
	for _, s := range sessions {
		if ctx.Err() != nil {
			return false
		}
		if only != nil && !only[s.Channel.ChannelID] {
			continue
		}
		// Read from the catch-up watermark, not from the last seen reply:
		// live replies handled since an outage may lie beyond a gap.
		// Everything that existed before the read is covered by it.
		covered := s.CaughtUpDiscordID
		for _, id := range []string{s.LastSeenDiscordID, s.LastPostedDiscordID} {
			if store.SnowflakeAfter(id, covered) {
				covered = id
			}
		}
		replies, err := e.dc.RepliesAfter(dctx, s.Channel.ChannelID, s.CaughtUpDiscordID)
		if err != nil {
			e.fault("discord catch-up", err)
			failed = true
			continue
		}
		ok := true
		for _, r := range replies {
			if r.ChannelID == "" {
				r.ChannelID = s.Channel.ChannelID
			}
			if err := e.HandleReply(dctx, r); err != nil {
				e.fault("discord catch-up", err)
				failed, ok = true, false
				break
			}
			if store.SnowflakeAfter(r.MessageID, covered) {
				covered = r.MessageID
			}
		}
		if ok {
			if err := e.st.AdvanceCaughtUp(dctx, s.Channel.ChannelID, covered); err != nil {
				e.fault("store", err)
				failed = true
			}
		}
	}
	if failed {
		// The whole catch-up is tried again later; what was queued stays
		// queued, and channels read completely moved their watermark.
		return false
	}
	e.mu.Lock()
	if only == nil {
		e.catchUpFails = 0
	}
	if !e.catchUpPending && len(e.catchUpChans) == 0 {
		e.catchUpSince = time.Time{}
	}
	e.mu.Unlock()
	e.recovered("discord catch-up")
	return true
}

// catchUpHold is how long replies wait for an unfinished catch-up before
// they are sent anyway (Discord may stay unreachable for long).
const catchUpHold = 2 * time.Minute

// holdReplies reports whether replies to QQ should wait for a catch-up:
// one that is asked for may find replies written before those queued
// live, and replies must reach QQ in the order members wrote them.
func (e *Engine) holdReplies() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return !e.catchUpSince.IsZero() && e.now().Sub(e.catchUpSince) < catchUpHold
}
