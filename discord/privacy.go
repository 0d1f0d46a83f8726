package discord

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// Private by default. Everything the adapter creates (categories, session
// channels, the forum and so its posts) carries permission overwrites:
//
//   - @everyone: View Channel denied;
//   - the bot (member overwrite): what it needs to work there, limited to
//     what it has in the guild, since Discord lets a bot without Manage
//     Roles set only such overwrites when it creates a channel;
//   - the admin role (AdminRoleID): may view, read and send; without one,
//     every role granting Manage Server (which, unlike Administrator, does
//     not bypass overwrites) at the time of creation. The owner and members
//     with Administrator see every channel whatever its overwrites;
//   - the viewer role (ViewerRoleID): may view and read, Send denied.
//
// A session channel is created in its category without overwrites of its
// own, so Discord syncs it to the category's; forum posts use the forum's.
// Channels of an earlier version (no overwrites) are made private at start
// when the bot has Manage Roles; without it nothing new is created until
// it is granted, and the admin channel is told what to grant.

// ErrNotPrivate (wrapped) means the adapter will not create a channel
// because it could not make the bridge's channels private; the error says
// what the bot needs. Nothing public is ever created instead.
var ErrNotPrivate = errors.New("discord: the bridge's channels are not private")

const (
	// botAllow is what the bot gives itself in its channels.
	botAllow = discordgo.PermissionViewChannel | discordgo.PermissionSendMessages |
		discordgo.PermissionReadMessageHistory | discordgo.PermissionEmbedLinks |
		discordgo.PermissionAttachFiles | discordgo.PermissionAddReactions |
		discordgo.PermissionManageWebhooks | discordgo.PermissionManageMessages |
		discordgo.PermissionManageChannels | discordgo.PermissionManageThreads |
		discordgo.PermissionSendMessagesInThreads
	// adminAllow is what the admin role (or Manage Server roles) gets.
	adminAllow = discordgo.PermissionViewChannel | discordgo.PermissionSendMessages |
		discordgo.PermissionReadMessageHistory | discordgo.PermissionEmbedLinks |
		discordgo.PermissionAttachFiles | discordgo.PermissionAddReactions |
		discordgo.PermissionSendMessagesInThreads
	// viewerAllow and viewerDeny: read, never write.
	viewerAllow = discordgo.PermissionViewChannel | discordgo.PermissionReadMessageHistory
	viewerDeny  = discordgo.PermissionSendMessages | discordgo.PermissionSendMessagesInThreads
)

// botPerms returns the bot's guild-level permissions (all of them with
// Administrator).
func (a *Adapter) botPerms(ctx context.Context) (int64, error) {
	gi, err := a.guildInfo(ctx, false)
	if err != nil {
		return 0, err
	}
	a.mu.Lock()
	botID := a.botID
	a.mu.Unlock()
	roles, err := a.memberRoles(ctx, botID, nil)
	if err != nil {
		return 0, err
	}
	p := gi.perms[gi.id]
	for _, r := range roles {
		p |= gi.perms[r]
	}
	if p&discordgo.PermissionAdministrator != 0 {
		return discordgo.PermissionAll, nil
	}
	return p, nil
}

// privateOverwrites returns the overwrites of a private category or forum,
// in the order they are best applied one by one (the bot's own first, the
// denial of @everyone last, so the bot never locks itself out).
func (a *Adapter) privateOverwrites(ctx context.Context) ([]*discordgo.PermissionOverwrite, error) {
	have, err := a.botPerms(ctx)
	if err != nil {
		return nil, err
	}
	if have&discordgo.PermissionViewChannel == 0 {
		return nil, fmt.Errorf("%w: the bot's role lacks View Channel; grant it", ErrNotPrivate)
	}
	gi, err := a.guildInfo(ctx, false)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	botID := a.botID
	a.mu.Unlock()
	ows := []*discordgo.PermissionOverwrite{{ID: botID, Type: discordgo.PermissionOverwriteTypeMember, Allow: botAllow & have}}
	readers := []string{}
	if a.opts.AdminRoleID != "" {
		readers = append(readers, a.opts.AdminRoleID)
	} else {
		for _, id := range gi.roleOrder {
			p := gi.perms[id]
			if id != gi.id && p&discordgo.PermissionManageGuild != 0 && p&discordgo.PermissionAdministrator == 0 {
				readers = append(readers, id)
			}
		}
	}
	for _, id := range readers {
		ows = append(ows, &discordgo.PermissionOverwrite{ID: id, Type: discordgo.PermissionOverwriteTypeRole, Allow: adminAllow & have})
	}
	if v := a.opts.ViewerRoleID; v != "" && v != a.opts.AdminRoleID {
		ows = append(ows, &discordgo.PermissionOverwrite{ID: v, Type: discordgo.PermissionOverwriteTypeRole, Allow: viewerAllow & have, Deny: viewerDeny & have})
	}
	ows = append(ows, &discordgo.PermissionOverwrite{ID: gi.id, Type: discordgo.PermissionOverwriteTypeRole, Deny: discordgo.PermissionViewChannel})
	return ows, nil
}

