package qq_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// Example reads every session and its messages and answers the peer. It
// runs against the test double; a real client leaves Endpoints empty.
func Example() {
	srv := qqtest.New(qqtest.WithAccount(account))
	defer srv.Close()
	alice := srv.AddUser(qqtest.User{Nick: "Alice"})
	sid := srv.AddSession(alice)
	srv.Deliver(sid, qqtest.Text("hello"))
	srv.Deliver(sid, qqtest.Text("are you there?"))

	dir, _ := os.MkdirTemp("", "qq-example")
	defer os.RemoveAll(dir)
	client, err := qq.New(qq.Options{
		HTTPClient: srv.Client(),
		Endpoints:  srv.Endpoints(),
		DeviceFile: filepath.Join(dir, "device.json"),
		Credential: credOf(account),
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for s, err := range client.Sessions(ctx, qq.SessionListParams{}) {
		if err != nil {
			log.Fatal(err)
		}
		var msgs []qq.Message
		for m, err := range client.Messages(ctx, qq.MessagesParams{SessionID: string(s.SessionID)}) {
			if err != nil {
				log.Fatal(err)
			}
			msgs = append(msgs, m)
		}
		qq.SortMessages(msgs)
		for _, m := range msgs {
			fmt.Printf("%s: %s\n", s.User.Nick, m.MetaData.Content)
		}
		_, err := client.SendMessage(ctx, qq.SendMessageParams{
			UserID: string(s.User.Uin), SessionID: string(s.SessionID), MsgType: 1,
			MetaData: qq.TextMetaData("yes!"), ClientKey: qq.NewClientKey(),
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("sent:", srv.Sent()[0].Meta.Content)
	// Output:
	// Alice: hello
	// Alice: are you there?
	// sent: yes!
}
