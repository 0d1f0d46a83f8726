package discord

import (
	"context"

	"github.com/bwmarrin/discordgo"
)

// unmarkFailed takes the bot's ❌ off a member's message that an admin's
// /retry has delivered after all. It is idempotent: removing a reaction
// that is not there changes nothing, and a message gone (404) has no ❌
// left to take off.
func (a *Adapter) unmarkFailed(ctx context.Context, channelID, messageID string) error {
	err := a.do(ctx, "take the ❌ off a reply delivered after a retry", true, func(o ...discordgo.RequestOption) error {
		return a.rest.MessageReactionRemove(channelID, messageID, "❌", "@me", o...)
	})
	if err != nil && notFound(err) {
		return nil
	}
	return err
}
