package discord

import (
	"context"
	"fmt"
	"strconv"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/admin"
)

// AdminChannel is the admin channel as package admin needs it
// (admin.Channel), over the adapter's admin primitives.
type AdminChannel struct{ a *Adapter }

var _ admin.Channel = AdminChannel{}

// AdminChannel returns the admin-channel port of the adapter.
func (a *Adapter) AdminChannel() AdminChannel { return AdminChannel{a} }

// unusable marks the errors that mean the admin channel cannot be used at
// all: it does not exist (10003), the bot cannot see it (50001) or may not
// post or attach files there (50013), or none is configured.
func unusable(err error) error {
	if err == nil {
		return nil
	}
	switch restCode(err) {
	case 10003, 50001, 50013:
		return fmt.Errorf("%w: %w", admin.ErrChannelUnusable, err)
	}
	if err == errNoAdminChannel || restStatus(err) == 403 || (restStatus(err) == 404 && restCode(err) != 10008) {
		return fmt.Errorf("%w: %w", admin.ErrChannelUnusable, err)
	}
	return err
}

// Post posts into the admin channel; MentionAdmins pings the admin role
// when one is configured (members with Manage Server cannot be pinged as a
// group, so nobody is then).
func (c AdminChannel) Post(ctx context.Context, m admin.Message) (string, error) {
	am := AdminMessage{Content: m.Content, Image: m.Image, ImageName: m.ImageName}
	if m.MentionAdmins {
		am.MentionRoleID = c.a.opts.AdminRoleID
	}
	id, err := c.a.PostAdmin(ctx, am)
	return id, unusable(err)
}

// Edit edits an admin message in place.
func (c AdminChannel) Edit(ctx context.Context, id string, e admin.Edit) error {
	content := e.Content
	err := c.a.EditAdmin(ctx, id, AdminEdit{Content: &content, Image: e.Image, ImageName: e.ImageName, RemoveImage: e.RemoveImage})
	if restCode(err) == 10008 { // Unknown Message
		return fmt.Errorf("%w: %w", admin.ErrMessageGone, err)
	}
	return unusable(err)
}

// RegisterCommands installs the guild slash commands.
func (c AdminChannel) RegisterCommands(ctx context.Context, cmds []admin.Command) error {
	out := make([]*discordgo.ApplicationCommand, 0, len(cmds))
	for _, cmd := range cmds {
		dc := &discordgo.ApplicationCommand{Name: cmd.Name, Description: cmd.Description, Type: discordgo.ChatApplicationCommand}
		for _, o := range cmd.Options {
			do := &discordgo.ApplicationCommandOption{Name: o.Name, Description: o.Description, Required: o.Required}
			switch o.Type {
			case admin.OptionInteger:
				do.Type = discordgo.ApplicationCommandOptionInteger
				one := 1.0
				do.MinValue = &one
			case admin.OptionChannel:
				do.Type = discordgo.ApplicationCommandOptionChannel
				do.ChannelTypes = []discordgo.ChannelType{discordgo.ChannelTypeGuildText, discordgo.ChannelTypeGuildPublicThread}
			default:
				do.Type = discordgo.ApplicationCommandOptionString
			}
			for _, ch := range o.Choices {
				do.Choices = append(do.Choices, &discordgo.ApplicationCommandOptionChoice{Name: ch, Value: ch})
			}
			dc.Options = append(dc.Options, do)
		}
		out = append(out, dc)
	}
	_, err := c.a.RegisterCommands(ctx, out)
	return err
}

// OnRequest routes the interactions of allowed members to f.
func (c AdminChannel) OnRequest(f func(ctx context.Context, r admin.Request)) {
	c.a.OnInteraction(func(ctx context.Context, in *Interaction) {
		f(ctx, adminRequest{in})
	})
}

// adminRequest is an Interaction as an admin.Request.
type adminRequest struct{ in *Interaction }

func (r adminRequest) Command() string { return r.in.CommandName() }

func (r adminRequest) Option(name string) (string, bool) {
	o := r.in.Option(name)
	if o == nil {
		return "", false
	}
	switch v := o.Value.(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatInt(int64(v), 10), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return fmt.Sprint(o.Value), true
}

func (r adminRequest) ModalID() string {
	if r.in.Type != discordgo.InteractionModalSubmit {
		return ""
	}
	return r.in.CustomID()
}

func (r adminRequest) ModalValue(id string) string { return r.in.ModalValues()[id] }
func (r adminRequest) UserID() string              { return r.in.UserID() }

func (r adminRequest) Reply(ctx context.Context, text string, ephemeral bool) error {
	return r.in.Reply(ctx, text, ephemeral)
}

func (r adminRequest) Defer(ctx context.Context, ephemeral bool) error {
	return r.in.Defer(ctx, ephemeral)
}

func (r adminRequest) EditReply(ctx context.Context, text string) error {
	return r.in.EditReply(ctx, text)
}

func (r adminRequest) AskText(ctx context.Context, modalID, title string, in admin.TextInput) error {
	return r.in.ShowModal(ctx, modalID, title, discordgo.TextInput{
		CustomID: in.ID, Label: in.Label, Placeholder: in.Placeholder, Style: discordgo.TextInputShort,
		Required: true, MinLength: in.MinLength, MaxLength: in.MaxLength,
	})
}
