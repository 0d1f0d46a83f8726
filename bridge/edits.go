package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
)

// EditHandler is a DiscordHandler that also follows what members do to
// their messages after writing them. The Engine is one.
type EditHandler interface {
	// HandleEdit is called when an allowed member edits a message in a
	// session channel; r is the message as it now is, editedAt when
	// Discord says it was edited.
	HandleEdit(ctx context.Context, r Reply, editedAt time.Time) error
	// HandleDelete is called when a message of a session channel is
	// deleted.
	HandleDelete(ctx context.Context, channelID, messageID string) error
}

var _ EditHandler = (*Engine)(nil)

// HandleEdit sends one correction ("✏️ new text") of a member's message
// that the bridge queued, when it was edited within EditWindow of being
// written: QQ Music cannot edit a sent message. An edit later than that,
// or with EditWindow 0, sends nothing. Each edit (by its time) is queued
// once, however often Discord reports it.
func (e *Engine) HandleEdit(ctx context.Context, r Reply, editedAt time.Time) error {
	window := e.cfg.EditWindow
	if window <= 0 || editedAt.IsZero() || r.ChannelID == "" || r.MessageID == "" {
		return nil
	}
	if r.Time.IsZero() || editedAt.Sub(r.Time) > window {
		e.log.Info("bridge: an edit later than bridge.edit_window; QQ keeps the first text", "channel", r.ChannelID, "message", r.MessageID)
		return nil
	}
	s, ok, err := e.st.SessionByChannel(ctx, r.ChannelID)
	if err != nil || !ok {
		return err
	}
	entries, err := e.st.ReplyEntries(ctx, r.ChannelID, r.MessageID)
	if err != nil {
		return fmt.Errorf("handle edit of %s: %w", r.MessageID, err)
	}
	live := false
	for _, en := range entries {
		if en.State == store.StateDelivered || en.State == store.StatePending {
			live = true
		}
	}
	if !live {
		return nil // never queued, refused or cancelled: nothing to correct
	}
	r.Quote = nil
	text := replyText(r)
	if strings.TrimSpace(text) == "" {
		return nil
	}
	text = "✏️ " + text
	if limit := e.qq.MaxTextLen(); limit > 0 {
		if rs := []rune(text); len(rs) > limit {
			text = string(rs[:limit-1]) + "…"
		}
	}
	at := strconv.FormatInt(editedAt.UnixMilli(), 10)
	b, err := json.Marshal(replyPayload{PeerUIN: s.Peer.UIN, Text: text, Time: editedAt})
	if err != nil {
		return fmt.Errorf("handle edit of %s: %w", r.MessageID, err)
	}
	queued, err := e.st.QueueCorrection(ctx, s.ID, r.ChannelID, r.MessageID, r.MessageID+"#edit-"+at,
		store.ReplyPart{ClientKey: ClientKeyFor(r.MessageID+"e"+at, 0), Payload: b})
	if err != nil {
		return fmt.Errorf("handle edit of %s: %w", r.MessageID, err)
	}
	if queued {
		e.activity()
		kick(e.kickDeliver)
	}
	return nil
}

// HandleDelete cancels what of a deleted member's message was not sent
// yet, and, when some of it had already reached QQ, says so in the
// channel: QQ Music cannot recall a message for the peer.
func (e *Engine) HandleDelete(ctx context.Context, channelID, messageID string) error {
	entries, err := e.st.ReplyEntries(ctx, channelID, messageID)
	if err != nil || len(entries) == 0 {
		return err
	}
	n, err := e.st.CancelUnsent(ctx, channelID, messageID, "deleted in Discord before it was sent")
	if err != nil {
		return err
	}
	if n > 0 {
		e.log.Info("bridge: a deleted message was not sent to QQ", "channel", channelID, "message", messageID, "parts", n)
	}
	sent := false
	for _, en := range entries {
		if en.State == store.StateDelivered || (en.State == store.StatePending && en.Attempts > 0) {
			sent = true
		}
	}
	if !sent {
		return nil
	}
	nonce := "del" + messageID
	if len(nonce) > 25 {
		nonce = nonce[:25]
	}
	_, err = e.dc.PostNotice(ctx, ChannelRef{ChannelID: channelID}, nonce,
		"🗑️ A deleted message had already reached QQ. QQ Music cannot recall it: the peer still sees it.")
	if err != nil {
		e.log.Warn("bridge: could not say that a deleted message stays in QQ", "channel", channelID, "err", err)
	}
	return nil
}
