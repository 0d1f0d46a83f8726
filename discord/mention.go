package discord

import (
	"context"
	"fmt"

	"github.com/bwmarrin/discordgo"
)

// checkAdminPing tells, at start, whether the login request's ping of the
// admin role will notify anyone: Discord delivers a role mention from the
// bot only when the role is mentionable ("Allow anyone to @mention this
// role") or the bot has Mention Everyone, which the bridge's invite link
// leaves out. It logs, and says so in the admin channel, when it will not.
func (a *Adapter) checkAdminPing(ctx context.Context) {
	role := a.opts.AdminRoleID
	if role == "" {
		return // no admin role: the login request pings nobody
	}
	gi, err := a.guildInfo(ctx, false)
	if err != nil {
		a.log.Warn("could not check that the admin role can be pinged", "err", err)
		return
	}
	if _, ok := gi.perms[role]; !ok {
		a.log.Error("discord.admin_role_id names no role of this server: nobody may reply or use the admin commands, and login requests ping nobody", "role", role)
		a.tellAdmin(ctx, fmt.Sprintf("⚠️ `discord.admin_role_id` (%s) names no role of this server: nobody may reply or run the admin commands, and login requests notify nobody. Copy the role's id again (Developer Mode → right-click the role → Copy ID).", role))
		return
	}
	if gi.mentionable[role] {
		return
	}
	have, err := a.botPerms(ctx)
	if err != nil {
		a.log.Warn("could not check that the admin role can be pinged", "err", err)
		return
	}
	if have&discordgo.PermissionMentionEveryone != 0 {
		return
	}
	a.log.Warn("the admin role is not mentionable: login requests in the admin channel will not notify its members", "role", role)
	a.tellAdmin(ctx, fmt.Sprintf("🔕 The admin role <@&%s> is not mentionable, so when a QQ Music login is needed the request posted here will not notify its members. "+
		"To be notified, turn on *Allow anyone to @mention this role* (Server Settings → Roles → the role → Display).", role))
}
