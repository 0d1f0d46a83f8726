package discord

import (
	"context"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// ourHook returns the bridge's webhook among hooks (made by this bot or
// application, with our name), or nil.
func (a *Adapter) ourHook(hooks []*discordgo.Webhook, botID, appID string) *discordgo.Webhook {
	for _, h := range hooks {
		ours := (h.ApplicationID != "" && h.ApplicationID == appID) || (h.User != nil && h.User.ID == botID)
		if ours && h.Name == a.opts.WebhookName && h.Token != "" {
			return h
		}
	}
	return nil
}

// findMade looks, after a create whose outcome is ambiguous (err), for the
// channel it may have made, so that it is used instead of a second one.
// It returns nil when err is not ambiguous or nothing matches; the caller
// then reports err, and the next EnsureChannel looks again before creating.
func (a *Adapter) findMade(ctx context.Context, err error, what string, match func(*discordgo.Channel) bool) *discordgo.Channel {
	if bridge.OutcomeOf(err) != bridge.CallAmbiguous {
		return nil
	}
	all, lerr := a.guildChannels(ctx)
	if lerr != nil {
		return nil
	}
	for _, c := range all {
		if match(c) {
			a.log.Info("found the "+what+" made by a create whose answer was lost", "channel", c.ID, "name", c.Name)
			return c
		}
	}
	return nil
}
