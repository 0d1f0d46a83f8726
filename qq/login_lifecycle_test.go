package qq_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

func TestRefreshAt(t *testing.T) {
	const created = 1_700_000_000
	at := func(sec int64) time.Time { return time.Unix(sec, 0) }
	tests := []struct {
		name string
		cred qq.Credential
		want time.Time
	}{
		{"WeChat, needRefreshKeyIn", qq.Credential{LoginType: 1, MusickeyCreateTime: created, KeyExpiresIn: 259200, NeedRefreshKeyIn: 129600}, at(created + 129600)},
		{"QQ, needRefreshKeyIn", qq.Credential{LoginType: 2, MusickeyCreateTime: created, KeyExpiresIn: 259200, NeedRefreshKeyIn: 86400}, at(created + 86400)},
		{"mobile, fifth of lifetime", qq.Credential{LoginType: 6, MusickeyCreateTime: created, KeyExpiresIn: 259200}, at(created + 259200 - 51840)},
		{"phone/other, long life capped at a day", qq.Credential{LoginType: 0, MusickeyCreateTime: created, KeyExpiresIn: 30 * 86400}, at(created + 29*86400)},
		{"short life, at least 10 minutes ahead", qq.Credential{LoginType: 2, MusickeyCreateTime: created, KeyExpiresIn: 1800}, at(created + 1200)},
		{"very short life, at creation", qq.Credential{LoginType: 2, MusickeyCreateTime: created, KeyExpiresIn: 300}, at(created)},
		{"needRefreshKeyIn beyond expiry ignored", qq.Credential{LoginType: 1, MusickeyCreateTime: created, KeyExpiresIn: 259200, NeedRefreshKeyIn: 300000}, at(created + 259200 - 51840)},
		{"needRefreshKeyIn as a unix time", qq.Credential{LoginType: 2, MusickeyCreateTime: created, KeyExpiresIn: 259200, NeedRefreshKeyIn: created + 1000}, at(created + 1000)},
		{"no expiry data", qq.Credential{LoginType: 2, MusicID: 1, MusicKey: "k"}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cred.RefreshAt()
			if !got.Equal(tt.want) {
				t.Fatalf("RefreshAt = %v, want %v", got, tt.want)
			}
			if tt.want.IsZero() {
				if tt.cred.RefreshDue(time.Unix(created+10*365*86400, 0)) {
					t.Fatal("due without expiry data")
				}
				return
			}
			if tt.cred.RefreshDue(tt.want.Add(-time.Second)) || !tt.cred.RefreshDue(tt.want) {
				t.Fatal("RefreshDue disagrees with RefreshAt")
			}
		})
	}
}

// accountFor builds a server account and the matching client credential.
func accountFor(loginType int, created, expiresIn int64) (qqtest.Account, *qq.Credential) {
	key := "Q_H_L_oldkey"
	if loginType == 1 {
		key = "W_X_oldkey"
	}
	a := qqtest.Account{
		MusicID: testMusicID, MusicKey: key, LoginType: loginType,
		OpenID: "openid", UnionID: "unionid", AccessToken: "at", RefreshToken: "rt", RefreshKey: "rk",
		ExpiredAt: created + 7776000, MusicKeyCreateTime: created, KeyExpiresIn: expiresIn,
	}
	c := &qq.Credential{
		MusicID: testMusicID, MusicKey: key, LoginType: loginType,
		OpenID: "openid", UnionID: "unionid", AccessToken: "at", RefreshToken: "rt", RefreshKey: "rk",
		ExpiredAt: created + 7776000, MusickeyCreateTime: created, KeyExpiresIn: expiresIn,
	}
	return a, c
}

func countLogin(s *qqtest.Server) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method == "Login" {
			n++
		}
	}
	return n
}

