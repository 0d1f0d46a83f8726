package qqtest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

func TestGoldenCommHasNoDeviations(t *testing.T) {
	s, c, _ := newEnv(t)
	code, data := c.call(qqtest.ModuleRead, "GetSessionList", sessionListParam("", 0, 20))
	if code != 0 {
		t.Fatalf("GetSessionList: code %d", code)
	}
	if num(data["has_more"]) != 0 || len(list(data["sessions"])) != 0 {
		t.Errorf("empty account: got %v", data)
	}
	noDeviations(t, s)
}

func TestSessionListPaging(t *testing.T) {
	s, c, clk := newEnv(t)
	var ids []string
	for i := range 5 {
		clk.Advance(time.Second)
		id := s.AddSession(qqtest.User{Nick: fmt.Sprintf("peer%d", i)})
		if _, err := s.Deliver(id, qqtest.Text(fmt.Sprintf("hello %d", i))); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// The oldest session writes again: it moves first.
	clk.Advance(time.Second)
	if _, err := s.Deliver(ids[0], qqtest.Text("again")); err != nil {
		t.Fatal(err)
	}
	want := []string{ids[0], ids[4], ids[3], ids[2], ids[1]}

	var got []string
	var hasMore []int
	lastID, lastTime := "", int64(0)
	for page := 0; page < 10; page++ {
		code, data := c.call(qqtest.ModuleRead, "GetSessionList", sessionListParam(lastID, lastTime, 2))
		if code != 0 {
			t.Fatalf("page %d: code %d", page, code)
		}
		sessions := list(data["sessions"])
		for _, ss := range sessions {
			got = append(got, str(ss["session_id"]))
			if u, ok := ss["user"].(map[string]any); !ok || str(u["uin"]) == "" || str(u["encrypt_uin"]) == "" {
				t.Errorf("session user %v lacks uin/encrypt_uin strings", ss["user"])
			}
			if nm, ok := ss["new_msg"].(map[string]any); !ok || str(nm["id"]) == "" {
				t.Errorf("session %v has no new_msg", ss["session_id"])
			}
		}
		hasMore = append(hasMore, num(data["has_more"]))
		if num(data["has_more"]) != 1 {
			break
		}
		last := sessions[len(sessions)-1]
		lastID, lastTime = str(last["session_id"]), int64(num(last["sort_time"]))
	}
	if !slices.Equal(got, want) {
		t.Errorf("sessions %v, want %v", got, want)
	}
	if !slices.Equal(hasMore, []int{1, 1, 0}) {
		t.Errorf("has_more per page %v, want [1 1 0]", hasMore)
	}
	if n := c.s.Count("GetSessionList"); n != 3 {
		t.Errorf("Count(GetSessionList) = %d, want 3", n)
	}
	noDeviations(t, s)
}

func TestGetMessagePaging(t *testing.T) {
	for _, tc := range []struct {
		name        string
		newestFirst bool
		want        [][]int
	}{
		{"newest first", true, [][]int{{7, 6, 5}, {4, 3, 2}, {1}}},
		{"oldest first", false, [][]int{{1, 2, 3}, {4, 5, 6}, {7}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c, clk := newEnv(t, qqtest.WithPageOrder(tc.newestFirst))
			peer := s.AddUser(qqtest.User{UIN: 555, Nick: "peer"})
			id := s.AddSession(peer)
			for i := 1; i <= 7; i++ {
				clk.Advance(time.Second)
				if _, err := s.Deliver(id, qqtest.Text("m"+strconv.Itoa(i))); err != nil {
					t.Fatal(err)
				}
			}
			var pages [][]int
			lastID := ""
			for page := 0; page < 10; page++ {
				param := map[string]any{"order": 1, "size": 3, "flag": 0, "session_id": id}
				if lastID != "" {
					param["last_id"] = lastID
				}
				code, data := c.call(qqtest.ModuleRead, "GetMessage", param)
				if code != 0 {
					t.Fatalf("page %d: code %d", page, code)
				}
				var seqs []int
				msgs := list(data["messages"])
				for _, m := range msgs {
					seqs = append(seqs, num(m["sequence"]))
					meta := m["meta_data"].(map[string]any)
					if str(meta["content"]) != "m"+strconv.Itoa(num(m["sequence"])) {
						t.Errorf("message %v content %q", m["sequence"], meta["content"])
					}
					if fu := m["from_user"].(map[string]any); str(fu["uin"]) != "555" {
						t.Errorf("from_user.uin %v, want \"555\"", fu["uin"])
					}
				}
				pages = append(pages, seqs)
				if num(data["end_msg_seq"]) != 7 {
					t.Errorf("end_msg_seq %v, want 7", data["end_msg_seq"])
				}
				if _, ok := data["PatMap"]; !ok {
					t.Error("PatMap absent; the server sends it (null)")
				}
				if num(data["has_more"]) != 1 {
					break
				}
				lastID = str(msgs[len(msgs)-1]["id"])
			}
			if fmt.Sprint(pages) != fmt.Sprint(tc.want) {
				t.Errorf("pages %v, want %v", pages, tc.want)
			}
			// By user_id, and an unknown last_id.
			code, data := c.call(qqtest.ModuleRead, "GetMessage", map[string]any{"order": 1, "size": 50, "flag": 0, "user_id": "555"})
			if code != 0 || len(list(data["messages"])) != 7 {
				t.Errorf("by user_id: code %d, %d messages", code, len(list(data["messages"])))
			}
			code, _ = c.call(qqtest.ModuleRead, "GetMessage", map[string]any{"order": 1, "size": 3, "flag": 0, "session_id": id, "last_id": "nope"})
			if code != qqtest.CodeNotFound {
				t.Errorf("unknown last_id: code %d, want %d", code, qqtest.CodeNotFound)
			}
			noDeviations(t, s)
		})
	}
}

func TestMaxPageSize(t *testing.T) {
	s, c, _ := newEnv(t, qqtest.WithMaxPageSizes(2, 2))
	id := s.AddSession(qqtest.User{})
	for range 3 {
		if _, err := s.Deliver(id, qqtest.Text("x")); err != nil {
			t.Fatal(err)
		}
	}
	_, data := c.call(qqtest.ModuleRead, "GetMessage", map[string]any{"order": 1, "size": 50, "flag": 0, "session_id": id})
	if n := len(list(data["messages"])); n != 2 || num(data["has_more"]) != 1 {
		t.Errorf("capped page: %d messages, has_more %v; want 2, 1", n, data["has_more"])
	}
}

func TestSendMessage(t *testing.T) {
	s, c, clk := newEnv(t)
	peer := s.AddUser(qqtest.User{UIN: 777, Nick: "friend"})
	other := s.AddSession(qqtest.User{UIN: 888})
	id := s.AddSession(peer)
	if _, err := s.Deliver(id, qqtest.Text("hi")); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if _, err := s.Deliver(other, qqtest.Text("newer")); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)

	code, data := c.call(qqtest.ModuleWrite, "SendMessageAsync", map[string]any{
		"last_msg_seq": 1, "user_id": "777", "entrance": 0, "client_key": "ck-1", "msg_type": qqtest.MsgTypeText,
		"session_id": id, "meta_data": map[string]any{"content": "hello back"}, "super_msg_flag": 0,
	})
	if code != 0 {
		t.Fatalf("SendMessageAsync: code %d %v", code, data)
	}
	msgs := list(data["messages"])
	if len(msgs) != 1 || str(msgs[0]["client_key"]) != "ck-1" || num(msgs[0]["sequence"]) != 2 {
		t.Fatalf("reply messages %v", data["messages"])
	}
	if fu := msgs[0]["from_user"].(map[string]any); str(fu["uin"]) != "123456789" {
		t.Errorf("sender %v, want the account", fu["uin"])
	}
	sent := s.Sent()
	if len(sent) != 1 || sent[0].ClientKey != "ck-1" || sent[0].SessionID != id || sent[0].Meta.Content != "hello back" || sent[0].UserID != "777" {
		t.Fatalf("Sent() = %+v", sent)
	}
	stored := s.Messages(id)
	if len(stored) != 2 || stored[1].ClientKey != "ck-1" || !stored[1].Outbound || stored[1].FromUIN != testAccount.MusicID {
		t.Errorf("Messages() = %+v", stored)
	}
	// The send bumped the session first.
	_, list1 := c.call(qqtest.ModuleRead, "GetSessionList", sessionListParam("", 0, 20))
	if ss := list(list1["sessions"]); len(ss) != 2 || str(ss[0]["session_id"]) != id {
		t.Errorf("after send, first session %v, want %s", ss[0]["session_id"], id)
	}

	// By user_id only: a user without a session gets one.
	s.AddUser(qqtest.User{UIN: 999})
	code, data = c.call(qqtest.ModuleWrite, "SendMessageAsync", map[string]any{
		"last_msg_seq": 0, "user_id": "999", "entrance": 0, "client_key": "ck-2", "msg_type": qqtest.MsgTypeText,
		"meta_data": map[string]any{"content": "new chat"},
	})
	if code != 0 || str(data["session"].(map[string]any)["session_id"]) == "" {
		t.Errorf("send to a new peer: code %d %v", code, data)
	}
	for _, tc := range []struct {
		name  string
		param map[string]any
		want  int
	}{
		{"unknown user", map[string]any{"last_msg_seq": 0, "user_id": "4242", "entrance": 0, "client_key": "k", "msg_type": 1}, qqtest.CodeNotFound},
		{"unknown session", map[string]any{"last_msg_seq": 0, "user_id": "777", "entrance": 0, "client_key": "k", "msg_type": 1, "session_id": "nope"}, qqtest.CodeNotFound},
		{"peer mismatch", map[string]any{"last_msg_seq": 0, "user_id": "999", "entrance": 0, "client_key": "k", "msg_type": 1, "session_id": id}, qqtest.CodeBadRequest},
	} {
		if code, _ := c.call(qqtest.ModuleWrite, "SendMessageAsync", tc.param); code != tc.want {
			t.Errorf("%s: code %d, want %d", tc.name, code, tc.want)
		}
	}
	if n := len(s.Sent()); n != 2 {
		t.Errorf("%d sends recorded, want 2", n)
	}
	noDeviations(t, s)
}

