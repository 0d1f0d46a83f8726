package discordtest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
)

// A test wires a discordgo session to the double, types as a member and
// answers a slash command.
func Example() {
	srv := discordtest.New(discordtest.WithHeartbeatInterval(50 * time.Millisecond))
	defer srv.Close()

	dg := srv.NewSession() // or: discordgo.New("Bot "+srv.Token) with Client = srv.HTTPClient()
	dg.SyncEvents = true
	got := make(chan string, 1)
	dg.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageCreate) { got <- m.Content })
	dg.AddHandler(func(dg *discordgo.Session, ic *discordgo.InteractionCreate) {
		_ = dg.InteractionRespond(ic.Interaction, &discordgo.InteractionResponse{
			Type: discordgo.InteractionResponseChannelMessageWithSource,
			Data: &discordgo.InteractionResponseData{Content: "pong", Flags: discordgo.MessageFlagsEphemeral},
		})
	})
	if err := dg.Open(); err != nil {
		fmt.Println(err)
		return
	}
	defer dg.Close() // before srv.Close

	srv.Type(srv.AdminChannelID, srv.AdminUserID, "hello")
	fmt.Println(<-got)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := srv.InvokeCommand(srv.AdminUserID, "ping", nil).Response(ctx)
	fmt.Println(resp.Content, resp.Ephemeral(), err)
	// Output:
	// hello
	// pong true <nil>
}
