package qq_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// These tests run the client against the QQ test double (package qqtest):
// every API call, the iterators and every error path, with the double
// checking comm, cookies, User-Agent and parameters (Deviations).

var account = qqtest.Account{
	MusicID: 123456789, MusicKey: "Q_H_L_integrationkey", LoginType: 2, Nick: "Me",
	OpenID: "oid", AccessToken: "at-secret-token", RefreshToken: "rt-secret-token", RefreshKey: "rk-secret-key", ExpiredAt: 1800000000,
	MusicKeyCreateTime: time.Now().Unix(), KeyExpiresIn: 259200,
}

func credOf(a qqtest.Account) *qq.Credential {
	return &qq.Credential{MusicID: a.MusicID, MusicKey: a.MusicKey, LoginType: a.LoginType, OpenID: a.OpenID,
		AccessToken: a.AccessToken, RefreshToken: a.RefreshToken, RefreshKey: a.RefreshKey, ExpiredAt: a.ExpiredAt,
		MusickeyCreateTime: a.MusicKeyCreateTime, KeyExpiresIn: a.KeyExpiresIn}
}

type env struct {
	s   *qqtest.Server
	c   *qq.Client
	dir string
}

func newEnv(t *testing.T, opts ...qqtest.Option) *env {
	t.Helper()
	s := qqtest.New(append([]qqtest.Option{qqtest.WithAccount(account)}, opts...)...)
	t.Cleanup(s.Close)
	dir := t.TempDir()
	c, err := qq.New(qq.Options{
		HTTPClient:     s.Client(),
		Endpoints:      s.Endpoints(),
		DeviceFile:     filepath.Join(dir, "device.json"),
		CredentialFile: filepath.Join(dir, "credential.json"),
		Credential:     credOf(account),
		RateLimit:      rate.Inf,
		QIMEIBackoff:   time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{s: s, c: c, dir: dir}
	t.Cleanup(func() {
		if d := s.Deviations(); len(d) > 0 {
			t.Errorf("the double saw protocol deviations:\n%v", d)
		}
	})
	return e
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestQQTestEveryCall(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	alice := e.s.AddUser(qqtest.User{Nick: "Alice", Avatar: "https://a/alice.jpg"})
	sid := e.s.AddSession(alice)
	if _, err := e.s.Deliver(sid, qqtest.Text("hello from alice")); err != nil {
		t.Fatal(err)
	}
	img, _ := e.s.Deliver(sid, qqtest.Image("https://p/1.jpg", 640, 480))
	card, _ := e.s.Deliver(sid, qqtest.Card("Song", "A song", "https://p/c.jpg", "https://y.qq.com/x"))

	list, err := e.c.GetSessionList(ctx, qq.SessionListParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Sessions) != 1 || string(list.Sessions[0].SessionID) != sid || list.Sessions[0].User.Nick != "Alice" ||
		list.Sessions[0].NewMsg == nil || list.Sessions[0].NewMsg.MetaData.Title != "Song" {
		t.Fatalf("session list = %+v", list)
	}
	peer := string(list.Sessions[0].User.Uin)

	msgs, err := e.c.GetMessages(ctx, qq.MessagesParams{SessionID: sid, UserID: peer})
	if err != nil {
		t.Fatal(err)
	}
	texts := map[string]bool{}
	for _, m := range msgs.Messages {
		texts[string(m.MetaData.Content)] = true
	}
	if len(msgs.Messages) != 3 || !texts["hello from alice"] || !texts["A song"] {
		t.Fatalf("messages = %+v", msgs.Messages)
	}

	sent, err := e.c.SendMessage(ctx, qq.SendMessageParams{UserID: peer, SessionID: sid, MsgType: qqtest.MsgTypeText, MetaData: qq.TextMetaData("hi alice"), ClientKey: "ck-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sent.Messages) != 1 || sent.Messages[0].MetaData.Content != "hi alice" {
		t.Errorf("send result = %+v", sent)
	}
	if got := e.s.Sent(); len(got) != 1 || got[0].Meta.Content != "hi alice" || got[0].ClientKey != "ck-1" || got[0].Method != "SendMessageAsync" {
		t.Errorf("server saw %+v", got)
	}
	if _, err := e.c.SendMessage(ctx, qq.SendMessageParams{UserID: peer, MsgType: 1, MetaData: qq.TextMetaData("star"), StarSend: true}); err != nil {
		t.Fatal(err)
	}
	if got := e.s.Sent(); len(got) != 2 || got[1].Method != "StarSendSuperMsg" {
		t.Errorf("star send: %+v", got)
	}

	details, err := e.c.GetMediaDetails(ctx, sid, []string{img.ID})
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := details.MsgIDs[img.ID]; !ok || d.MetaData == nil || d.MetaData.Width != 640 {
		t.Errorf("media details = %+v", details)
	}
	if _, err := e.c.SetConfig(ctx, 7, "on"); err != nil {
		t.Fatal(err)
	}
	if cfg, err := e.c.GetConfig(ctx, 7, ""); err != nil || cfg.ConfigValueStr != "on" {
		t.Errorf("GetConfig = %+v, %v", cfg, err)
	}
	if _, err := e.c.GetMusicianCard(ctx, alice.EncryptUIN); err != nil {
		t.Error(err)
	}
	if _, err := e.c.ReportCardAction(ctx, qq.CardActionParams{TargetUserID: peer, MsgType: qqtest.MsgTypeCard, Confirm: 1, MsgID: card.ID}); err != nil {
		t.Error(err)
	}
	zero := 0
	if _, err := e.c.GetChatEntries(ctx, qq.ChatEntriesParams{Scenes: []int{1, 2}, FromUserType: &zero, UserID: peer}); err != nil {
		t.Error(err)
	}
	if _, err := e.c.MarkAllRead(ctx, 1, alice.EncryptUIN); err != nil {
		t.Error(err)
	}
	if _, err := e.c.GetSafetyHint(ctx, alice.EncryptUIN, 0); err != nil {
		t.Error(err)
	}
	if _, err := e.c.GetFriendFloatingIcon(ctx, alice.EncryptUIN); err != nil {
		t.Error(err)
	}
	if _, err := e.c.DeleteMessage(ctx, sid, img.ID, 0); err != nil {
		t.Error(err)
	}
	if ms := e.s.Messages(sid); len(ms) != 4 {
		t.Errorf("after DeleteMessage %d live messages, want 4", len(ms))
	}
	if _, err := e.c.ClearSession(ctx, sid, 0); err != nil {
		t.Error(err)
	}
	if ms := e.s.Messages(sid); len(ms) != 0 {
		t.Errorf("after ClearSession %d live messages", len(ms))
	}
	if _, err := e.c.DeleteSession(ctx, sid, 0); err != nil {
		t.Error(err)
	}
	if ss := e.s.Sessions(); len(ss) != 0 {
		t.Errorf("after DeleteSession: %+v", ss)
	}
	if err := e.c.CheckCredential(ctx); err != nil {
		t.Errorf("CheckCredential: %v", err)
	}

	// Bootstrap happened once, with the double's QIMEI.
	if n := e.s.Count("GetSession"); n != 1 {
		t.Errorf("GetSession called %d times", n)
	}
	q16, q36 := e.s.QIMEI()
	d := e.c.Device()
	if d.QIMEI == nil || *d.QIMEI != q16 || *d.QIMEI36 != q36 {
		t.Errorf("device QIMEI = %v/%v, want %s/%s", d.QIMEI, d.QIMEI36, q16, q36)
	}
	back, err := qq.LoadDevice(filepath.Join(e.dir, "device.json"))
	if err != nil || back.SessionSID == nil || back.QIMEI == nil {
		t.Errorf("device file lacks session or QIMEI: %v", err)
	}
}

func TestQQTestIteratorsBothPageOrders(t *testing.T) {
	for _, newestFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("newestFirst=%v", newestFirst), func(t *testing.T) {
			e := newEnv(t, qqtest.WithPageOrder(newestFirst), qqtest.WithMaxPageSizes(7, 9))
			ctx := ctxT(t)
			var sid string
			for i := range 25 {
				u := e.s.AddUser(qqtest.User{Nick: "u" + strconv.Itoa(i)})
				sid = e.s.AddSession(u)
				if _, err := e.s.Deliver(sid, qqtest.Text("first")); err != nil {
					t.Fatal(err)
				}
			}
			sessions := map[string]bool{}
			for s, err := range e.c.Sessions(ctx, qq.SessionListParams{}) {
				if err != nil {
					t.Fatal(err)
				}
				sessions[string(s.SessionID)] = true
			}
			if len(sessions) != 25 {
				t.Errorf("iterated %d sessions, want 25", len(sessions))
			}
			for i := range 40 {
				e.s.Deliver(sid, qqtest.Text("m"+strconv.Itoa(i)))
			}
			var got []qq.Message
			for m, err := range e.c.Messages(ctx, qq.MessagesParams{SessionID: sid}) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, m)
			}
			if len(got) != 41 {
				t.Fatalf("iterated %d messages, want 41", len(got))
			}
			qq.SortMessages(got)
			want := e.s.Messages(sid)
			for i := range got {
				if string(got[i].ID) != want[i].ID {
					t.Fatalf("message %d is %s, want %s (oldest first)", i, got[i].ID, want[i].ID)
				}
			}
		})
	}
}

