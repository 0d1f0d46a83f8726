package qqport

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

var account = qqtest.Account{
	MusicID: 10001, MusicKey: "Q_H_L_portkey", LoginType: 2, Nick: "Me",
	MusicKeyCreateTime: time.Now().Unix(), KeyExpiresIn: 259200,
}

func newPort(t *testing.T, opts ...qqtest.Option) (*qqtest.Server, *Port) {
	t.Helper()
	s := qqtest.New(append([]qqtest.Option{qqtest.WithAccount(account)}, opts...)...)
	t.Cleanup(s.Close)
	c, err := qq.New(qq.Options{
		HTTPClient: s.Client(),
		Endpoints:  s.Endpoints(),
		DeviceFile: filepath.Join(t.TempDir(), "device.json"),
		Credential: &qq.Credential{MusicID: account.MusicID, MusicKey: account.MusicKey, LoginType: 2,
			MusickeyCreateTime: account.MusicKeyCreateTime, KeyExpiresIn: account.KeyExpiresIn},
		RateLimit:    rate.Inf,
		QIMEIBackoff: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if d := s.Deviations(); len(d) > 0 {
			t.Errorf("the double saw protocol deviations: %v", d)
		}
	})
	return s, New(c)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func deliver(t *testing.T, s *qqtest.Server, sid string, in qqtest.Inbound) qqtest.Message {
	t.Helper()
	m, err := s.Deliver(sid, in)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func texts(ms []bridge.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Text
	}
	return out
}

func TestChangedSessionsIdleCostsOneRequest(t *testing.T) {
	s, p := newPort(t, qqtest.WithMaxPageSizes(20, 50))
	ctx := ctxT(t)
	for i := range 100 {
		u := s.AddUser(qqtest.User{Nick: fmt.Sprintf("peer%d", i)})
		sid := s.AddSession(u)
		deliver(t, s, sid, qqtest.Text("hi"))
	}
	all, err := p.ChangedSessions(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 100 {
		t.Fatalf("first poll saw %d sessions, want 100", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].SortTime > all[i-1].SortTime {
			t.Fatalf("sessions not newest first at %d", i)
		}
	}
	watermark := all[0].SortTime
	s.ResetCounts()
	got, err := p.ChangedSessions(ctx, watermark)
	if err != nil {
		t.Fatal(err)
	}
	// The first page comes back with its signals for the engine to
	// compare; nothing past it.
	if len(got) != 20 || got[0].SortTime != watermark || got[0].NewMsgID == "" {
		t.Errorf("idle poll returned %d sessions (first %+v), want the first page of 20 with their newest message ids", len(got), got[0])
	}
	if n := s.Count("GetSessionList"); n != 1 {
		t.Errorf("idle poll cost %d GetSessionList requests, want 1", n)
	}
	// One changed session: still one request, and it is the one returned.
	deliver(t, s, all[50].ID, qqtest.Text("news"))
	s.ResetCounts()
	got, err = p.ChangedSessions(ctx, watermark)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 20 || got[0].ID != all[50].ID || got[0].Peer.Nick == "" || got[0].SortTime <= watermark {
		t.Errorf("changed sessions = %+v, want %s first with its peer and a newer sort_time", got, all[50].ID)
	}
	if n := s.Count("GetSessionList"); n != 1 {
		t.Errorf("poll with one change cost %d requests, want 1", n)
	}
}

func TestMessagesBothPageOrders(t *testing.T) {
	for _, newestFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("newestFirst=%v", newestFirst), func(t *testing.T) {
			s, p := newPort(t, qqtest.WithPageOrder(newestFirst), qqtest.WithMaxPageSizes(20, 7))
			ctx := ctxT(t)
			u := s.AddUser(qqtest.User{Nick: "Alice", Avatar: "https://a/alice.jpg"})
			sid := s.AddSession(u)
			for i := range 30 {
				deliver(t, s, sid, qqtest.Text(fmt.Sprintf("m%02d", i)))
			}
			// Backfill: the newest 5, oldest first.
			got, err := p.Messages(ctx, sid, bridge.ReadPos{}, 5)
			if err != nil {
				t.Fatal(err)
			}
			if want := "m25 m26 m27 m28 m29"; strings.Join(texts(got), " ") != want {
				t.Fatalf("backfill = %v, want %s", texts(got), want)
			}
			if got[0].Sender.Nick != "Alice" || got[0].FromOwner || got[0].Kind != bridge.KindText {
				t.Errorf("message model wrong: %+v", got[0])
			}
			last := bridge.ReadPos{Seq: got[len(got)-1].Sequence, MsgID: got[len(got)-1].ID}
			for i := 30; i < 33; i++ {
				deliver(t, s, sid, qqtest.Text(fmt.Sprintf("m%02d", i)))
			}
			got, err = p.Messages(ctx, sid, last, 0)
			if err != nil {
				t.Fatal(err)
			}
			if want := "m30 m31 m32"; strings.Join(texts(got), " ") != want {
				t.Fatalf("after %+v = %v, want %s", last, texts(got), want)
			}
			// Everything after 0 with no max: the whole history, in order.
			got, err = p.Messages(ctx, sid, bridge.ReadPos{}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 33 || got[0].Text != "m00" || got[32].Text != "m32" {
				t.Fatalf("whole history: %d messages, first %q, last %q", len(got), got[0].Text, got[len(got)-1].Text)
			}
		})
	}
}

func TestMessageKinds(t *testing.T) {
	s, p := newPort(t)
	ctx := ctxT(t)
	u := s.AddUser(qqtest.User{Nick: "Bob"})
	sid := s.AddSession(u)
	deliver(t, s, sid, qqtest.Image("https://img/x.jpg", 640, 480))
	deliver(t, s, sid, qqtest.Card("A Song", "by someone", "https://img/cover.jpg", "https://y.qq.com/song/1"))
	deliver(t, s, sid, qqtest.Inbound{MsgType: 99, RawMeta: []byte(`{"content":"odd","biz_id":"b7"}`)})
	deliver(t, s, sid, qqtest.Inbound{MsgType: 3, Meta: qqtest.MetaData{URL: "https://v/clip.mp4", Duration: 12}})
	got, err := p.Messages(ctx, sid, bridge.ReadPos{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("got %d messages", len(got))
	}
	if m := got[0]; m.Kind != bridge.KindImage || m.Media == nil || m.Media.URL != "https://img/x.jpg" || m.Media.Width != 640 {
		t.Errorf("image: %+v %+v", m, m.Media)
	}
	if m := got[1]; m.Kind != bridge.KindCard || m.Card == nil || m.Card.Title != "A Song" || m.Card.URL != "https://y.qq.com/song/1" || m.Card.CoverURL == "" {
		t.Errorf("card: %+v", m.Card)
	}
	if m := got[2]; m.Kind != bridge.KindUnknown || m.Type != 99 || !hasField(m.Fields, "biz_id", "b7") || !hasField(m.Fields, "content", "odd") {
		t.Errorf("unknown: %+v", m)
	}
	if m := got[3]; m.Kind != bridge.KindVideo || m.Media.URL != "https://v/clip.mp4" || m.Media.Duration != 12*time.Second {
		t.Errorf("video: %+v %+v", m, m.Media)
	}
}

func hasField(fs []bridge.Field, name, value string) bool {
	for _, f := range fs {
		if f.Name == name && f.Value == value {
			return true
		}
	}
	return false
}

func TestSendAndFindSent(t *testing.T) {
	for _, newestFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("newestFirst=%v", newestFirst), func(t *testing.T) {
			s, p := newPort(t, qqtest.WithPageOrder(newestFirst))
			ctx := ctxT(t)
			u := s.AddUser(qqtest.User{Nick: "Carol"})
			sid := s.AddSession(u)
			deliver(t, s, sid, qqtest.Text("hello"))
			if _, found, err := p.FindSent(ctx, sid, "dc-1"); err != nil || found {
				t.Fatalf("FindSent before sending: found=%v err=%v", found, err)
			}
			id, err := p.SendText(ctx, bridge.OutgoingText{SessionID: sid, PeerUIN: fmt.Sprint(u.UIN), Text: "你好 from Discord", ClientKey: "dc-1"})
			if err != nil {
				t.Fatal(err)
			}
			sent := s.Sent()
			if len(sent) != 1 || sent[0].UserID != fmt.Sprint(u.UIN) || sent[0].Meta.Content != "你好 from Discord" || sent[0].ClientKey != "dc-1" || sent[0].MsgType != 1 {
				t.Fatalf("the server received %+v", sent)
			}
			if id == "" || id != sent[0].Message.ID {
				t.Errorf("SendText returned id %q, the server made %q", id, sent[0].Message.ID)
			}
			fid, found, err := p.FindSent(ctx, sid, "dc-1")
			if err != nil || !found || fid != id {
				t.Errorf("FindSent = %q %v %v, want %q", fid, found, err, id)
			}
			// The echo comes back as the owner's message with its key.
			got, err := p.Messages(ctx, sid, bridge.ReadPos{Seq: 1}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || !got[0].FromOwner || got[0].ClientKey != "dc-1" {
				t.Errorf("echo = %+v", got)
			}
		})
	}
}

func TestSendRefusals(t *testing.T) {
	s, p := newPort(t)
	ctx := ctxT(t)
	u := s.AddUser(qqtest.User{Nick: "Dan"})
	sid := s.AddSession(u)
	for _, text := range []string{"", "   ", strings.Repeat("字", MaxTextLen+1)} {
		if _, err := p.SendText(ctx, bridge.OutgoingText{SessionID: sid, PeerUIN: fmt.Sprint(u.UIN), Text: text, ClientKey: "k"}); err == nil {
			t.Errorf("sent %d characters without an error", len([]rune(text)))
		}
	}
	if n := len(s.Sent()); n != 0 {
		t.Errorf("the server received %d messages", n)
	}
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		kind qqtest.FaultKind
		want error
	}{
		{qqtest.RateLimited, bridge.ErrRateLimited},
	}
	for _, tc := range tests {
		s, p := newPort(t)
		ctx := ctxT(t)
		s.Fail("GetSessionList", qqtest.Fault{Kind: tc.kind, Times: 1})
		_, err := p.ChangedSessions(ctx, 0)
		if !errors.Is(err, tc.want) {
			t.Errorf("fault %v: error %v, want %v", tc.kind, err, tc.want)
		}
		if strings.Contains(fmt.Sprint(err), account.MusicKey) {
			t.Errorf("error shows the musickey: %v", err)
		}
	}
	// Without a credential nothing is sent and the engine is told to log in.
	p := New(mustClient(t))
	if _, err := p.Self(ctxT(t)); !errors.Is(err, bridge.ErrLoginRequired) {
		t.Errorf("Self without credential: %v", err)
	}
	if _, err := p.ChangedSessions(ctxT(t), 0); !errors.Is(err, bridge.ErrLoginRequired) {
		t.Errorf("ChangedSessions without credential: %v", err)
	}
}

