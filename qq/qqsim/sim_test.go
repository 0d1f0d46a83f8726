package qqsim_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqsim"
)

// TestSimulatedAccount drives the simulation with the real QQ client: its
// QR login confirms itself, the peers' sessions and first message are
// there and marked simulated, and a reply is answered.
func TestSimulatedAccount(t *testing.T) {
	sim, err := qqsim.Start(qqsim.Options{Every: time.Hour, ScanAfter: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	c, err := qq.New(qq.Options{Endpoints: qq.Endpoints(sim.Endpoints()), RateLimit: rate.Inf})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	events, err := c.StartQRLogin(ctx, qq.LoginQQ)
	if err != nil {
		t.Fatal(err)
	}
	var cred *qq.Credential
	for ev := range events {
		if ev.State == qq.LoginDone {
			cred = ev.Credential
		}
		if ev.State == qq.LoginFailed || ev.State == qq.LoginExpired || ev.State == qq.LoginRefused {
			t.Fatalf("the simulated login ended %v: %v", ev.State, ev.Err)
		}
	}
	if !cred.HasLogin() {
		t.Fatal("the simulated login did not confirm itself")
	}
	c.SetCredential(cred)

	list, err := c.GetSessionList(ctx, qq.SessionListParams{})
	if err != nil {
		t.Fatal(err)
	}
	var alice qq.Session
	for _, s := range list.Sessions {
		if !strings.HasSuffix(string(s.User.Nick), "(simulated)") {
			t.Errorf("a peer is not marked simulated: %q", s.User.Nick)
		}
		if s.User.Nick == "Alice (simulated)" {
			alice = s
		}
	}
	if len(list.Sessions) != 3 || alice.SessionID == "" {
		t.Fatalf("sessions %+v, want three simulated peers with Alice", list.Sessions)
	}
	if alice.NewMsg == nil || !strings.HasPrefix(string(alice.NewMsg.MetaData.Content), qqsim.Mark+" Hi!") {
		t.Fatalf("Alice's first message: %+v", alice.NewMsg)
	}

	if _, err := c.SendMessage(ctx, qq.SendMessageParams{
		UserID: string(alice.User.Uin), SessionID: string(alice.SessionID), MetaData: qq.TextMetaData("hello"), ClientKey: qq.NewClientKey(),
	}); err != nil {
		t.Fatal(err)
	}
	for {
		ml, err := c.GetMessages(ctx, qq.MessagesParams{SessionID: string(alice.SessionID), UserID: string(alice.User.Uin)})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ml.Messages {
			if m.MetaData != nil && strings.Contains(string(m.MetaData.Content), "Alice (simulated) got your reply (5 characters)") {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Alice never answered: %+v", ml.Messages)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