// isPrivate reports whether a channel denies @everyone View Channel.
func isPrivate(c *discordgo.Channel, guildID string) bool {
	for _, o := range c.PermissionOverwrites {
		if o.ID == guildID && o.Type == discordgo.PermissionOverwriteTypeRole && o.Deny&discordgo.PermissionViewChannel != 0 {
			return true
		}
	}
	return false
}

// publicOfOurs lists the bridge's categories, session channels and forum
// that every member can read. a.mu must not be held.
func (a *Adapter) publicOfOurs(all []*discordgo.Channel) []*discordgo.Channel {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*discordgo.Channel
	for _, c := range all {
		ours := false
		switch {
		case c.ID == a.opts.AdminChannelID:
		case a.opts.Mode == ModeForum:
			ours = c.ID == a.forumID
		case c.Type == discordgo.ChannelTypeGuildCategory:
			ours = a.categories[c.ID] > 0
		case c.Type == discordgo.ChannelTypeGuildText:
			ours = a.categories[c.ParentID] > 0
		}
		if ours && !isPrivate(c, a.opts.GuildID) {
			out = append(out, c)
		}
	}
	// Categories first: a channel synced after its category stays synced.
	slices.SortStableFunc(out, func(x, y *discordgo.Channel) int {
		return boolInt(y.Type == discordgo.ChannelTypeGuildCategory) - boolInt(x.Type == discordgo.ChannelTypeGuildCategory)
	})
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ensurePrivate makes the bridge's channels in all private, or says why it
// cannot. It returns nil when they all are (or were just made) private,
// else an error wrapping ErrNotPrivate: the caller must create nothing.
func (a *Adapter) ensurePrivate(ctx context.Context, all []*discordgo.Channel) error {
	public := a.publicOfOurs(all)
	if len(public) == 0 {
		a.privacyOK(ctx, 0)
		return nil
	}
	have, err := a.botPerms(ctx)
	if err != nil {
		return err
	}
	if have&discordgo.PermissionManageRoles == 0 {
		return a.privacyBlocked(ctx, public, "the bot lacks the Manage Roles permission")
	}
	ows, err := a.privateOverwrites(ctx)
	if err != nil {
		return a.privacyBlocked(ctx, public, err.Error())
	}
	for _, c := range public {
		for _, o := range ows {
			merged := mergeOverwrite(c.PermissionOverwrites, o)
			err := a.do(ctx, "make a channel private", true, func(opt ...discordgo.RequestOption) error {
				return a.rest.ChannelPermissionSet(c.ID, merged.ID, merged.Type, merged.Allow, merged.Deny, opt...)
			})
			switch {
			case err == nil:
			case notFound(err):
				// Deleted meanwhile: nothing left to hide.
			case restCode(err) == 50013 || restCode(err) == 50001:
				return a.privacyBlocked(ctx, public, fmt.Sprintf("Discord refused to change the permissions of #%s (%v)", c.Name, redact(err)))
			default:
				return fmt.Errorf("discord: making #%s private: %w", c.Name, err)
			}
		}
		a.forgetPrivacy(c.ID)
		a.log.Info("made a channel of an earlier version private", "channel", c.ID, "name", c.Name)
	}
	a.privacyOK(ctx, len(public))
	return nil
}

// mergeOverwrite returns o combined with the channel's existing overwrite
// for the same role or member, so that nothing else it says is lost.
func mergeOverwrite(existing []*discordgo.PermissionOverwrite, o *discordgo.PermissionOverwrite) *discordgo.PermissionOverwrite {
	out := *o
	for _, e := range existing {
		if e.ID == o.ID && e.Type == o.Type {
			out.Allow = e.Allow&^o.Deny | o.Allow
			out.Deny = e.Deny&^o.Allow | o.Deny
		}
	}
	return &out
}

// privacyBlocked records that nothing may be created, logs and tells the
// admin channel (once per episode) what to grant, and returns the error.
func (a *Adapter) privacyBlocked(ctx context.Context, public []*discordgo.Channel, why string) error {
	names := make([]string, 0, len(public))
	for _, c := range public {
		names = append(names, "#"+c.Name)
	}
	if len(names) > 10 {
		names = append(names[:10], fmt.Sprintf("and %d more", len(public)-10))
	}
	err := fmt.Errorf("%w: %d of them (%s), made by an earlier version or opened up by hand, are readable by every member and %s. "+
		"Grant the bot's role Manage Roles (Server Settings → Roles), or deny @everyone View Channel on them yourself; "+
		"until then the bridge creates no new channel", ErrNotPrivate, len(public), strings.Join(names, ", "), why)
	a.notePublic(public) // posts into them are held too
	a.mu.Lock()
	told := a.privacyTold
	a.privacyTold = true
	a.privacyErr = err
	a.mu.Unlock()
	if !told {
		a.log.Error("the bridge's channels are readable by every member; creating nothing until they are private", "public", len(public), "why", why)
		a.tellAdmin(ctx, "🔒 "+err.Error()+".")
	}
	return err
}

// privacyOK clears a blocked state, telling the admin channel when it was
// told before or when channels were just made private.
func (a *Adapter) privacyOK(ctx context.Context, fixed int) {
	a.mu.Lock()
	told := a.privacyTold
	a.privacyTold, a.privacyErr = false, nil
	a.mu.Unlock()
	if fixed > 0 || told {
		msg := fmt.Sprintf("🔒 Made %d channel(s) of an earlier version of the bridge private: only the bot, the admin role and the viewer role can read them now.", fixed)
		if fixed == 0 {
			msg = "🔒 The bridge's channels are private now; new sessions get channels again."
		}
		a.log.Info("the bridge's channels are private", "made_private", fixed)
		a.tellAdmin(ctx, msg)
	}
}

// blockedErr returns the error of a blocked state, or nil.
func (a *Adapter) blockedErr() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.privacyErr
}

