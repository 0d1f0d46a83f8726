package admin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// outboxCommands are /outbox, /retry and /skip.
func outboxCommands() []Command {
	target := func(verb string) []Option {
		return []Option{
			{Name: "entry", Description: "the entry's number, as /outbox shows it", Type: OptionInteger},
			{Name: "session", Description: "every entry of this session's channel (or forum post) " + verb, Type: OptionChannel},
		}
	}
	return []Command{
		{Name: "outbox", Description: "Deliveries that are stuck or parked, per session, oldest first", Options: []Option{
			{Name: "session", Description: "only this session's channel (or forum post)", Type: OptionChannel},
		}},
		{Name: "retry", Description: "Try a parked delivery once more (an entry, or every parked one of a session)", Options: target("that is parked")},
		{Name: "skip", Description: "Give up a stuck or parked delivery for good (an entry, or a whole session)", Options: target("not yet delivered")},
	}
}

// outboxListMax bounds the entries /outbox reads; outboxTextMax the
// length of its answer (Discord takes 2000 characters).
const (
	outboxListMax = 200
	outboxTextMax = 1900
)

// statusText says what an entry's status means to an admin.
func statusText(e bridge.OutboxEntry) string {
	switch e.Status {
	case bridge.StatusParked:
		return "⛔ parked"
	case bridge.StatusAmbiguous:
		return "❔ may have arrived; checking before another try"
	case bridge.StatusAttempting:
		return "📤 being delivered"
	default:
		return fmt.Sprintf("🔁 retrying (next <t:%d:R>)", e.NextAttemptAt.Unix())
	}
}

func dirText(d bridge.Direction) string {
	if d == bridge.ToQQ {
		return "to QQ Music"
	}
	return "to Discord"
}

// sessionOption resolves the session option, answering the member when it
// does not name a bridged session.
func (c *Controller) sessionOption(ctx context.Context, r Request) (id string, given, ok bool) {
	ch, given := r.Option("session")
	if !given {
		return "", false, true
	}
	s, found, err := c.eng.SessionByChannel(ctx, ch)
	switch {
	case err != nil:
		c.reply(ctx, r, "❌ The session cannot be looked up: "+oneLine(err.Error(), 300), true)
		return "", true, false
	case !found:
		c.reply(ctx, r, fmt.Sprintf("<#%s> is not the channel of a bridged QQ Music session: pick a session channel (or forum post).", ch), true)
		return "", true, false
	}
	return s.ID, true, true
}

func (c *Controller) cmdOutbox(ctx context.Context, r Request) {
	sid, _, ok := c.sessionOption(ctx, r)
	if !ok {
		return
	}
	es, err := c.eng.Outbox(ctx, sid, outboxListMax)
	if err != nil {
		c.reply(ctx, r, "❌ The outbox cannot be read: "+oneLine(err.Error(), 300), true)
		return
	}
	if len(es) == 0 {
		c.reply(ctx, r, "✅ Nothing is stuck or parked: every delivery went through or is on its way.", true)
		return
	}
	// Group by session, sessions in the order of their oldest entry.
	var order []string
	groups := map[string][]bridge.OutboxEntry{}
	for _, e := range es {
		if _, seen := groups[e.SessionID]; !seen {
			order = append(order, e.SessionID)
		}
		groups[e.SessionID] = append(groups[e.SessionID], e)
	}
	var b strings.Builder
	more := fmt.Sprintf("**Stuck or parked deliveries** (%d", len(es))
	if len(es) == outboxListMax {
		more += " or more"
	}
	b.WriteString(more + "; oldest first)\n")
	shown := 0
	for _, sid := range order {
		g := groups[sid]
		head := "\n**" + sessionName(g[0]) + "**\n"
		var lines []string
		for _, e := range g {
			line := fmt.Sprintf("`#%d` %s · %s · <t:%d:R> · %s", e.ID, statusText(e), dirText(e.Direction), e.CreatedAt.Unix(), oneLine(e.Summary, 80))
			if e.Attempts > 0 {
				line += fmt.Sprintf(" · %d attempt(s)", e.Attempts)
			}
			if e.Reason != "" {
				line += "\n  ↳ " + oneLine(e.Reason, 200)
			}
			lines = append(lines, line+"\n")
		}
		for i, l := range lines {
			add := l
			if i == 0 {
				add = head + l
			}
			if b.Len()+len(add) > outboxTextMax-120 {
				fmt.Fprintf(&b, "… and %d more: `/outbox session:` shows one session.", len(es)-shown)
				c.reply(ctx, r, b.String(), true)
				return
			}
			b.WriteString(add)
			shown++
		}
	}
	b.WriteString("\n`/retry entry:N` tries a parked one again; `/skip entry:N` gives one up (both also take `session:`).")
	c.reply(ctx, r, b.String(), true)
}