func mustClient(t *testing.T) *qq.Client {
	c, err := qq.New(qq.Options{Endpoints: qq.Endpoints{"u.y.qq.com": "http://127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestExpiryIsRefreshedFirst(t *testing.T) {
	s, p := newPort(t)
	ctx := ctxT(t)
	u := s.AddUser(qqtest.User{Nick: "Eve"})
	sid := s.AddSession(u)
	deliver(t, s, sid, qqtest.Text("before expiry"))
	oldKey := s.Account().MusicKey
	s.ExpireCredential()
	got, err := p.ChangedSessions(ctx, 0)
	if err != nil {
		t.Fatalf("an expiry a refresh can fix surfaced: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("got %d sessions after the refresh", len(got))
	}
	if s.Count("Login") != 1 {
		t.Errorf("Login (refresh) called %d times, want 1", s.Count("Login"))
	}
	if newKey := s.Account().MusicKey; newKey == oldKey || p.c.Credential().MusicKey != newKey {
		t.Errorf("the client does not use the refreshed key")
	}
}

func TestExpiryRefreshRefusedNeedsLogin(t *testing.T) {
	s, p := newPort(t)
	ctx := ctxT(t)
	s.Fail("GetSessionList", qqtest.Fault{Kind: qqtest.Expired})
	s.Fail("Login", qqtest.Fault{Kind: qqtest.Expired})
	_, err := p.ChangedSessions(ctx, 0)
	if !errors.Is(err, bridge.ErrLoginRequired) {
		t.Fatalf("error %v, want ErrLoginRequired", err)
	}
	// A second poll soon after does not hammer the login endpoint.
	_, err = p.ChangedSessions(ctx, 0)
	if !errors.Is(err, bridge.ErrLoginRequired) {
		t.Fatalf("second poll: %v", err)
	}
	if n := s.Count("Login"); n != 1 {
		t.Errorf("refresh tried %d times, want 1 within RefreshRetry", n)
	}
	p.ResetRefresh()
	s.ClearFaults()
	if _, err := p.ChangedSessions(ctx, 0); err != nil {
		t.Errorf("after the faults cleared: %v", err)
	}
}
