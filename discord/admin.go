package discord

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/bwmarrin/discordgo"
)

// AdminMessage is a message for the admin channel.
type AdminMessage struct {
	// Content is the text; mentions in it never ping.
	Content string
	// Image, when set, is attached as a PNG (e.g. the login QR code).
	Image []byte
	// ImageName is the attachment's file name. Default "image.png".
	ImageName string
	// MentionRoleID, when set, pings this role (and nothing else) once:
	// the mention is put before Content.
	MentionRoleID string
}

// AdminEdit changes an admin message in place.
type AdminEdit struct {
	// Content, when not nil, replaces the text.
	Content *string
	// RemoveImage drops the message's attachments.
	RemoveImage bool
	// Image, when set, replaces the attachments with this PNG.
	Image     []byte
	ImageName string
}

var errNoAdminChannel = errors.New("discord: no admin channel configured: set discord.admin_channel_id")

// PostAdmin posts a message into the admin channel and returns its id.
func (a *Adapter) PostAdmin(ctx context.Context, m AdminMessage) (string, error) {
	if a.opts.AdminChannelID == "" {
		return "", errNoAdminChannel
	}
	send := &discordgo.MessageSend{Content: clip(m.Content, MaxContent), AllowedMentions: noMentions()}
	if m.MentionRoleID != "" {
		send.Content = clip("<@&"+m.MentionRoleID+"> "+m.Content, MaxContent)
		send.AllowedMentions = &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}, Roles: []string{m.MentionRoleID}}
	}
	if len(m.Image) > 0 {
		send.Files = []*discordgo.File{pngFile(m.Image, m.ImageName)}
	}
	// A nonce of its own makes the post safe to retry when an answer is lost.
	msg, err := a.PostAsBot(ctx, "post to the admin channel", a.opts.AdminChannelID, randomNonce(), send)
	if err != nil {
		return "", err
	}
	return msg.ID, nil
}

// EditAdmin edits an admin-channel message posted with PostAdmin.
func (a *Adapter) EditAdmin(ctx context.Context, messageID string, e AdminEdit) error {
	if a.opts.AdminChannelID == "" {
		return errNoAdminChannel
	}
	return a.do(ctx, "edit an admin message", true, func(o ...discordgo.RequestOption) error {
		ed := discordgo.NewMessageEdit(a.opts.AdminChannelID, messageID)
		ed.AllowedMentions = noMentions()
		if e.Content != nil {
			c := clip(*e.Content, MaxContent)
			ed.Content = &c
		}
		if e.RemoveImage || len(e.Image) > 0 {
			ed.Attachments = &[]*discordgo.MessageAttachment{}
		}
		if len(e.Image) > 0 {
			ed.Files = []*discordgo.File{pngFile(e.Image, e.ImageName)}
		}
		_, err := a.rest.ChannelMessageEditComplex(ed, o...)
		return err
	})
}

// DeleteAdmin deletes an admin-channel message.
func (a *Adapter) DeleteAdmin(ctx context.Context, messageID string) error {
	if a.opts.AdminChannelID == "" {
		return errNoAdminChannel
	}
	err := a.do(ctx, "delete an admin message", true, func(o ...discordgo.RequestOption) error {
		return a.rest.ChannelMessageDelete(a.opts.AdminChannelID, messageID, o...)
	})
	if notFound(err) {
		return nil
	}
	return err
}

func pngFile(b []byte, name string) *discordgo.File {
	if name == "" {
		name = "image.png"
	}
	return &discordgo.File{Name: name, ContentType: "image/png", Reader: bytes.NewReader(b)}
}

// RegisterCommands replaces the bridge's guild slash commands with cmds
// (bulk overwrite). When no admin role is configured, commands without
// DefaultMemberPermissions are hidden from members lacking Manage Server;
// either way the adapter refuses interactions of members not allowed.
func (a *Adapter) RegisterCommands(ctx context.Context, cmds []*discordgo.ApplicationCommand) ([]*discordgo.ApplicationCommand, error) {
	a.mu.Lock()
	appID := a.appID
	a.mu.Unlock()
	if appID == "" {
		return nil, ErrNotStarted
	}
	if a.opts.AdminRoleID == "" {
		perm := int64(discordgo.PermissionManageGuild)
		for _, c := range cmds {
			if c.DefaultMemberPermissions == nil {
				c.DefaultMemberPermissions = &perm
			}
		}
	}
	var out []*discordgo.ApplicationCommand
	err := a.do(ctx, "register slash commands", true, func(o ...discordgo.RequestOption) (err error) {
		out, err = a.rest.ApplicationCommandBulkOverwrite(appID, a.opts.GuildID, cmds, o...)
		return err
	})
	return out, err
}

// OnInteraction sets the function called with every interaction (slash
// command, button, modal submit) of an allowed member in the guild.
// Others get an ephemeral refusal. The function runs on its own goroutine
// and must answer within Discord's 3 seconds (Reply, Defer or ShowModal).
func (a *Adapter) OnInteraction(f func(ctx context.Context, in *Interaction)) {
	a.mu.Lock()
	a.onInteract = f
	a.mu.Unlock()
}

// Interaction is an interaction of an allowed member, with the ways to
// answer it.
type Interaction struct {
	*discordgo.Interaction
	a *Adapter
}