// The decision and the refresh call, for each login type: a due credential
// is refreshed with that type's parameters and persisted with mode 0600; a
// fresh one is left alone without a request.
func TestKeeperRefreshEachLoginType(t *testing.T) {
	for _, lt := range []int{1, 2, 6, 3} {
		t.Run(map[int]string{1: "wechat", 2: "qq", 6: "mobile", 3: "other"}[lt], func(t *testing.T) {
			e := newLoginEnv(t)
			now := time.Now().Unix()
			ctx := context.Background()

			// Fresh: nothing to do.
			a, cred := accountFor(lt, now-100, 259200)
			e.s.SetAccount(a)
			if err := e.c.AdoptCredential(cred); err != nil {
				t.Fatal(err)
			}
			k := qq.NewKeeper(e.c, qq.KeeperOptions{})
			step, err := k.Tick(ctx, false)
			if err != nil || step != qq.StepNothing || countLogin(e.s) != 0 {
				t.Fatalf("fresh credential: step %v err %v logins %d", step, err, countLogin(e.s))
			}

			// Due (past needRefresh time, not yet expired): refreshed.
			a, cred = accountFor(lt, now-250000, 259200)
			e.s.SetAccount(a)
			if err := e.c.AdoptCredential(cred); err != nil {
				t.Fatal(err)
			}
			var got *qq.Credential
			k = qq.NewKeeper(e.c, qq.KeeperOptions{OnRefresh: func(c *qq.Credential) { got = c }})
			step, err = k.Tick(ctx, false)
			if err != nil || step != qq.StepRefreshed {
				t.Fatalf("due credential: step %v err %v", step, err)
			}
			cur := e.c.Credential()
			if cur.MusicKey == cred.MusicKey || cur.MusicKey != e.s.Account().MusicKey || got == nil || got.MusicKey != cur.MusicKey {
				t.Fatal("the client does not hold the refreshed key")
			}
			if cur.LoginType != lt {
				t.Fatalf("login type %d after refresh, want %d", cur.LoginType, lt)
			}
			if cur.RefreshDue(time.Now()) {
				t.Fatal("still due right after a refresh")
			}
			fi, err := os.Stat(e.credFile)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("credential file: %v %v", fi, err)
			}
			saved, err := qq.LoadCredential(e.credFile)
			if err != nil || saved.MusicKey != cur.MusicKey {
				t.Fatalf("saved credential is not the refreshed one: %v", err)
			}
			reqs := e.s.Requests()
			last := reqs[len(reqs)-1]
			if last.Method != "Login" {
				t.Fatalf("last request %s", last.Method)
			}
			e.checkClean(t)
		})
	}
}

func TestKeeperChecksServerWithoutExpiryData(t *testing.T) {
	e := newLoginEnv(t)
	a, cred := accountFor(2, 0, 0)
	e.s.SetAccount(a)
	if err := e.c.AdoptCredential(cred); err != nil {
		t.Fatal(err)
	}
	k := qq.NewKeeper(e.c, qq.KeeperOptions{})
	ctx := context.Background()
	if step, err := k.Tick(ctx, true); err != nil || step != qq.StepChecked {
		t.Fatalf("step %v err %v, want checked", step, err)
	}
	if step, err := k.Tick(ctx, false); err != nil || step != qq.StepNothing {
		t.Fatalf("step %v err %v, want nothing without a server check", step, err)
	}
	e.s.ExpireCredential()
	if step, err := k.Tick(ctx, true); err != nil || step != qq.StepRefreshed {
		t.Fatalf("step %v err %v, want refreshed after the server said expired", step, err)
	}
	if err := e.c.CheckCredential(ctx); err != nil {
		t.Fatalf("refreshed credential refused: %v", err)
	}
}

func TestKeeperReloginRequired(t *testing.T) {
	now := time.Now().Unix()
	tests := []struct {
		name        string
		created     int64
		fault       qqtest.Fault
		wantRelogin bool
	}{
		{"expired and refused", now - 300000, qqtest.Fault{Kind: qqtest.Expired}, true},
		{"expired and banned", now - 300000, qqtest.Fault{Kind: qqtest.APIError, Code: 20450}, true},
		{"expired, server down: retry", now - 300000, qqtest.Fault{Kind: qqtest.HTTP5xx}, false},
		{"due but alive, refused: retry", now - 250000, qqtest.Fault{Kind: qqtest.Expired}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newLoginEnv(t)
			a, cred := accountFor(2, tt.created, 259200)
			e.s.SetAccount(a)
			if err := e.c.AdoptCredential(cred); err != nil {
				t.Fatal(err)
			}
			e.s.Fail("Login", tt.fault)
			_, err := qq.NewKeeper(e.c, qq.KeeperOptions{}).Tick(context.Background(), false)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, qq.ErrReloginRequired) != tt.wantRelogin {
				t.Fatalf("err %v; relogin wanted: %v", err, tt.wantRelogin)
			}
		})
	}
}

