package discord

import (
	"context"
	"slices"
	"time"

	"github.com/bwmarrin/discordgo"
)

// guildInfo is what permission checks need to know of the guild.
type guildInfo struct {
	id          string // also the id of the @everyone role
	ownerID     string
	perms       map[string]int64 // role id -> permissions
	roleOrder   []string         // role ids as Discord listed them
	mentionable map[string]bool  // role id -> anyone may ping it
	at          time.Time
}

type memberInfo struct {
	roles []string
	at    time.Time
}

const (
	guildTTL  = 5 * time.Minute
	memberTTL = time.Minute
)

// guildInfo returns the cached guild facts, refreshing them when old.
func (a *Adapter) guildInfo(ctx context.Context, fresh bool) (*guildInfo, error) {
	a.mu.Lock()
	gi := a.guild
	a.mu.Unlock()
	if gi != nil && !fresh && time.Since(gi.at) < guildTTL {
		return gi, nil
	}
	var g *discordgo.Guild
	err := a.do(ctx, "read the guild", true, func(o ...discordgo.RequestOption) (err error) {
		g, err = a.rest.Guild(a.opts.GuildID, o...)
		return err
	})
	if err != nil {
		return nil, err
	}
	gi = newGuildInfo(g)
	a.mu.Lock()
	a.guild = gi
	a.mu.Unlock()
	return gi, nil
}

// newGuildInfo takes what permission checks need from a guild (read with
// REST, or sent by the gateway in GUILD_CREATE).
func newGuildInfo(g *discordgo.Guild) *guildInfo {
	gi := &guildInfo{id: g.ID, ownerID: g.OwnerID, perms: map[string]int64{}, mentionable: map[string]bool{}, at: time.Now()}
	for _, r := range g.Roles {
		if r == nil {
			continue
		}
		gi.perms[r.ID] = r.Permissions
		gi.mentionable[r.ID] = r.Mentionable
		gi.roleOrder = append(gi.roleOrder, r.ID)
	}
	return gi
}

// memberRoles returns the roles of a member, from the message's member
// data when given, else from the API (cached briefly).
func (a *Adapter) memberRoles(ctx context.Context, userID string, m *discordgo.Member) ([]string, error) {
	if m != nil {
		a.mu.Lock()
		a.members[userID] = memberInfo{roles: m.Roles, at: time.Now()}
		a.mu.Unlock()
		return m.Roles, nil
	}
	a.mu.Lock()
	mi, ok := a.members[userID]
	a.mu.Unlock()
	if ok && time.Since(mi.at) < memberTTL {
		return mi.roles, nil
	}
	var mem *discordgo.Member
	err := a.do(ctx, "read a guild member", true, func(o ...discordgo.RequestOption) (err error) {
		mem, err = a.rest.GuildMember(a.opts.GuildID, userID, o...)
		return err
	})
	if err != nil {
		if restCode(err) == 10007 || restCode(err) == 10013 { // unknown member / user: left the guild
			return nil, nil
		}
		return nil, err
	}
	a.mu.Lock()
	a.members[userID] = memberInfo{roles: mem.Roles, at: time.Now()}
	a.mu.Unlock()
	return mem.Roles, nil
}

// allowed reports whether a member may reply to QQ and use the admin
// commands: holder of AdminRoleID, or (when it is empty) the guild owner
// and members whose roles grant Administrator or Manage Server, unless
// they hold ViewerRoleID (read only).
func (a *Adapter) allowed(ctx context.Context, userID string, m *discordgo.Member) (bool, error) {
	roles, err := a.memberRoles(ctx, userID, m)
	if err != nil {
		return false, err
	}
	if a.opts.AdminRoleID != "" {
		return slices.Contains(roles, a.opts.AdminRoleID), nil
	}
	if a.opts.ViewerRoleID != "" && slices.Contains(roles, a.opts.ViewerRoleID) {
		return false, nil
	}
	gi, err := a.guildInfo(ctx, false)
	if err != nil {
		return false, err
	}
	return canManage(gi, userID, roles), nil
}

// canManage computes Manage Server from the owner, @everyone and the
// member's roles.
func canManage(gi *guildInfo, userID string, roles []string) bool {
	if userID != "" && userID == gi.ownerID {
		return true
	}
	const want = discordgo.PermissionAdministrator | discordgo.PermissionManageGuild
	p := gi.perms[gi.id] // @everyone
	for _, id := range roles {
		p |= gi.perms[id]
	}
	return p&want != 0
}