func TestQQTestErrorPaths(t *testing.T) {
	cases := []struct {
		name  string
		fault qqtest.Fault
		check func(t *testing.T, err error)
	}{
		{"expired 1000", qqtest.Fault{Kind: qqtest.Expired, Code: 1000}, is(qq.ErrCredentialExpired)},
		{"expired 104400", qqtest.Fault{Kind: qqtest.Expired, Code: 104400}, is(qq.ErrCredentialExpired)},
		{"expired 104401", qqtest.Fault{Kind: qqtest.Expired, Code: 104401}, is(qq.ErrCredentialExpired)},
		{"signature", qqtest.Fault{Kind: qqtest.Signature}, is(qq.ErrSignatureRequired)},
		{"rate limited", qqtest.Fault{Kind: qqtest.RateLimited, FeedbackURL: "https://y.qq.com/feedback"}, func(t *testing.T, err error) {
			var rl *qq.RateLimitError
			if !errors.Is(err, qq.ErrRateLimited) || !errors.As(err, &rl) || rl.FeedbackURL != "https://y.qq.com/feedback" {
				t.Errorf("err = %v", err)
			}
		}},
		{"api error", qqtest.Fault{Kind: qqtest.APIError, Code: 10001}, func(t *testing.T, err error) {
			var ae *qq.APIError
			if !errors.As(err, &ae) || ae.Code != 10001 || ae.Method != "GetSessionList" {
				t.Errorf("err = %v", err)
			}
		}},
		{"http 5xx", qqtest.Fault{Kind: qqtest.HTTP5xx, Code: 503}, func(t *testing.T, err error) {
			var he *qq.HTTPStatusError
			if !errors.As(err, &he) || he.Status != 503 {
				t.Errorf("err = %v", err)
			}
		}},
		{"malformed", qqtest.Fault{Kind: qqtest.Malformed}, func(t *testing.T, err error) {
			var me *qq.MalformedResponseError
			if !errors.As(err, &me) {
				t.Errorf("err = %v", err)
			}
		}},
		{"gateway", qqtest.Fault{Kind: qqtest.Gateway, Code: 500001}, func(t *testing.T, err error) {
			var ge *qq.GatewayError
			if !errors.As(err, &ge) || ge.Code != 500001 {
				t.Errorf("err = %v", err)
			}
		}},
		{"timeout", qqtest.Fault{Kind: qqtest.Timeout}, func(t *testing.T, err error) {
			var ne *qq.NetworkError
			if !errors.As(err, &ne) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v", err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if err := e.c.RefreshSession(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			e.s.Fail("GetSessionList", tc.fault)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := e.c.GetSessionList(ctx, qq.SessionListParams{})
			if err == nil {
				t.Fatal("no error")
			}
			if s := err.Error(); containsAny(s, account.MusicKey, account.RefreshKey, account.RefreshToken) {
				t.Errorf("error leaks a secret: %s", s)
			}
			tc.check(t, err)
		})
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if sub != "" && strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func is(target error) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Errorf("err = %v, want %v", err, target)
		}
	}
}

