package discord

import (
	"errors"
	"fmt"

	"github.com/bwmarrin/discordgo"
)

// Start-up refusals that waiting will not heal: the caller stops and says
// which key to fix.
var (
	// ErrUnknownGuild means Discord does not show the bot the guild of
	// discord.guild_id (404 or 403): the id is wrong or the bot was not
	// invited.
	ErrUnknownGuild = errors.New("discord: unknown guild")
	// ErrUnknownAdminChannel means discord.admin_channel_id is not a text
	// channel of the guild the bot can see.
	ErrUnknownAdminChannel = errors.New("discord: unknown admin channel")
)

// checkAdminChannel refuses an admin channel that is not a text channel of
// the guild's channel list.
func (a *Adapter) checkAdminChannel(chs []*discordgo.Channel) error {
	id := a.opts.AdminChannelID
	if id == "" {
		return nil
	}
	for _, c := range chs {
		if c.ID != id {
			continue
		}
		if c.Type != discordgo.ChannelTypeGuildText && c.Type != discordgo.ChannelTypeGuildNews {
			return fmt.Errorf("%w: channel %s of guild %s is not a text channel; set discord.admin_channel_id to a text channel's id", ErrUnknownAdminChannel, id, a.opts.GuildID)
		}
		return nil
	}
	return fmt.Errorf("%w: guild %s has no channel %s the bot can see; set discord.admin_channel_id to a text channel of that server (right-click it, Copy Channel ID), or let the bot view it", ErrUnknownAdminChannel, a.opts.GuildID, id)
}