func TestInboundKinds(t *testing.T) {
	s, c, _ := newEnv(t)
	id := s.AddSession(qqtest.User{})
	for _, in := range []qqtest.Inbound{
		qqtest.Image("https://y.gtimg.cn/pic.jpg", 640, 480),
		qqtest.Card("Song", "Artist", "https://y.gtimg.cn/c.jpg", "https://y.qq.com/n/song"),
		qqtest.Video("https://v.example/v.mp4", "https://v.example/cover.jpg", 720, 1280, 15),
		{MsgType: 99, RawMeta: []byte(`{"content":"odd","extra_field":[1,2]}`)},
	} {
		if _, err := s.Deliver(id, in); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Deliver(id, qqtest.Inbound{RawMeta: []byte(`{bad`)}); err == nil {
		t.Error("Deliver accepted invalid RawMeta")
	}
	if _, err := s.Deliver("nope", qqtest.Text("x")); err == nil {
		t.Error("Deliver to an unknown session succeeded")
	}
	s.SetPageOrder(false)
	_, data := c.call(qqtest.ModuleRead, "GetMessage", map[string]any{"order": 1, "size": 50, "flag": 0, "session_id": id})
	msgs := list(data["messages"])
	if len(msgs) != 4 {
		t.Fatalf("%d messages, want 4", len(msgs))
	}
	img := msgs[0]["meta_data"].(map[string]any)
	if num(msgs[0]["msg_type"]) != 2 || str(img["pic"]) == "" || num(img["width"]) != 640 || num(img["height"]) != 480 {
		t.Errorf("image %v", msgs[0])
	}
	card := msgs[1]["meta_data"].(map[string]any)
	if str(card["title"]) != "Song" || str(card["content"]) != "Artist" || str(card["url"]) == "" {
		t.Errorf("card %v", msgs[1])
	}
	video := msgs[2]["meta_data"].(map[string]any)
	if num(msgs[2]["msg_type"]) != 3 || num(video["Duration"]) != 15 || str(video["url"]) == "" {
		t.Errorf("video %v", msgs[2])
	}
	raw := msgs[3]["meta_data"].(map[string]any)
	if num(msgs[3]["msg_type"]) != 99 || raw["extra_field"] == nil {
		t.Errorf("raw message %v", msgs[3])
	}
	// GetMsgDetails returns the media message by id.
	imgID := str(msgs[0]["id"])
	code, det := c.call(qqtest.ModuleRead, "GetMsgDetails", map[string]any{"SessionID": id, "MsgIDs": []string{imgID, "nope"}})
	byID, _ := det["MsgIDs"].(map[string]any)
	if code != 0 || len(byID) != 1 || byID[imgID] == nil {
		t.Errorf("GetMsgDetails: code %d %v", code, det)
	}
}

func TestDeletes(t *testing.T) {
	s, c, clk := newEnv(t)
	id := s.AddSession(qqtest.User{UIN: 321})
	var ids []string
	for i := range 3 {
		clk.Advance(time.Second)
		m, err := s.Deliver(id, qqtest.Text(strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	op := func(method string, param map[string]any) int {
		code, _ := c.call(qqtest.ModuleWrite, method, param)
		return code
	}
	if code := op("DeleteMessage", map[string]any{"session_id": id, "msg_id": ids[1], "super_msg_flag": 0}); code != 0 {
		t.Fatalf("DeleteMessage: %d", code)
	}
	if code := op("DeleteMessage", map[string]any{"session_id": id, "msg_id": ids[1], "super_msg_flag": 0}); code != qqtest.CodeNotFound {
		t.Errorf("second DeleteMessage: %d, want %d", code, qqtest.CodeNotFound)
	}
	// Paging across the deleted message still works (newest first, size 1).
	var seen []string
	last := ""
	for range 5 {
		p := map[string]any{"order": 1, "size": 1, "flag": 0, "session_id": id}
		if last != "" {
			p["last_id"] = last
		}
		_, data := c.call(qqtest.ModuleRead, "GetMessage", p)
		msgs := list(data["messages"])
		for _, m := range msgs {
			seen = append(seen, str(m["id"]))
		}
		if num(data["has_more"]) != 1 {
			break
		}
		last = str(msgs[len(msgs)-1]["id"])
	}
	if !slices.Equal(seen, []string{ids[2], ids[0]}) {
		t.Errorf("after DeleteMessage, pages show %v, want %v", seen, []string{ids[2], ids[0]})
	}

	if code := op("ClearSession", map[string]any{"session_id": id, "super_msg_flag": 0}); code != 0 {
		t.Fatalf("ClearSession: %d", code)
	}
	if n := len(s.Messages(id)); n != 0 {
		t.Errorf("after ClearSession, %d messages", n)
	}
	if code := op("DeleteSession", map[string]any{"session_id": id, "super_msg_flag": 0}); code != 0 {
		t.Fatalf("DeleteSession: %d", code)
	}
	_, data := c.call(qqtest.ModuleRead, "GetSessionList", sessionListParam("", 0, 20))
	if n := len(list(data["sessions"])); n != 0 {
		t.Errorf("after DeleteSession, %d sessions listed", n)
	}
	if code := op("DeleteSession", map[string]any{"session_id": id, "super_msg_flag": 0}); code != qqtest.CodeNotFound {
		t.Errorf("DeleteSession of a deleted session: %d", code)
	}
	// The peer writes again: the session comes back with only the new message.
	if _, err := s.Deliver(id, qqtest.Text("back")); err != nil {
		t.Fatal(err)
	}
	_, data = c.call(qqtest.ModuleRead, "GetSessionList", sessionListParam("", 0, 20))
	ss := list(data["sessions"])
	if len(ss) != 1 || num(ss[0]["new_msg_cnt"]) != 1 {
		t.Errorf("revived session: %v", ss)
	}
	if ms := s.Messages(id); len(ms) != 1 || ms[0].Meta.Content != "back" {
		t.Errorf("revived messages %+v", ms)
	}
	noDeviations(t, s)
}

func TestOtherPrivateMessageMethods(t *testing.T) {
	s, c, _ := newEnv(t)
	peer := s.AddUser(qqtest.User{UIN: 4321, Nick: "artist"})
	id := s.AddSession(peer)
	m, err := s.Deliver(id, qqtest.Text("x"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		module, method string
		param          map[string]any
		check          func(map[string]any) bool
	}{
		{qqtest.ModuleWrite, "SetConfig", map[string]any{"config_type": 3, "config_value_str": "1"}, func(d map[string]any) bool { return d["subcode"] != nil }},
		{qqtest.ModuleRead, "GetConfig", map[string]any{"config_type": 3, "config_value_str": ""}, func(d map[string]any) bool {
			return str(d["config_value_str"]) == "1" && num(d["config_value"]) == 1
		}},
		{qqtest.ModuleMusician, "GetMusicianCard", map[string]any{"EncUin": peer.EncryptUIN}, func(d map[string]any) bool { return str(d["Nick"]) == "artist" }},
		{qqtest.ModuleWrite, "ActCardMsgCallBack", map[string]any{"target_user_id": "4321", "msg_type": 1, "confirm": 1, "msg_id": m.ID}, func(d map[string]any) bool { return d["msg"] != nil }},
		{qqtest.ModuleRead, "GetEntries", map[string]any{"Scence": []int{1, 2}}, func(d map[string]any) bool {
			e, ok := d["Entries"].(map[string]any)
			return ok && len(e) == 2
		}},
		{qqtest.ModuleRead, "GetSafetyHint", map[string]any{"encUin": peer.EncryptUIN, "close": 0}, func(d map[string]any) bool { _, ok := d["hint"]; return ok }},
		{qqtest.ModuleDazi, "GetFriendFloatingIcon", map[string]any{"TargetEncuin": peer.EncryptUIN}, func(d map[string]any) bool { return d != nil }},
		{qqtest.ModuleWrite, "SetAllMsgMardRead", map[string]any{"CmdFlag": 1, "EncryptUin": peer.EncryptUIN}, func(d map[string]any) bool { return d["tips"] != nil }},
	} {
		code, data := c.call(tc.module, tc.method, tc.param)
		if code != 0 || !tc.check(data) {
			t.Errorf("%s: code %d, data %v", tc.method, code, data)
		}
	}
	if v, ok := s.Config(3); !ok || v != "1" {
		t.Errorf("Config(3) = %q, %v", v, ok)
	}
	if info, _ := s.Session(id); info.Unread != 0 {
		t.Errorf("after SetAllMsgMardRead, unread %d", info.Unread)
	}
	for _, name := range []string{"SetConfig", "GetConfig", "GetMusicianCard", "ActCardMsgCallBack", "GetEntries", "GetSafetyHint", "GetFriendFloatingIcon", "SetAllMsgMardRead"} {
		if s.Count(name) != 1 {
			t.Errorf("Count(%s) = %d", name, s.Count(name))
		}
	}
	noDeviations(t, s)
}

func TestBatchedItems(t *testing.T) {
	s, c, _ := newEnv(t)
	id := s.AddSession(qqtest.User{})
	top := c.batch(
		[3]any{qqtest.ModuleRead, "GetSessionList", sessionListParam("", 0, 20)},
		[3]any{qqtest.ModuleRead, "GetMessage", map[string]any{"order": 1, "size": 50, "flag": 0, "session_id": id}},
		[3]any{"no.such.module", "Nope", map[string]any{}},
	)
	for key, want := range map[string]int{"req_0": 0, "req_1": 0, "req_2": qqtest.CodeBadRequest} {
		if got := num(top[key].(map[string]any)["code"]); got != want {
			t.Errorf("%s: code %d, want %d", key, got, want)
		}
	}
}

func TestAwaitSent(t *testing.T) {
	s, c, _ := newEnv(t)
	s.AddUser(qqtest.User{UIN: 777})
	go func() {
		time.Sleep(10 * time.Millisecond)
		c.post(qqtest.PathMusicu, c.body([3]any{qqtest.ModuleWrite, "SendMessageAsync", map[string]any{
			"last_msg_seq": 0, "user_id": "777", "entrance": 0, "client_key": "k1", "msg_type": 1,
		}}))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sent, err := s.AwaitSent(ctx, 1)
	if err != nil || len(sent) != 1 || sent[0].ClientKey != "k1" {
		t.Fatalf("AwaitSent: %v %+v", err, sent)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := s.AwaitSent(short, 2); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("AwaitSent beyond what was sent: %v", err)
	}
}

func TestDeliverRejectsDuplicateID(t *testing.T) {
	s, _, _ := newEnv(t)
	id := s.AddSession(qqtest.User{})
	if _, err := s.Deliver(id, qqtest.Inbound{ID: "m1", Meta: qqtest.MetaData{Content: "a"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Deliver(id, qqtest.Inbound{ID: "m1"}); err == nil {
		t.Error("a second message with id m1 was accepted")
	}
}

func TestSeedMakesKeysDeterministic(t *testing.T) {
	refresh := func(seed int64) string {
		_, c, _ := newEnv(t, qqtest.WithSeed(seed))
		code, data := c.call(qqtest.ModuleLogin, "Login", refreshParam(testAccount, testAccount.MusicKey))
		if code != 0 {
			t.Fatalf("refresh: code %d", code)
		}
		return str(data["musickey"]) + "|" + fmt.Sprint(c.comm["sid"])
	}
	if a, b := refresh(7), refresh(7); a != b {
		t.Errorf("same seed, different keys: %s vs %s", a, b)
	}
	if a, b := refresh(7), refresh(8); a == b {
		t.Errorf("different seeds, same keys: %s", a)
	}
}

func TestLogger(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	l := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, c, _ := newEnv(t, qqtest.WithLogger(l))
	listSessions(c)
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "method=GetSessionList") || strings.Contains(out, testAccount.MusicKey) {
		t.Errorf("log: %s", out)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
