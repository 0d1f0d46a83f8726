package admin

import (
	"context"
	"fmt"
	"net/url"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// noticeQueue bounds the engine notices waiting to be posted; the engine
// emits a risk notice and its end at most once per streak, so it does not
// fill up unless the admin channel is stuck.
const noticeQueue = 16

// queueNotice takes the engine events that are posted as they come (QQ
// Music's risk control and its end) and reports whether ev was one. It
// never blocks: with the queue full, the notice is logged and dropped.
func (c *Controller) queueNotice(ev bridge.Event) bool {
	switch ev.Kind {
	case bridge.EventRiskControl, bridge.EventRiskControlCleared, bridge.EventSessionArchived:
	default:
		return false
	}
	select {
	case c.noticeCh <- ev:
	default:
		c.log.Warn("admin: too many notices waiting; dropped one", "event", ev.Kind.String(), "detail", ev.Detail)
	}
	return true
}

// postNotices posts the queued notices in order until ctx ends.
func (c *Controller) postNotices(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-c.noticeCh:
			c.post(ctx, Message{Content: noticeText(ev)})
		}
	}
}

// noticeText is what the admin channel is told of a notice event.
func noticeText(ev bridge.Event) string {
	switch ev.Kind {
	case bridge.EventRiskControl:
		if u := verificationLink(ev.Detail); u != "" {
			return "⚠️ QQ Music asks for a verification: open this link on the phone that is logged in: " + u +
				"\nIts risk control has refused the bridge's calls for over a minute. The bridge keeps backing off and tries again on its own; nothing queued is lost."
		}
		return "⚠️ QQ Music's risk control has refused the bridge's calls for over a minute (it named no verification page). " +
			"The bridge keeps backing off and tries again on its own; nothing queued is lost. If it lasts, open QQ Music on the phone that is logged in."
	case bridge.EventRiskControlCleared:
		return fmt.Sprintf("✅ QQ Music accepts the bridge's calls again (its risk control refused them for %s); relaying goes on.", ev.Detail)
	case bridge.EventSessionArchived:
		return "🗄️ Archived " + oneLine(ev.Detail, 400) + "."
	}
	return ev.Kind.String() + ": " + oneLine(ev.Detail, 300)
}

// verificationLink is u as a link to post, when it is a web address; ""
// otherwise (the page comes from QQ's answer: nothing else is linked).
// The angle brackets keep Discord from embedding a preview.
func verificationLink(u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || len(u) > 1000 {
		return ""
	}
	return "<" + p.String() + ">"
}
