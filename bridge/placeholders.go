package bridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
)

// The placeholder of a QQ message that could not be shown is a notice in
// its session channel. It is made to say what is true, one durable step at
// a time (the entry's ack flag; see store.PendingAcks), retried on a
// transient failure like the marks of members' messages:
//
//   - parked: the notice is posted (what could not be shown, why, and
//     /retry or /skip); its id is recorded once posted. Parked again after
//     a /retry, the notice is reworded with the new reason.
//   - skipped by an admin: the notice stays (the message is not shown) and
//     is reworded: it will not be shown.
//   - delivered after an admin's /retry: the notice is deleted (one
//     already deleted by someone is done).
//
// A post whose answer was lost (or that the bridge stopped in) is recorded
// as such before it is made, and made again with the same nonce: Discord
// answers a repeated nonce with the first notice for a few minutes. So a
// notice whose post may have happened is found even if the message is
// delivered meanwhile: the post is made again to learn its id, then the
// notice is deleted. Only a post lost and not made again within those
// minutes can leave a notice the bridge does not know of (it is then
// posted anew and deleted, and the first one stays).

// placeholderNonce is the nonce of an entry's placeholder: the same for
// every post of it, so that a post whose answer was lost is found again.
func placeholderNonce(entryID int64) string {
	n := fmt.Sprintf("qmdb-p%d", entryID)
	if len(n) > 25 {
		n = n[:25]
	}
	return n
}

// placeholder makes one step of an entry's placeholder (see above) and
// records it: done, or the next step due (a notice posted while its
// message was delivered or skipped). An entry an admin retried or skipped
// meanwhile keeps the step that asks for.
func (e *Engine) placeholder(ctx context.Context, a store.Ack) error {
	h, ok, err := e.st.Entry(ctx, a.EntryID)
	if err != nil || !ok {
		return err
	}
	known := a.Placeholder != "" && a.Placeholder != store.PlaceholderUnknown
	switch {
	case h.State == store.StatePending:
		// Retried and not settled yet: its delivery or its parking asks
		// again.
		return e.st.PlaceholderDone(ctx, h.ID, h.Status)
	case h.State == store.StateDelivered && a.Placeholder == "":
		return e.st.PlaceholderDone(ctx, h.ID, h.Status) // none was posted
	}
	s, ok, err := e.st.Session(ctx, a.SessionID)
	if err != nil {
		return err
	}
	ref := fromStoreChannel(s.Channel)
	if !ok || ref.ChannelID == "" {
		if known {
			return e.st.PlaceholderDone(ctx, h.ID, h.Status) // no channel left to hold it
		}
		return errors.New("the session has no Discord channel to show the placeholder in")
	}
	switch {
	case known && h.State == store.StateDelivered:
		if err := e.dc.DeleteNotice(ctx, ref.ChannelID, a.Placeholder); err != nil {
			return fmt.Errorf("remove the placeholder of a QQ message delivered after a /retry: %w", err)
		}
		e.log.Info("bridge: placeholder removed: the QQ message it stood for was delivered after a /retry", "session", h.SessionID, "entry", h.ID, "channel", ref.ChannelID, "message", a.Placeholder)
		return e.st.PlaceholderDone(ctx, h.ID, h.Status)
	case known:
		if err := e.dc.EditNotice(ctx, ref.ChannelID, a.Placeholder, placeholderText(h, a.Reason)); err != nil {
			return fmt.Errorf("reword the placeholder of a QQ message %s: %w", h.Status, err)
		}
		return e.st.PlaceholderDone(ctx, h.ID, h.Status)
	}
	if err := e.st.PlaceholderPosting(ctx, h.ID); err != nil {
		return err
	}
	id, err := e.dc.PostNotice(ctx, ref, placeholderNonce(h.ID), placeholderText(h, a.Reason))
	if err != nil {
		return fmt.Errorf("post the placeholder of a QQ message that could not be shown: %w", err)
	}
	return e.st.PlaceholderPosted(ctx, h.ID, id)
}
