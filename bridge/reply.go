package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
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
	if refusal == "" && len(texts) == 0 {
		refusal = nothingToSend(r)
	}
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

// replyText is what QQ receives for a reply: a short quote of what it
// answers, the text, then the attachments as links with name and size
// (QQ Music has no upload for private-message media). It is "" when the
// message holds nothing QQ can take, quote or not.
func replyText(r Reply) string {
	var lines []string
	if c := strings.TrimSpace(r.Content); c != "" {
		lines = append(lines, c)
	}
	if len(r.Attachments) > 0 {
		for _, a := range r.Attachments {
			if strings.TrimSpace(a.URL) != "" {
				lines = append(lines, attachmentLine(a))
			}
		}
	} else {
		for _, u := range r.AttachmentURLs {
			if u = strings.TrimSpace(u); u != "" {
				lines = append(lines, u)
			}
		}
	}
	if len(lines) == 0 {
		return ""
	}
	if q := quoteLine(r.Quote); q != "" {
		lines = append([]string{q}, lines...)
	}
	return strings.Join(lines, "\n")
}

// splitReply cuts text into messages QQ takes, or says why it cannot.
func (e *Engine) splitReply(text string) ([]string, string) {
	if strings.TrimSpace(text) == "" {
		return nil, "" // the caller says why (nothingToSend)
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

var _ MissedHandler = (*Engine)(nil)

// Missed asks for a catch-up of one channel: a live message of it could
// not be taken in. The channel's replies wait for it; others go on. It
// does not block.
func (e *Engine) Missed(ctx context.Context, channelID string) {
	if channelID != "" {
		e.requestChannelCatchUp(channelID)
	}
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