func TestKeeperRunRetriesThenRefreshes(t *testing.T) {
	e := newLoginEnv(t)
	a, cred := accountFor(1, time.Now().Unix()-250000, 259200)
	e.s.SetAccount(a)
	if err := e.c.AdoptCredential(cred); err != nil {
		t.Fatal(err)
	}
	e.s.Fail("Login", qqtest.Fault{Kind: qqtest.HTTP5xx, Times: 2})
	var mu sync.Mutex
	var waits []time.Duration
	refreshed := make(chan *qq.Credential, 1)
	errs := 0
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	k := qq.NewKeeper(e.c, qq.KeeperOptions{
		RetryMin: time.Minute,
		After: func(d time.Duration) <-chan time.Time {
			mu.Lock()
			waits = append(waits, d)
			mu.Unlock()
			return time.After(time.Millisecond)
		},
		OnError:   func(error) { mu.Lock(); errs++; mu.Unlock() },
		OnRefresh: func(c *qq.Credential) { refreshed <- c },
	})
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx) }()
	select {
	case c := <-refreshed:
		if c.MusicKey == cred.MusicKey {
			t.Fatal("not refreshed")
		}
	case <-ctx.Done():
		t.Fatal("never refreshed")
	}
	for { // let Run choose its next wait
		mu.Lock()
		n := len(waits)
		mu.Unlock()
		if n >= 3 || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if errs != 2 || len(waits) < 3 || waits[0] != time.Minute || waits[1] != 2*time.Minute {
		t.Fatalf("errors %d, waits %v: want two retries after 1m and 2m", errs, waits)
	}
	if waits[2] < time.Minute {
		t.Fatalf("wait after the refresh %v, want the next refresh far ahead", waits[2])
	}
}

func TestKeeperRunStopsWhenReloginRequired(t *testing.T) {
	e := newLoginEnv(t)
	a, cred := accountFor(2, time.Now().Unix()-300000, 259200)
	e.s.SetAccount(a)
	if err := e.c.AdoptCredential(cred); err != nil {
		t.Fatal(err)
	}
	e.s.Fail("Login", qqtest.Fault{Kind: qqtest.Expired})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := qq.NewKeeper(e.c, qq.KeeperOptions{}).Run(ctx)
	if !errors.Is(err, qq.ErrReloginRequired) {
		t.Fatalf("Run returned %v, want ErrReloginRequired", err)
	}
}

func TestKeeperWithoutCredential(t *testing.T) {
	e := newLoginEnv(t)
	err := qq.NewKeeper(e.c, qq.KeeperOptions{}).Run(context.Background())
	if !errors.Is(err, qq.ErrCredentialRequired) {
		t.Fatalf("err %v", err)
	}
}

// Kick makes Run ask the server at once; an expired answer is refreshed.
func TestKeeperKick(t *testing.T) {
	e := newLoginEnv(t)
	a, cred := accountFor(6, time.Now().Unix()-100, 259200)
	e.s.SetAccount(a)
	if err := e.c.AdoptCredential(cred); err != nil {
		t.Fatal(err)
	}
	refreshed := make(chan *qq.Credential, 1)
	k := qq.NewKeeper(e.c, qq.KeeperOptions{
		After:     func(time.Duration) <-chan time.Time { return nil }, // only kicks wake it
		OnRefresh: func(c *qq.Credential) { refreshed <- c },
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx) }()
	for checks := 0; checks == 0; { // Run's first check, on a good credential
		for _, r := range e.s.Requests() {
			if r.Method == "GetLoginUserInfo" {
				checks++
			}
		}
		if ctx.Err() != nil {
			t.Fatal("Run did not check the credential at start")
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // Run is now asleep until a kick
	if len(refreshed) != 0 {
		t.Fatal("refreshed a good credential")
	}
	e.s.ExpireCredential()
	k.Kick()
	select {
	case c := <-refreshed:
		if c.MusicKey == cred.MusicKey || c.LoginType != 6 {
			t.Fatalf("refreshed credential %v", c)
		}
	case <-ctx.Done():
		t.Fatal("a kick did not refresh the credential the server refused")
	}
	cancel()
	<-done
	if err := e.c.CheckCredential(context.Background()); err != nil {
		t.Fatal(err)
	}
}
