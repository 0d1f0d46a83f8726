package discord

import (
	"context"

	"github.com/bwmarrin/discordgo"
)

// LastMessageIDs implements bridge.Discord: the guild's channel list and,
// in forum mode, its active threads give the newest message of each.
func (a *Adapter) LastMessageIDs(ctx context.Context) (map[string]string, error) {
	chs, err := a.guildChannels(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(chs))
	for _, c := range chs {
		out[c.ID] = c.LastMessageID
	}
	if a.opts.Mode != ModeForum {
		return out, nil
	}
	var list *discordgo.ThreadsList
	err = a.do(ctx, "list active threads", true, func(o ...discordgo.RequestOption) (err error) {
		list, err = a.rest.GuildThreadsActive(a.opts.GuildID, o...)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, th := range list.Threads {
		out[th.ID] = th.LastMessageID
	}
	return out, nil
}