// tellAdmin posts a notice into the admin channel, if there is one.
func (a *Adapter) tellAdmin(ctx context.Context, msg string) {
	if a.opts.AdminChannelID == "" {
		return
	}
	if _, err := a.PostAdmin(ctx, AdminMessage{Content: msg}); err != nil {
		a.log.Warn("could not tell the admin channel", "err", err)
	}
}

// createPrivate creates a category or the forum with the private
// overwrites. A refusal of the overwrites is permanent and creates
// nothing: there is no fallback to a public channel.
func (a *Adapter) createPrivate(ctx context.Context, what string, data discordgo.GuildChannelCreateData) (*discordgo.Channel, error) {
	ows, err := a.privateOverwrites(ctx)
	if err != nil {
		return nil, err
	}
	data.PermissionOverwrites = ows
	var ch *discordgo.Channel
	err = a.do(ctx, what, false, func(o ...discordgo.RequestOption) (err error) {
		ch, err = a.rest.GuildChannelCreateComplex(a.opts.GuildID, data, o...)
		return err
	})
	if err != nil && restCode(err) == 50013 {
		return nil, a.overwritesRefused(ctx, what, err)
	}
	return ch, err
}

// refusedQuiet is how long the admin channel is not told again that
// Discord refused the overwrites of a new channel.
const refusedQuiet = 10 * time.Minute

// overwritesRefused explains a 403 (50013) on creating a private channel.
func (a *Adapter) overwritesRefused(ctx context.Context, what string, err error) error {
	a.dropGuildInfo() // the bot's permissions may just have changed
	why := "Discord refused its permission overwrites: the bot may only allow or deny permissions it has itself. " +
		"Give the bot's role View Channel, Send Messages, Read Message History, Embed Links, Attach Files, Add Reactions and Manage Webhooks (or Manage Roles)"
	if have, perr := a.botPerms(ctx); perr == nil && have&discordgo.PermissionManageChannels == 0 {
		why = "the bot lacks the Manage Channels permission; grant it to the bot's role"
	}
	out := bridge.Permanent(fmt.Errorf("discord: could not %s privately (nothing public was created instead): %s: %w", what, why, redact(err)))
	a.log.Error("could not create a private channel", "what", what, "err", out)
	a.mu.Lock()
	quiet := !a.refusedAt.IsZero() && time.Since(a.refusedAt) < refusedQuiet
	if !quiet {
		a.refusedAt = time.Now()
	}
	a.mu.Unlock()
	if !quiet { // every new session meets it: tell the admin channel now and then
		a.tellAdmin(ctx, "🔒 "+out.Error())
	}
	return out
}

// dropPublic deletes a session channel Discord created readable by every
// member (its category was made public meanwhile), and says so.
func (a *Adapter) dropPublic(ctx context.Context, ch *discordgo.Channel) error {
	err := a.do(ctx, "delete a public session channel", true, func(o ...discordgo.RequestOption) error {
		_, err := a.rest.ChannelDelete(ch.ID, o...)
		return err
	})
	if err != nil && !notFound(err) {
		a.log.Error("a new session channel is readable by every member and could not be deleted; delete it by hand", "channel", ch.ID, "name", ch.Name, "err", err)
		a.tellAdmin(ctx, fmt.Sprintf("🔒 Channel #%s was created readable by every member (its category is public) and could not be deleted: delete it by hand.", ch.Name))
	}
	return fmt.Errorf("%w: Discord created #%s readable by every member (its category allows @everyone to view); it was deleted, and the bridge checks its categories again before creating another", ErrNotPrivate, ch.Name)
}

// forumPrivate checks, before a post is created, that the forum (whose
// overwrites the post uses) is still private, making it so or refusing as
// ensurePrivate does.
func (a *Adapter) forumPrivate(ctx context.Context, forumID string) error {
	f, err := a.channel(ctx, forumID)
	if err != nil {
		if notFound(err) {
			a.forgetChannel(forumID) // made again next time
		}
		return err
	}
	return a.ensurePrivate(ctx, []*discordgo.Channel{f})
}