func TestQQTestExpiryCheckAndRefresh(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	e.s.ExpireCredential()
	if err := e.c.CheckCredential(ctx); !errors.Is(err, qq.ErrCredentialExpired) {
		t.Fatalf("CheckCredential on an expired key: %v", err)
	}
	if _, err := e.c.GetSessionList(ctx, qq.SessionListParams{}); !errors.Is(err, qq.ErrCredentialExpired) {
		t.Fatalf("GetSessionList on an expired key: %v", err)
	}
	fresh, err := e.c.RefreshCredential(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.MusicKey != e.s.Account().MusicKey || fresh.MusicKey == account.MusicKey || fresh.LoginType != 2 {
		t.Errorf("refreshed credential %v does not hold the server's new key", fresh)
	}
	if err := e.c.CheckCredential(ctx); err != nil {
		t.Errorf("after refresh: %v", err)
	}
	saved, err := qq.LoadCredential(filepath.Join(e.dir, "credential.json"))
	if err != nil || saved.MusicKey != fresh.MusicKey {
		t.Errorf("refreshed credential not saved: %v", err)
	}
	raw, _ := json.Marshal(saved)
	var again qq.Credential
	if err := json.Unmarshal(raw, &again); err != nil || again != *saved {
		t.Errorf("saved credential does not round-trip")
	}
}

func TestQQTestSignedGateway(t *testing.T) {
	e := newEnv(t, qqtest.WithSignRequired("GetConfig"))
	ctx := ctxT(t)
	// Answered 2000 unsigned, the call goes again through musics.fcg.
	if _, err := e.c.GetConfig(ctx, 1, ""); err != nil {
		t.Fatalf("call refused unsigned: %v", err)
	}
	if n := e.s.Count("GetConfig"); n != 2 {
		t.Errorf("GetConfig sent %d times, want 2 (unsigned, then signed)", n)
	}
	_, err := e.c.Call(ctx, qq.Request{Module: qq.ModulePrivateMsgRead, Method: "GetConfig", Signed: true,
		Param: map[string]any{"config_type": 1, "config_value_str": ""}})
	if err != nil {
		t.Fatalf("signed call: %v", err)
	}
}

func TestQQTestQIMEIFailureIsNotFatal(t *testing.T) {
	e := newEnv(t)
	e.s.Fail("GetQimei", qqtest.Fault{Kind: qqtest.HTTP5xx})
	if _, err := e.c.GetSessionList(ctxT(t), qq.SessionListParams{}); err != nil {
		t.Fatalf("QIMEI outage stopped the call: %v", err)
	}
	if n := e.s.Count("GetQimei"); n != 3 {
		t.Errorf("QIMEI tried %d times, want 3", n)
	}
	// Going on without a QIMEI is the documented degradation; the double
	// reports it, and nothing else.
	for _, d := range e.s.Deviations() {
		if !strings.Contains(d, "QIMEI") {
			t.Errorf("unexpected deviation: %s", d)
		}
	}
	e.s.ResetDeviations()
}

func TestQQTestConcurrentUse(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	u := e.s.AddUser(qqtest.User{Nick: "Bob"})
	sid := e.s.AddSession(u)
	done := make(chan error, 40)
	for i := range 20 {
		go func() {
			_, err := e.c.GetMessages(ctx, qq.MessagesParams{SessionID: sid})
			done <- err
		}()
		go func() {
			_, err := e.c.SendMessage(ctx, qq.SendMessageParams{UserID: strconv.FormatInt(u.UIN, 10), SessionID: sid, MsgType: 1, MetaData: qq.TextMetaData("n" + strconv.Itoa(i))})
			done <- err
		}()
	}
	for range 40 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	if n := len(e.s.Sent()); n != 20 {
		t.Errorf("%d sent, want 20", n)
	}
	if n := e.s.Count("GetSession"); n != 1 {
		t.Errorf("concurrent first calls bootstrapped %d sessions, want 1", n)
	}
	if n := e.s.Count("GetQimei"); n != 1 {
		t.Errorf("concurrent first calls acquired %d QIMEIs, want 1", n)
	}
}

func TestQQTestThrottleKeepsUnderServerRateLimit(t *testing.T) {
	s := qqtest.New(qqtest.WithAccount(account))
	t.Cleanup(s.Close)
	s.SetRateLimit(20, 10)
	newClient := func(lim rate.Limit, burst int) *qq.Client {
		c, err := qq.New(qq.Options{HTTPClient: s.Client(), Endpoints: s.Endpoints(), Credential: credOf(account), RateLimit: lim, Burst: burst})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := ctxT(t)
	throttled := newClient(20, 10)
	for i := range 25 {
		if _, err := throttled.GetConfig(ctx, 1, ""); err != nil {
			t.Fatalf("call %d under the server's limit: %v", i, err)
		}
	}
	time.Sleep(600 * time.Millisecond) // let the server's bucket refill
	unthrottled := newClient(rate.Inf, 1)
	var err error
	for range 25 {
		if _, err = unthrottled.GetConfig(ctx, 1, ""); err != nil {
			break
		}
	}
	if !errors.Is(err, qq.ErrRateLimited) {
		t.Errorf("without the throttle: %v, want rate limited", err)
	}
}

// Logout ends the login on the server: the client forgets the credential,
// and the old musickey no longer works there either.
func TestLogoutEndsTheLoginOnTheServer(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	old := e.c.Credential()
	if err := e.c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if e.c.Credential().HasLogin() {
		t.Error("the client still holds the credential after Logout")
	}
	if n := e.s.Count("Logout"); n != 1 {
		t.Errorf("Logout reached the server %d times, want 1", n)
	}
	if err := e.c.CheckCandidate(ctx, old); !errors.Is(err, qq.ErrCredentialExpired) {
		t.Errorf("the logged-out musickey: err %v, want ErrCredentialExpired", err)
	}
	// Without a login there is nothing to end: refused locally.
	if err := e.c.Logout(ctx); !errors.Is(err, qq.ErrCredentialRequired) {
		t.Errorf("second Logout: err %v, want ErrCredentialRequired", err)
	}
	if n := e.s.Count("Logout"); n != 1 {
		t.Errorf("a refused Logout reached the server (%d calls)", n)
	}
}

// A Logout the server refuses keeps the credential and says why.
func TestLogoutRefusedKeepsTheCredential(t *testing.T) {
	e := newEnv(t)
	e.s.Fail("Logout", qqtest.Fault{Kind: qqtest.RateLimited})
	err := e.c.Logout(ctxT(t))
	if !errors.Is(err, qq.ErrRateLimited) {
		t.Fatalf("err %v, want ErrRateLimited", err)
	}
	if !e.c.Credential().HasLogin() {
		t.Error("a failed Logout dropped the credential")
	}
}