func sessionName(e bridge.OutboxEntry) string {
	name := e.Peer.Nick
	if name == "" {
		name = "(no nick)"
	}
	name = oneLine(name, 60)
	if e.Peer.UIN != "" {
		name += " (" + e.Peer.UIN + ")"
	}
	if e.ChannelID != "" {
		return "<#" + e.ChannelID + "> · " + name
	}
	return name + " · no channel yet"
}

// entryOption reads the entry option; ok is false when it was answered.
func (c *Controller) entryOption(ctx context.Context, r Request) (id int64, given, ok bool) {
	v, given := r.Option("entry")
	if !given {
		return 0, false, true
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		c.reply(ctx, r, fmt.Sprintf("%q is not an entry number: give the number /outbox shows after #.", oneLine(v, 40)), true)
		return 0, true, false
	}
	return id, true, true
}

// target reads /retry's and /skip's options: exactly one of entry and
// session.
func (c *Controller) target(ctx context.Context, r Request) (id int64, sessionID string, ok bool) {
	id, hasEntry, ok := c.entryOption(ctx, r)
	if !ok {
		return 0, "", false
	}
	_, hasSession := r.Option("session")
	if hasEntry == hasSession {
		c.reply(ctx, r, fmt.Sprintf("Give either `entry:` (a number from /outbox) or `session:` (a session channel), not %s.",
			map[bool]string{true: "both", false: "neither"}[hasEntry]), true)
		return 0, "", false
	}
	if hasSession {
		sessionID, _, ok = c.sessionOption(ctx, r)
	}
	return id, sessionID, ok
}

// entryErr explains a refused /retry or /skip.
func entryErr(verb string, err error) string {
	switch {
	case errors.Is(err, bridge.ErrNoEntry):
		return "❌ No delivery has that number (settled ones are forgotten after a while): see /outbox."
	case errors.Is(err, bridge.ErrEntryState):
		return "❌ It cannot be " + verb + ": " + oneLine(err.Error(), 300)
	}
	return "❌ It could not be " + verb + ": " + oneLine(err.Error(), 300) + "\nTry again in a moment."
}

func (c *Controller) cmdRetry(ctx context.Context, r Request) {
	id, sid, ok := c.target(ctx, r)
	if !ok {
		return
	}
	if sid != "" {
		n, err := c.eng.RetrySession(ctx, sid)
		switch {
		case err != nil:
			c.reply(ctx, r, entryErr("retried", err), true)
		case n == 0:
			c.reply(ctx, r, "Nothing of this session is parked: nothing to retry.", true)
		default:
			c.log.Info("admin: parked deliveries retried", "by", r.UserID(), "session", sid, "entries", n)
			c.reply(ctx, r, fmt.Sprintf("🔁 <@%s> put %d parked delivery(ies) back in their queue; they go in order, once.", r.UserID(), n), false)
		}
		return
	}
	n, err := c.eng.Retry(ctx, id)
	if err != nil {
		c.reply(ctx, r, entryErr("retried", err), true)
		return
	}
	c.log.Info("admin: parked delivery retried", "by", r.UserID(), "entry", id, "entries", n)
	text := fmt.Sprintf("🔁 <@%s> put delivery #%d back in its queue; it is tried once more at its turn.", r.UserID(), id)
	if n > 1 {
		text += fmt.Sprintf(" The other %d part(s) of the same reply go with it.", n-1)
	}
	c.reply(ctx, r, text, false)
}

func (c *Controller) cmdSkip(ctx context.Context, r Request) {
	id, sid, ok := c.target(ctx, r)
	if !ok {
		return
	}
	if sid != "" {
		n, busy, err := c.eng.SkipSession(ctx, sid)
		if err != nil {
			c.reply(ctx, r, entryErr("skipped", err), true)
			return
		}
		c.log.Info("admin: deliveries skipped", "by", r.UserID(), "session", sid, "entries", n, "busy", busy)
		text := fmt.Sprintf("⏭️ <@%s> skipped %d delivery(ies) of this session: they will never be delivered.", r.UserID(), n)
		if busy > 0 {
			text += fmt.Sprintf(" %d being delivered right now were left alone: see /outbox in a minute.", busy)
		}
		c.reply(ctx, r, text, false)
		return
	}
	n, err := c.eng.Skip(ctx, id)
	if err != nil {
		c.reply(ctx, r, entryErr("skipped", err), true)
		return
	}
	c.log.Info("admin: delivery skipped", "by", r.UserID(), "entry", id, "entries", n)
	text := fmt.Sprintf("⏭️ <@%s> skipped delivery #%d: it will never be delivered.", r.UserID(), id)
	if n > 1 {
		text += fmt.Sprintf(" The %d later part(s) of the same reply go with it.", n-1)
	}
	c.reply(ctx, r, text, false)
}
