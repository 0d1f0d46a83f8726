package bridge_test

import (
	"context"
	"fmt"
	"testing"

	"golang.org/x/time/rate"

	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// TestIntegrationOwnerAppearsAsThemselves: what the owner types in the
// phone app appears in Discord under the account's nick and avatar, even
// when the message list gives neither for them, marked as the owner's.
func TestIntegrationOwnerAppearsAsThemselves(t *testing.T) {
	acct := owner
	acct.Avatar = "https://thirdqq.qlogo.cn/g?b=sdk&k=owner&s=140"
	w := newWorld(t, qqtest.WithAccount(acct), qqtest.WithBareOwnerMessages())
	alice := w.qq.AddUser(qqtest.User{Nick: "Alice"})
	sid := w.qq.AddSession(alice)
	if _, err := w.qq.Deliver(sid, qqtest.Text("hi")); err != nil {
		t.Fatal(err)
	}
	var ch discordtest.Channel
	w.eventually("Alice's channel", func() bool {
		var ok bool
		ch, ok = w.channelOf(sid)
		return ok && len(w.posted(ch.ID)) == 1
	})
	app, err := qq.New(qq.Options{HTTPClient: w.qq.Client(), Endpoints: w.qq.Endpoints(), Credential: w.client.Credential(), RateLimit: rate.Inf})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.SendMessage(context.Background(), qq.SendMessageParams{UserID: fmt.Sprint(alice.UIN), SessionID: sid,
		MsgType: 1, MetaData: qq.TextMetaData("typed in the app"), ClientKey: qq.NewClientKey()}); err != nil {
		t.Fatal(err)
	}
	w.eventually("the owner's message", func() bool { return len(w.posted(ch.ID)) == 2 })
	m := w.posted(ch.ID)[1]
	if m.Content != "typed in the app" || m.Author.Username != "Owner (you, from QQ)" || m.AvatarURL != acct.Avatar {
		t.Errorf("the owner's message: %q by %q with avatar %q; want it by %q with %q", m.Content, m.Author.Username, m.AvatarURL, "Owner (you, from QQ)", acct.Avatar)
	}
}
