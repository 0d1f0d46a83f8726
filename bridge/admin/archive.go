package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// archiveCommands is /archive: archive a session's channel now (its
// transcript goes to the archive place, then the channel is deleted; its
// next message opens a new one).
func archiveCommands() []Command {
	return []Command{
		{Name: "archive", Description: "Archive a session: its transcript goes to the archive, its channel is deleted until its next message", Options: []Option{
			{Name: "session", Description: "the session's channel (or forum post)", Type: OptionChannel, Required: true},
		}},
	}
}

func (c *Controller) cmdArchive(ctx context.Context, r Request) {
	s, ok := c.sessionOf(ctx, r, "archive")
	if !ok {
		return
	}
	who := s.Peer.Nick
	if who == "" {
		who = "this session"
	}
	got, err := c.eng.Archive(ctx, s.ID, "asked by an admin")
	switch {
	case errors.Is(err, bridge.ErrLoginRequired):
		c.editReply(ctx, r, "⏳ QQ Music needs a login first: the transcript is read from QQ Music. The channel is kept; run /archive again once logged in.")
	case err != nil:
		c.editReply(ctx, r, "❌ The archive is not finished: "+oneLine(err.Error(), 300)+
			"\nThe channel is kept until its transcript is posted; it is finished when you run /archive again or when the bridge starts.")
	default:
		c.editReply(ctx, r, fmt.Sprintf("🗄️ Archived the chat with %s: its transcript (%d messages) is in the archive, and its channel is deleted. Its next message opens a new one.", who, got.Messages))
	}
}

func openCommands() []Command {
	return []Command{
		{Name: "open", Description: "Open a channel for a QQ Music session now (one never bridged, or archived)", Options: []Option{
			{Name: "who", Description: "the peer's QQ number or nick", Type: OptionString, Required: true},
		}},
	}
}

func (c *Controller) cmdOpen(ctx context.Context, r Request) {
	who, _ := r.Option("who")
	if err := r.Defer(ctx, true); err != nil {
		c.log.Warn("admin: could not answer /open", "err", err)
		return
	}
	s, err := c.eng.OpenSession(ctx, who)
	switch {
	case errors.Is(err, bridge.ErrLoginRequired):
		c.editReply(ctx, r, "⏳ QQ Music needs a login first; run /open again once logged in.")
	case err != nil:
		c.editReply(ctx, r, "❌ "+oneLine(err.Error(), 400))
	default:
		c.editReply(ctx, r, fmt.Sprintf("✅ The chat with %s is in <#%s>.", s.Peer.Nick, s.ChannelID))
	}
}
