package bridge

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
)

// Re-opening an archived session (issue 15). A session's first channel
// gets the usual backfill: its newest Backfill messages, relayed. Those
// were delivered once already when it is re-opened after an archive (its
// next message, or /open): relaying them again would show them twice as
// new, and count them twice. So the fresh channel starts with one notice
// of the bridge instead: the session's last messages before (at most
// Backfill, those already settled, never the ones still to be delivered)
// and a link to the transcript in the archive place. The messages still
// to be delivered follow it as usual.
//
// The notice is posted before the fresh channel is recorded as the
// session's, so nothing is delivered into it before the notice. Its nonce
// names the archive: a notice whose answer was lost, or a channel adopted
// after a crash before it was recorded, finds the notice already there
// (PostOpening looks for it) instead of posting it twice.

// reopenNonce is the nonce of the notice that opens the channel following
// archive id.
func reopenNonce(archiveID int64) string { return fmt.Sprintf("qmdb-reopen-%d", archiveID) }

// reopenRead is how many more messages than it shows the notice reads:
// the newest may be the new ones, not shown in it.
const reopenRead = 20

// maxReopenNotice bounds the notice (Discord takes 2000 characters).
const maxReopenNotice = 1900

// reopenContext posts the earlier-messages notice into ch, the fresh
// channel of a session that was archived; it does nothing for a session
// never archived (its first channel gets the usual backfill). A notice
// Discord refuses for good is logged, never holding the messages up.
func (e *Engine) reopenContext(ctx context.Context, s store.Session, ch ChannelRef) error {
	if e.cfg.ArchivePlace == nil {
		return nil
	}
	done, err := e.st.Archives(ctx, s.ID)
	if err != nil || len(done) == 0 {
		return err
	}
	a := done[0]
	earlier := e.earlierMessages(ctx, s)
	link := ""
	if a.TranscriptMsgID != "" {
		if link, err = e.cfg.ArchivePlace.TranscriptURL(ctx, a.TranscriptMsgID); err != nil {
			e.log.Warn("bridge: the link to an archived chat's transcript is not known; the notice of its new channel names the archive only", "session", s.ID, "err", err)
		}
	}
	text := reopenNotice(s, a, earlier, link)
	if _, err := e.cfg.ArchivePlace.PostOpening(ctx, ch, reopenNonce(a.ID), text); err != nil {
		if OutcomeOf(err) == CallPermanent {
			e.log.Warn("bridge: Discord refused the notice with the earlier messages of a re-opened chat; its messages are relayed without it", "session", s.ID, "channel", ch.ChannelID, "err", err)
			return nil
		}
		return fmt.Errorf("post the earlier messages into the new channel of session %s: %w", s.ID, err)
	}
	e.log.Info("bridge: archived session re-opened", "session", s.ID, "channel", ch.ChannelID, "earlier_messages", len(earlier))
	return nil
}

// earlierMessages returns the session's last messages already settled (at
// most Backfill), oldest first. A failure to read them is logged: the
// notice then points to the transcript only.
func (e *Engine) earlierMessages(ctx context.Context, s store.Session) []Message {
	if e.cfg.Backfill == 0 {
		return nil
	}
	msgs, err := e.qq.Messages(ctx, s.ID, ReadPos{}, e.cfg.Backfill+reopenRead)
	if err != nil {
		e.log.Warn("bridge: could not read the earlier messages of a re-opened chat; its new channel points to the transcript only", "session", s.ID, "err", err)
		return nil
	}
	ids := make([]string, 0, len(msgs))
	for i := range msgs {
		if msgs[i].ID == "" {
			msgs[i].ID = fmt.Sprintf("noid-%d-%d", msgs[i].Sequence, msgs[i].Time.UnixNano()) // as record names it
		}
		ids = append(ids, msgs[i].ID)
	}
	shown, err := e.st.ShownBefore(ctx, s.ID, ids)
	if err != nil {
		e.log.Warn("bridge: could not tell the earlier messages of a re-opened chat from its new ones; its new channel points to the transcript only", "session", s.ID, "err", err)
		return nil
	}
	var out []Message
	seen := map[string]bool{}
	for _, m := range sessionOrder(msgs) {
		if shown[m.ID] && !seen[m.ID] {
			seen[m.ID] = true
			out = append(out, m)
		}
	}
	if len(out) > e.cfg.Backfill {
		out = out[len(out)-e.cfg.Backfill:]
	}
	return out
}

// reopenNotice is the text of the notice: what happened, the earlier
// messages as short quoted lines (the newest kept when they do not all
// fit), and where the whole chat is.
func reopenNotice(s store.Session, a store.Archive, earlier []Message, link string) string {
	nick := s.Peer.Nick
	if nick == "" {
		nick = "(no nick)"
	}
	head := fmt.Sprintf("🗄️ This chat was archived on %s (%s) and is open again.", a.CreatedAt.UTC().Format("2006-01-02"), a.Reason)
	tail := "The whole chat is in its transcript in the archive."
	if link != "" {
		tail = "The whole chat is in its transcript: " + link
	}
	if len(earlier) == 0 {
		return head + "\n" + tail
	}
	budget := maxReopenNotice - utf8.RuneCountInString(head) - utf8.RuneCountInString(tail) - 80
	var lines []string
	for i := len(earlier) - 1; i >= 0; i-- {
		l := earlierLine(earlier[i], nick)
		if budget -= utf8.RuneCountInString(l) + 1; budget < 0 {
			break
		}
		lines = append(lines, l)
	}
	slices.Reverse(lines)
	intro := fmt.Sprintf("Its last %d messages before:", len(lines))
	if len(lines) == 1 {
		intro = "Its last message before:"
	}
	return head + " " + intro + "\n" + strings.Join(lines, "\n") + "\n" + tail
}

// earlierLine is one earlier message as a quoted line: sender, time, text.
func earlierLine(m Message, peerNick string) string {
	from := m.Sender.Nick
	switch {
	case from == "" && m.FromOwner:
		from = "me"
	case from == "":
		from = peerNick
	}
	text := strings.Join(strings.Fields(m.Text), " ")
	if m.Kind != KindText {
		text = strings.TrimSpace("[" + m.Kind.String() + "] " + text)
	}
	if text == "" {
		text = "[" + m.Kind.String() + "]"
	}
	if utf8.RuneCountInString(text) > 200 {
		text = string([]rune(text)[:199]) + "…"
	}
	return fmt.Sprintf("> **%s** · %s — %s", from, m.Time.UTC().Format("2006-01-02 15:04"), text)
}