// UserID is the member who acted.
func (i *Interaction) UserID() string {
	if i.Member != nil && i.Member.User != nil {
		return i.Member.User.ID
	}
	if i.User != nil {
		return i.User.ID
	}
	return ""
}

// CommandName is the slash command's name, or "".
func (i *Interaction) CommandName() string {
	if i.Type != discordgo.InteractionApplicationCommand {
		return ""
	}
	return i.ApplicationCommandData().Name
}

// Option returns a slash command option by name, or nil.
func (i *Interaction) Option(name string) *discordgo.ApplicationCommandInteractionDataOption {
	if i.Type != discordgo.InteractionApplicationCommand {
		return nil
	}
	for _, o := range i.ApplicationCommandData().Options {
		if o.Name == name {
			return o
		}
	}
	return nil
}

// CustomID is the custom id of a button or a modal, or "".
func (i *Interaction) CustomID() string {
	switch i.Type {
	case discordgo.InteractionMessageComponent:
		return i.MessageComponentData().CustomID
	case discordgo.InteractionModalSubmit:
		return i.ModalSubmitData().CustomID
	}
	return ""
}

// ModalValues returns a modal submit's text inputs by custom id.
func (i *Interaction) ModalValues() map[string]string {
	out := map[string]string{}
	if i.Type != discordgo.InteractionModalSubmit {
		return out
	}
	var walk func(cs []discordgo.MessageComponent)
	walk = func(cs []discordgo.MessageComponent) {
		for _, c := range cs {
			switch c := c.(type) {
			case *discordgo.ActionsRow:
				walk(c.Components)
			case *discordgo.TextInput:
				out[c.CustomID] = c.Value
			}
		}
	}
	walk(i.ModalSubmitData().Components)
	return out
}

// Respond sends a raw interaction response.
func (i *Interaction) Respond(ctx context.Context, r *discordgo.InteractionResponse) error {
	return i.a.do(ctx, "answer an interaction", false, func(o ...discordgo.RequestOption) error {
		return i.a.rest.InteractionRespond(i.Interaction, r, o...)
	})
}

func flags(ephemeral bool) discordgo.MessageFlags {
	if ephemeral {
		return discordgo.MessageFlagsEphemeral
	}
	return 0
}

// Reply answers with a message, visible only to the member when ephemeral.
func (i *Interaction) Reply(ctx context.Context, content string, ephemeral bool) error {
	return i.Respond(ctx, &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{Content: clip(content, MaxContent), Flags: flags(ephemeral), AllowedMentions: noMentions()},
	})
}

// Defer acknowledges the interaction now, to answer later with EditReply
// or Followup.
func (i *Interaction) Defer(ctx context.Context, ephemeral bool) error {
	return i.Respond(ctx, &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseDeferredChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{Flags: flags(ephemeral)},
	})
}

// ShowModal answers with a modal of text inputs.
func (i *Interaction) ShowModal(ctx context.Context, customID, title string, inputs ...discordgo.TextInput) error {
	var rows []discordgo.MessageComponent
	for _, in := range inputs {
		rows = append(rows, discordgo.ActionsRow{Components: []discordgo.MessageComponent{in}})
	}
	return i.Respond(ctx, &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseModal,
		Data: &discordgo.InteractionResponseData{CustomID: customID, Title: title, Components: rows},
	})
}

// EditReply replaces the text of the first answer (after Defer or Reply).
func (i *Interaction) EditReply(ctx context.Context, content string) error {
	c := clip(content, MaxContent)
	return i.a.do(ctx, "edit an interaction answer", true, func(o ...discordgo.RequestOption) error {
		_, err := i.a.rest.InteractionResponseEdit(i.Interaction, &discordgo.WebhookEdit{Content: &c, AllowedMentions: noMentions()}, o...)
		return err
	})
}

// Followup sends one more message after the first answer and returns its id.
func (i *Interaction) Followup(ctx context.Context, content string, ephemeral bool) (string, error) {
	var msg *discordgo.Message
	err := i.a.do(ctx, "send an interaction followup", false, func(o ...discordgo.RequestOption) (err error) {
		msg, err = i.a.rest.FollowupMessageCreate(i.Interaction, true, &discordgo.WebhookParams{
			Content: clip(content, MaxContent), Flags: flags(ephemeral), AllowedMentions: noMentions(),
		}, o...)
		return err
	})
	if err != nil {
		return "", err
	}
	return msg.ID, nil
}

// handleInteraction gates an interaction and passes it on.
func (a *Adapter) handleInteraction(ctx context.Context, raw *discordgo.Interaction) {
	if raw.GuildID != a.opts.GuildID || raw.Type == discordgo.InteractionPing {
		return
	}
	in := &Interaction{Interaction: raw, a: a}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute) // an interaction token's life
	defer cancel()
	var member *discordgo.Member
	if raw.Member != nil {
		member = raw.Member
	}
	ok, err := a.allowed(ctx, in.UserID(), member)
	if err != nil {
		a.log.Warn("could not check an interaction's permission", "err", err)
		_ = in.Reply(ctx, "The bridge could not check your permissions just now; try again.", true)
		return
	}
	if !ok {
		_ = in.Reply(ctx, "Only the bridge's admins can use this.", true)
		return
	}
	a.mu.Lock()
	f := a.onInteract
	a.mu.Unlock()
	if f == nil {
		_ = in.Reply(ctx, "The bridge has no commands yet.", true)
		return
	}
	f(ctx, in)
}
