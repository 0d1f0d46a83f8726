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

// ExampleClient_StartQRLogin logs in with the QQ Music app's QR code and
// keeps the credential alive. It runs against the test double, which plays
// the phone's part; a real client leaves Endpoints empty and shows
// ev.Image to a human.
func ExampleClient_StartQRLogin() {
	srv := qqtest.NewTLS()
	defer srv.Close()
	login := qqtest.AttachLogin(srv)
	defer login.Close()

	dir, _ := os.MkdirTemp("", "qq-login-example")
	defer os.RemoveAll(dir)
	client, err := qq.New(qq.Options{
		HTTPClient:     srv.Client(),
		Endpoints:      srv.Endpoints(),
		DeviceFile:     filepath.Join(dir, "device.json"),
		CredentialFile: filepath.Join(dir, "credential.json"),
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	events, err := client.StartQRLogin(ctx, qq.LoginMobile)
	if err != nil {
		log.Fatal(err)
	}
	for ev := range events {
		switch ev.State {
		case qq.LoginWaiting:
			fmt.Println("show the QR code:", ev.MIME)
			// The double's phone scans and confirms.
			q, _ := login.NextQR(ctx, qqtest.QRKindMobile)
			go func() { _ = q.Scan(); _ = q.Confirm() }()
		case qq.LoginDone:
			if err := client.AdoptCredential(ev.Credential); err != nil {
				log.Fatal(err)
			}
			fmt.Println("logged in as", ev.Credential.MusicID)
		case qq.LoginFailed:
			log.Fatal(ev.Err)
		default:
			fmt.Println(ev.State)
		}
	}

	// Refresh ahead of expiry; Run returns ErrReloginRequired when only a
	// new login helps.
	keeper := qq.NewKeeper(client, qq.KeeperOptions{})
	step, err := keeper.Tick(ctx, true)
	fmt.Println(step == qq.StepChecked, err)
	// Output:
	// show the QR code: image/png
	// scanned
	// confirmed
	// logged in as 2000000001
	// true <nil>
}
