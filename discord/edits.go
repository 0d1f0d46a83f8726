package discord

import (
	"context"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

type eventKind int

const (
	eventCreate eventKind = iota
	eventEdit
	eventDelete
)

// memberEvent is a message event of the gateway, queued in order: an edit
// or deletion is handled after the message it concerns.
type memberEvent struct {
	m    *discordgo.Message
	kind eventKind
}

// addEditHandlers queues edits and deletions behind the messages.
func (a *Adapter) addEditHandlers(s *discordgo.Session, live func() bool) {
	put := func(ev memberEvent) {
		select {
		case a.queue <- ev:
		default:
			a.log.Error("reply queue full; an edit or deletion is not followed", "message", ev.m.ID)
		}
	}
	s.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageUpdate) {
		// An update without edited_timestamp is Discord adding an embed,
		// not the member editing.
		if live() && m.Message != nil && m.EditedTimestamp != nil {
			put(memberEvent{m: m.Message, kind: eventEdit})
		}
	})
	s.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageDelete) {
		if live() && m.Message != nil && m.ID != "" && m.ChannelID != "" {
			put(memberEvent{m: m.Message, kind: eventDelete})
		}
	})
}

func (a *Adapter) handleEvent(ctx context.Context, ev memberEvent) {
	switch ev.kind {
	case eventEdit:
		a.handleEdit(ctx, ev.m)
	case eventDelete:
		a.handleDelete(ctx, ev.m)
	default:
		a.handleMessage(ctx, ev.m)
	}
}

// handleEdit passes an allowed member's edit in a session channel to the
// handler, when it follows edits (bridge.EditHandler).
func (a *Adapter) handleEdit(ctx context.Context, m *discordgo.Message) {
	eh, ok := a.handler.(bridge.EditHandler)
	if !ok || (m.GuildID != "" && m.GuildID != a.opts.GuildID) || !a.fromMember(m) {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if ok, err := a.isSessionChannel(cctx, m.ChannelID); err != nil || !ok {
		return
	}
	if ok, err := a.allowed(cctx, m.Author.ID, m.Member); err != nil || !ok {
		return
	}
	if err := eh.HandleEdit(cctx, toReply(m), *m.EditedTimestamp); err != nil {
		a.log.Warn("an edit was not followed", "message", m.ID, "err", err)
	}
}

// handleDelete passes a deletion in a session channel to the handler.
func (a *Adapter) handleDelete(ctx context.Context, m *discordgo.Message) {
	eh, ok := a.handler.(bridge.EditHandler)
	if !ok || (m.GuildID != "" && m.GuildID != a.opts.GuildID) {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if ok, err := a.isSessionChannel(cctx, m.ChannelID); err != nil || !ok {
		return
	}
	if err := eh.HandleDelete(cctx, m.ChannelID, m.ID); err != nil {
		a.log.Warn("a deletion was not followed", "message", m.ID, "err", err)
	}
}
