package main

import (
	"errors"
	"fmt"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/config"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord"
)

// refusal is a start-up failure that waiting will not heal: one sentence
// naming the cause and the fix; the underlying error stays reachable with
// errors.Is and errors.As.
type refusal struct {
	msg string
	err error
}

func (r *refusal) Error() string { return r.msg }
func (r *refusal) Unwrap() error { return r.err }

// startRefusal returns the sentence for a Discord start-up error that
// will not heal by retrying, or nil when retrying may help.
func startRefusal(cfg *config.Config, err error) error {
	tokenFrom := fmt.Sprintf("discord.token in %s", cfg.Path)
	if cfg.TokenFromEnv {
		tokenFrom = "the " + config.TokenEnv + " environment variable"
	}
	switch {
	case errors.Is(err, discord.ErrTokenRejected):
		return &refusal{fmt.Sprintf("Discord refused the bot token (HTTP 401) from %s: copy the current token from the Bot page of the Discord developer portal (Reset Token if unsure)", tokenFrom), err}
	case errors.Is(err, discord.ErrIntentsDisallowed):
		return &refusal{"Discord refused the bot's intents: enable the Message Content intent on the Bot page of the Discord developer portal, then start the bridge again", err}
	case errors.Is(err, discord.ErrUnknownGuild):
		return &refusal{fmt.Sprintf("Discord does not show the bot the server %s: fix discord.guild_id in %s (right-click the server, Copy Server ID) or invite the bot to that server", cfg.Discord.GuildID, cfg.Path), err}
	case errors.Is(err, discord.ErrUnknownAdminChannel):
		return &refusal{fmt.Sprintf("the admin channel %s is not a text channel the bot can see in server %s: fix discord.admin_channel_id in %s (right-click the channel, Copy Channel ID) or let the bot view it", cfg.Discord.AdminChannelID, cfg.Discord.GuildID, cfg.Path), err}
	}
	return nil
}
