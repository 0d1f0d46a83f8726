package qq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// pmCase is one private-message API call: how to invoke it, what module,
// method and param must reach the server, what data the server answers and
// what the caller must see.
type pmCase struct {
	name, module, method string
	call                 func(c *Client) (any, error)
	wantParam            map[string]any
	reply                string
	check                func(t *testing.T, got any)
}

func intp(v int) *int { return &v }

func pmCases() []pmCase {
	return []pmCase{
		{
			name: "GetSessionList", module: ModulePrivateMsgRead, method: "GetSessionList",
			call:      func(c *Client) (any, error) { return c.GetSessionList(bg(), SessionListParams{}) },
			wantParam: map[string]any{"last_id": "", "order": 1, "size": 20, "last_time": 0, "from": 0, "FansFlag": 1},
			reply: `{"has_more":"1","msg":"ok","new_msg_cnt":3,"sessions":[{"session_id":98765,"user":{"avatar":"http://a/1.jpg","encrypt_uin":"enc1","uin":111,"identity_pic":"","nick":"Alice","identity":"2","type":1,"is_concern":1},
				"new_msg":{"id":"m1","meta_data":{"content":"hi","Duration":"3","Size":10},"from_user":null,"time":"1700000000","sequence":5,"msg_type":1,"complainTip":"t","complainUrl":"u"},
				"new_msg_cnt":2,"sort_time":1700000001,"url":"x","create_time":1600000000,"from":1,"SmStarVirtaulUin":"v","Auth":"a","Ext":{"k":1},"TailTags":[{"t":1}]}],
				"subcode":0,"setting_guide":1,"state":2,"extra":{"e":"f"}}`,
			check: func(t *testing.T, got any) {
				l := got.(*SessionList)
				if l.HasMore != 1 || l.NewMsgCnt != 3 || l.SettingGuide != 1 || l.State != 2 || l.Extra["e"] != "f" || len(l.Sessions) != 1 {
					t.Fatalf("list = %+v", l)
				}
				s := l.Sessions[0]
				if s.SessionID != "98765" || s.User.Nick != "Alice" || s.User.Uin != "111" || s.User.Identity != 2 || s.User.IsConcern != 1 ||
					s.NewMsg.MetaData.Content != "hi" || s.NewMsg.MetaData.Duration != 3 || s.NewMsg.Time != 1700000000 || s.NewMsg.FromUser != nil ||
					s.NewMsg.ComplainTip != "t" || s.NewMsgCnt != 2 || s.SortTime != 1700000001 || s.From != 1 || s.SmStarVirtualUin != "v" ||
					s.Auth != "a" || s.Ext["k"] != "1" || len(s.TailTags) != 1 || s.CreateTime != 1600000000 {
					t.Errorf("session = %+v", s)
				}
			},
		},
		{
			name: "GetSessionList star", module: ModulePrivateMsgRead, method: "GetSessionList",
			call: func(c *Client) (any, error) {
				return c.GetSessionList(bg(), SessionListParams{LastID: "s9", LastTime: 77, Size: 5, EncryptFromUin: "star", FansFlag: intp(0)})
			},
			wantParam: map[string]any{"last_id": "s9", "order": 1, "size": 5, "last_time": 77, "from": 0, "EncryptFromUin": "star"},
			reply:     `{}`,
			check: func(t *testing.T, got any) {
				if l := got.(*SessionList); l.HasMore != 0 || l.Sessions != nil {
					t.Errorf("empty list = %+v", l)
				}
			},
		},
		{
			name: "GetMessage", module: ModulePrivateMsgRead, method: "GetMessage",
			call: func(c *Client) (any, error) {
				return c.GetMessages(bg(), MessagesParams{SessionID: "s1", UserID: "111", LastID: "m0", UpdateTime: 9})
			},
			wantParam: map[string]any{"order": 1, "size": 50, "flag": 0, "session_id": "s1", "user_id": "111", "last_id": "m0", "update_time": 9},
			reply: `{"has_more":0,"messages":[{"id":"m1","meta_data":{"title":"T","content":"C","pic":"P","biz_id":7,"biz_type":"2","url":"U","width":1,"height":2,"Duration":3,"Size":4},
				"client_key":"ck","from_user":{"uin":"222","nick":"Bob"},"time":1,"state":2,"result":3,"tips":"tp","sequence":"44","show_type":5,"msg_type":6,"confirm":7,"sort_time":8}],
				"msg":"","session":{"session_id":"s1"},"subcode":0,"end_msg_seq":44,"Attach":null,"PatInterval":10,"PatMap":null,"EncryptStar":"es","LocationTips":"lt","NewMsgCnt":"2"}`,
			check: func(t *testing.T, got any) {
				l := got.(*MessageList)
				if len(l.Messages) != 1 || l.Session.SessionID != "s1" || l.EndMsgSeq != 44 || l.PatInterval != 10 || l.PatMap != nil ||
					l.EncryptStar != "es" || l.LocationTips != "lt" || l.NewMsgCnt != 2 {
					t.Fatalf("list = %+v", l)
				}
				m := l.Messages[0]
				md := m.MetaData
				if m.ID != "m1" || m.ClientKey != "ck" || m.FromUser.Uin != "222" || m.FromUser.Identity != -1 || m.FromUser.Type != -1 ||
					m.Sequence != 44 || m.ShowType != 5 || m.MsgType != 6 || !m.IsMedia() || m.Confirm != 7 || m.SortTime != 8 || m.Tips != "tp" ||
					md.Title != "T" || md.BizID != "7" || md.BizType != 2 || md.Width != 1 || md.Height != 2 || md.Size != 4 {
					t.Errorf("message = %+v %+v", m, md)
				}
			},
		},
		{
			name: "SendMessageAsync", module: ModulePrivateMsgWrite, method: "SendMessageAsync",
			call: func(c *Client) (any, error) {
				return c.SendMessage(bg(), SendMessageParams{UserID: "222", MsgType: 1, MetaData: TextMetaData("hello"), SessionID: "s1", ClientKey: "ck1", LastMsgSeq: 4})
			},
			wantParam: map[string]any{"last_msg_seq": 4, "user_id": "222", "entrance": 0, "client_key": "ck1", "msg_type": 1, "session_id": "s1",
				"meta_data": map[string]any{"content": "hello"}, "super_msg_flag": 0},
			reply: `{"messages":[{"id":"m9","sequence":45}],"session":{"session_id":"s1"},"tips":"","identify_url":"iu","msg":"ok","reason":0,"end_msg_seq":45,"update_time":1700}`,
			check: func(t *testing.T, got any) {
				r := got.(*SendResult)
				if len(r.Messages) != 1 || r.Messages[0].ID != "m9" || r.IdentifyURL != "iu" || r.EndMsgSeq != 45 || r.UpdateTime != 1700 || r.Session.SessionID != "s1" {
					t.Errorf("send result = %+v", r)
				}
			},
		},
		{
			name: "StarSendSuperMsg", module: ModulePrivateMsgWrite, method: "StarSendSuperMsg",
			call: func(c *Client) (any, error) {
				return c.SendMessage(bg(), SendMessageParams{UserID: "222", MsgType: 1, StarSend: true, SourceFlag: intp(2), MsgID: "old", UserInput: "in", LastID: "l", SuperMsgFlag: 1})
			},
			wantParam: map[string]any{"last_msg_seq": 0, "user_id": "222", "entrance": 0, "client_key": "", "msg_type": 1, "source_flag": 2,
				"msg_id": "old", "user_input": "in", "last_id": "l", "super_msg_flag": 1},
			reply: `{"reason":"12","tips":"no"}`,
			check: func(t *testing.T, got any) {
				if r := got.(*SendResult); r.Reason != 12 || r.Tips != "no" {
					t.Errorf("%+v", r)
				}
			},
		},
		opCase("DeleteSession", ModulePrivateMsgWrite, map[string]any{"session_id": "s1", "super_msg_flag": 0},
			func(c *Client) (any, error) { return c.DeleteSession(bg(), "s1", 0) }),
		opCase("DeleteMessage", ModulePrivateMsgWrite, map[string]any{"session_id": "s1", "msg_id": "m1", "super_msg_flag": 1},
			func(c *Client) (any, error) { return c.DeleteMessage(bg(), "s1", "m1", 1) }),
		opCase("ClearSession", ModulePrivateMsgWrite, map[string]any{"session_id": "s1", "super_msg_flag": 0},
			func(c *Client) (any, error) { return c.ClearSession(bg(), "s1", 0) }),
		opCase("SetConfig", ModulePrivateMsgWrite, map[string]any{"config_type": 3, "config_value_str": "1"},
			func(c *Client) (any, error) { return c.SetConfig(bg(), 3, "1") }),
		{
			name: "GetConfig", module: ModulePrivateMsgRead, method: "GetConfig",
			call:      func(c *Client) (any, error) { return c.GetConfig(bg(), 3, "") },
			wantParam: map[string]any{"config_type": 3, "config_value_str": ""},
			reply:     `{"config_value":"1","config_value_str":"on","msg":"m"}`,
			check: func(t *testing.T, got any) {
				if r := got.(*ConfigResult); r.ConfigValue != 1 || r.ConfigValueStr != "on" || r.Msg != "m" {
					t.Errorf("%+v", r)
				}
			},
		},
		{
			name: "GetMusicianCard", module: ModuleMusicianCard, method: "GetMusicianCard",
			call:      func(c *Client) (any, error) { return c.GetMusicianCard(bg(), "encX") },
			wantParam: map[string]any{"EncUin": "encX"},
			reply:     `{"card":{"name":"N"}}`,
			check: func(t *testing.T, got any) {
				if r := got.(*MusicianCard); string(r.Data) != `{"card":{"name":"N"}}` {
					t.Errorf("%s", r.Data)
				}
			},
		},
		opCase("ActCardMsgCallBack", ModulePrivateMsgWrite, map[string]any{"target_user_id": "222", "msg_type": 9, "confirm": 1, "msg_id": "m1", "ext": map[string]any{"a": "b"}},
			func(c *Client) (any, error) {
				return c.ReportCardAction(bg(), CardActionParams{TargetUserID: "222", MsgType: 9, Confirm: 1, MsgID: "m1", Ext: map[string]any{"a": "b"}})
			}),
		{
			name: "GetEntries", module: ModulePrivateMsgRead, method: "GetEntries",
			call: func(c *Client) (any, error) {
				return c.GetChatEntries(bg(), ChatEntriesParams{Scenes: []int{1, 2}, FromUserType: intp(0), UserID: "222"})
			},
			wantParam: map[string]any{"Scence": []any{1, 2}, "FromUserType": 0, "UserID": "222"},
			reply:     `{"RetCode":0,"RetMsg":"ok","Entries":{"1":[{"Icon":"i","Title":"t","SkipScheme":"s","RightTopTag":"r","Ext":{"x":"y"}}]},"CanBeDazi":1,"DzData":{"z":1}}`,
			check: func(t *testing.T, got any) {
				r := got.(*ChatEntries)
				e := r.Entries["1"]
				if r.RetMsg != "ok" || len(e) != 1 || e[0].EntryType != -1 || e[0].Title != "t" || e[0].Ext["x"] != "y" || r.CanBeDazi == nil || !bool(*r.CanBeDazi) || string(r.DzData) != `{"z":1}` {
					t.Errorf("%+v", r)
				}
			},
		},
		{
			name: "GetMsgDetails", module: ModulePrivateMsgRead, method: "GetMsgDetails",
			call:      func(c *Client) (any, error) { return c.GetMediaDetails(bg(), "s1", []string{"m1", "m2"}) },
			wantParam: map[string]any{"SessionID": "s1", "MsgIDs": []any{"m1", "m2"}},
			reply:     `{"MsgIDs":{"m1":{"id":"m1","msg_type":2,"meta_data":{"pic":"http://p","width":640}},"m2":null}}`,
			check: func(t *testing.T, got any) {
				r := got.(*MediaDetails)
				if r.MsgIDs["m1"].MetaData.Pic != "http://p" || r.MsgIDs["m1"].MetaData.Width != 640 || len(r.MsgIDs) != 2 {
					t.Errorf("%+v", r)
				}
			},
		},
		opCase("SetAllMsgMardRead", ModulePrivateMsgWrite, map[string]any{"CmdFlag": 1, "EncryptUin": "enc"},
			func(c *Client) (any, error) { return c.MarkAllRead(bg(), 1, "enc") }),
		{
			name: "GetSafetyHint", module: ModulePrivateMsgRead, method: "GetSafetyHint",
			call:      func(c *Client) (any, error) { return c.GetSafetyHint(bg(), "enc", 1) },
			wantParam: map[string]any{"encUin": "enc", "close": 1},
			reply:     `{"hint":"be careful"}`,
			check: func(t *testing.T, got any) {
				if r := got.(*SafetyHint); r.Hint != "be careful" {
					t.Errorf("%+v", r)
				}
			},
		},
		{
			name: "GetFriendFloatingIcon", module: ModuleDaziEntry, method: "GetFriendFloatingIcon",
			call:      func(c *Client) (any, error) { return c.GetFriendFloatingIcon(bg(), "enc") },
			wantParam: map[string]any{"TargetEncuin": "enc"},
			reply:     `{"Icon":"x"}`,
			check: func(t *testing.T, got any) {
				if r := got.(json.RawMessage); string(r) != `{"Icon":"x"}` {
					t.Errorf("%s", r)
				}
			},
		},
	}
}

func opCase(method, module string, want map[string]any, call func(*Client) (any, error)) pmCase {
	return pmCase{
		name: method, module: module, method: method, call: call, wantParam: want,
		reply: `{"msg":"done","subcode":"0","tips":"t"}`,
		check: func(t *testing.T, got any) {
			if r := got.(*OperationResult); r.Msg != "done" || r.Tips != "t" || r.Subcode != 0 {
				t.Errorf("%+v", r)
			}
		},
	}
}

func TestPrivateMessageCalls(t *testing.T) {
	for _, tc := range pmCases() {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeQQ(t)
			f.handle(tc.module+"."+tc.method, func(map[string]any) fakeItem { return fakeItem{Raw: tc.reply} })
			c := newTestClient(t, f, nil)
			got, err := tc.call(c)
			if err != nil {
				t.Fatal(err)
			}
			r := f.last(t, tc.method)
			var item struct{ Module, Method string }
			json.Unmarshal(r.Decoded["req_0"], &item)
			if item.Module != tc.module {
				t.Errorf("module = %s, want %s", item.Module, tc.module)
			}
			if p := r.param(t, 0); !jsonEqual(p, tc.wantParam) {
				t.Errorf("param = %v\nwant    %v", p, tc.wantParam)
			}
			if comm := r.comm(t); comm["ct"] != 11.0 || comm["authst"] != testCred.MusicKey {
				t.Errorf("not an Android comm with the credential: %v", comm)
			}
			tc.check(t, got)
		})
	}
}

func TestPrivateMessageCallsRefusedWithoutCredential(t *testing.T) {
	for _, cred := range []*Credential{{}, {MusicID: 1}, {MusicKey: "Q_x"}} {
		for _, tc := range pmCases() {
			f := newFakeQQ(t)
			c := newTestClient(t, f, func(o *Options) { o.Credential = cred })
			_, err := tc.call(c)
			if !errors.Is(err, ErrCredentialRequired) {
				t.Errorf("%s with %v: err = %v, want ErrCredentialRequired", tc.name, cred, err)
			}
			if n := len(f.musicuRequests("")); n != 0 || f.qimeiHits != 0 {
				t.Errorf("%s: %d requests sent before refusing", tc.name, n)
			}
		}
	}
	f := newFakeQQ(t)
	c := newTestClient(t, f, func(o *Options) { o.Credential = &Credential{} })
	if err := c.CheckCredential(bg()); !errors.Is(err, ErrCredentialRequired) {
		t.Errorf("CheckCredential: %v", err)
	}
	if _, err := c.RefreshCredential(bg()); !errors.Is(err, ErrCredentialRequired) {
		t.Errorf("RefreshCredential: %v", err)
	}
}

func TestPrivateMessageErrorsAndMalformedData(t *testing.T) {
	for _, tc := range pmCases() {
		f := newFakeQQ(t)
		f.handle(tc.module+"."+tc.method, func(map[string]any) fakeItem { return fakeItem{Code: 104401} })
		c := newTestClient(t, f, nil)
		if _, err := tc.call(c); !errors.Is(err, ErrCredentialExpired) {
			t.Errorf("%s: err = %v, want expired", tc.name, err)
		}
		f.handle(tc.module+"."+tc.method, func(map[string]any) fakeItem { return fakeItem{Raw: `["not","an","object"]`} })
		_, err := tc.call(c)
		var me *MalformedResponseError
		switch tc.method {
		case "GetMusicianCard", "GetFriendFloatingIcon":
			// Unmodelled replies are passed through raw.
		default:
			if !errors.As(err, &me) {
				t.Errorf("%s: err = %v, want malformed", tc.name, err)
			}
		}
	}
}

// pagedServer serves GetSessionList / GetMessage pages from slices, with
// the page order chosen, as the reference's continuation rules expect.
func pagedMessages(f *fakeQQ, total, size int, newestFirst bool) {
	ids := make([]int, total)
	for i := range ids {
		ids[i] = i + 1 // sequence == id; higher is newer
	}
	if newestFirst {
		for i, j := 0, len(ids)-1; i < j; i, j = i+1, j-1 {
			ids[i], ids[j] = ids[j], ids[i]
		}
	}
	f.handle(ModulePrivateMsgRead+".GetMessage", func(p map[string]any) fakeItem {
		start := 0
		if last, _ := p["last_id"].(string); last != "" {
			n, _ := strconv.Atoi(last[1:])
			for i, id := range ids {
				if id == n {
					start = i + 1
				}
			}
		}
		end := min(start+size, len(ids))
		var msgs []map[string]any
		for _, id := range ids[start:end] {
			msgs = append(msgs, map[string]any{"id": fmt.Sprintf("m%d", id), "sequence": id, "time": 1000 + id})
		}
		more := 0
		if end < len(ids) {
			more = 1
		}
		return fakeItem{Data: map[string]any{"has_more": more, "messages": msgs}}
	})
}

func TestMessagesIteratorBothPageOrders(t *testing.T) {
	for _, newestFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("newestFirst=%v", newestFirst), func(t *testing.T) {
			f := newFakeQQ(t)
			pagedMessages(f, 123, 50, newestFirst)
			c := newTestClient(t, f, nil)
			var got []Message
			for m, err := range c.Messages(bg(), MessagesParams{SessionID: "s1"}) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, m)
			}
			if len(got) != 123 {
				t.Fatalf("got %d messages, want 123", len(got))
			}
			SortMessages(got)
			for i, m := range got {
				if int(m.Sequence) != i+1 {
					t.Fatalf("after sorting, message %d has sequence %d", i, m.Sequence)
				}
			}
			if n := len(f.musicuRequests("GetMessage")); n != 3 {
				t.Errorf("%d pages requested, want 3", n)
			}
		})
	}
}

func TestMessagesIteratorStopsOnRepeatingServer(t *testing.T) {
	f := newFakeQQ(t)
	f.handle(ModulePrivateMsgRead+".GetMessage", func(map[string]any) fakeItem {
		return fakeItem{Data: map[string]any{"has_more": 1, "messages": []any{map[string]any{"id": "same"}}}}
	})
	c := newTestClient(t, f, nil)
	n := 0
	for _, err := range c.Messages(bg(), MessagesParams{SessionID: "s"}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1 {
		t.Errorf("yielded %d", n)
	}
}

func TestSessionsIterator(t *testing.T) {
	f := newFakeQQ(t)
	const total = 45
	f.handle(ModulePrivateMsgRead+".GetSessionList", func(p map[string]any) fakeItem {
		start := 0
		if last, _ := p["last_id"].(string); last != "" {
			n, _ := strconv.Atoi(last[1:])
			start = n + 1
			if lt, _ := p["last_time"].(float64); int(lt) != 5000-n {
				f.t.Errorf("last_time = %v, want the last session's sort_time %d", p["last_time"], 5000-n)
			}
		}
		end := min(start+20, total)
		var ss []map[string]any
		for i := start; i < end; i++ {
			ss = append(ss, map[string]any{"session_id": fmt.Sprintf("s%d", i), "sort_time": 5000 - i})
		}
		more := 0
		if end < total {
			more = 1
		}
		return fakeItem{Data: map[string]any{"has_more": more, "sessions": ss}}
	})
	c := newTestClient(t, f, nil)
	seen := map[string]bool{}
	for s, err := range c.Sessions(bg(), SessionListParams{}) {
		if err != nil {
			t.Fatal(err)
		}
		seen[string(s.SessionID)] = true
	}
	if len(seen) != total {
		t.Errorf("iterated %d sessions, want %d", len(seen), total)
	}
	// Stopping early sends no further request.
	before := len(f.musicuRequests("GetSessionList"))
	for range c.Sessions(bg(), SessionListParams{}) {
		break
	}
	if n := len(f.musicuRequests("GetSessionList")) - before; n != 1 {
		t.Errorf("breaking after one session sent %d requests", n)
	}
	// An error is yielded.
	f.handle(ModulePrivateMsgRead+".GetSessionList", func(map[string]any) fakeItem { return fakeItem{Code: 2001} })
	var last error
	for _, err := range c.Sessions(bg(), SessionListParams{}) {
		last = err
	}
	if !errors.Is(last, ErrRateLimited) {
		t.Errorf("iterator error = %v", last)
	}
}

func TestCheckAndRefreshCredential(t *testing.T) {
	f := newFakeQQ(t)
	code := 0
	f.handle(moduleUserInfo+".GetLoginUserInfo", func(map[string]any) fakeItem { return fakeItem{Code: code, Data: map[string]any{}} })
	c := newTestClient(t, f, nil)
	if err := c.CheckCredential(bg()); err != nil {
		t.Fatalf("valid credential: %v", err)
	}
	if p := f.last(t, "GetLoginUserInfo").param(t, 0); len(p) != 0 {
		t.Errorf("param = %v, want {}", p)
	}
	for _, code = range []int{1000, 104400, 104401} {
		if err := c.CheckCredential(bg()); !errors.Is(err, ErrCredentialExpired) {
			t.Errorf("code %d: %v", code, err)
		}
	}
}

func TestRefreshCredentialByLoginType(t *testing.T) {
	base := Credential{OpenID: "oid", RefreshToken: "rt", AccessToken: "at", ExpiredAt: 99, MusicID: 111, MusicKey: "Q_old",
		UnionID: "un", RefreshKey: "rk", MusickeyCreateTime: 1, KeyExpiresIn: 2}
	cases := []struct {
		loginType int
		want      map[string]any
	}{
		{1, map[string]any{"openid": "oid", "refresh_token": "rt", "str_musicid": "111", "musickey": "Q_old", "unionid": "un", "refresh_key": "rk", "loginMode": 2}},
		{2, map[string]any{"openid": "oid", "access_token": "at", "refresh_token": "rt", "expired_in": 99, "musicid": 111, "musickey": "Q_old", "refresh_key": "rk", "loginMode": 2}},
		{6, map[string]any{"openid": "oid", "access_token": "at", "refresh_token": "rt", "expired_in": 99, "str_musicid": "111", "musicid": 111, "musickey": "Q_old", "unionid": "un", "refresh_key": "rk", "loginMode": 2}},
	}
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.loginType), func(t *testing.T) {
			f := newFakeQQ(t)
			f.handle(moduleLogin+".Login", func(map[string]any) fakeItem {
				return fakeItem{Raw: `{"musicid":111,"musickey":"Q_new","musickeyCreateTime":1763800000,"keyExpiresIn":259200,"refresh_key":"rk2"}`}
			})
			dir := t.TempDir()
			cred := base
			cred.LoginType = tc.loginType
			c := newTestClient(t, f, func(o *Options) { o.Credential = &cred; o.CredentialFile = dir + "/cred.json" })
			got, err := c.RefreshCredential(bg())
			if err != nil {
				t.Fatal(err)
			}
			r := f.last(t, "Login")
			if p := r.param(t, 0); !jsonEqual(p, tc.want) {
				t.Errorf("param = %v\nwant    %v", p, tc.want)
			}
			if comm := r.comm(t); comm["tmeLoginType"] != float64(tc.loginType) {
				t.Errorf("comm tmeLoginType = %v", comm["tmeLoginType"])
			}
			if got.MusicKey != "Q_new" || got.RefreshKey != "rk2" || got.OpenID != "oid" || got.LoginType != tc.loginType || got.KeyExpiresIn != 259200 {
				t.Errorf("refreshed = %+v", got)
			}
			if c.Credential().MusicKey != "Q_new" {
				t.Error("client still uses the old key")
			}
			saved, err := LoadCredential(dir + "/cred.json")
			if err != nil || saved.MusicKey != "Q_new" {
				t.Errorf("refreshed credential not saved: %v %v", saved, err)
			}
		})
	}
}

func TestRefreshCredentialFailures(t *testing.T) {
	cases := []struct {
		item  fakeItem
		check func(error) bool
	}{
		{fakeItem{Code: 104401}, func(err error) bool { return errors.Is(err, ErrCredentialExpired) }},
		{fakeItem{Code: 20279}, func(err error) bool {
			var ae *APIError
			return errors.As(err, &ae) && ae.Code == 20279 && LoginCodeText(20279) != "" && strings.Contains(err.Error(), LoginCodeText(20279))
		}},
		{fakeItem{Raw: `{"musickey":""}`}, func(err error) bool { var me *MalformedResponseError; return errors.As(err, &me) }},
		{fakeItem{Raw: `null`}, func(err error) bool { var me *MalformedResponseError; return errors.As(err, &me) }},
	}
	for i, tc := range cases {
		f := newFakeQQ(t)
		f.handle(moduleLogin+".Login", func(map[string]any) fakeItem { return tc.item })
		c := newTestClient(t, f, nil)
		_, err := c.RefreshCredential(context.Background())
		if err == nil || !tc.check(err) {
			t.Errorf("case %d: err = %v", i, err)
		}
		if c.Credential().MusicKey != testCred.MusicKey {
			t.Errorf("case %d: failed refresh changed the credential", i)
		}
	}
}

func TestConcurrentRefreshesRefreshOnce(t *testing.T) {
	f := newFakeQQ(t)
	n := 0
	var mu sync.Mutex
	release := make(chan struct{})
	f.handle(moduleLogin+".Login", func(map[string]any) fakeItem {
		<-release
		mu.Lock()
		n++
		k := n
		mu.Unlock()
		return fakeItem{Raw: fmt.Sprintf(`{"musicid":123456789,"musickey":"Q_new%d"}`, k)}
	})
	c := newTestClient(t, f, nil)
	if err := c.RefreshSession(bg()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	keys := make([]string, 4)
	for i := range keys {
		wg.Go(func() {
			got, err := c.RefreshCredential(bg())
			if err != nil {
				t.Error(err)
				return
			}
			keys[i] = got.MusicKey
		})
	}
	time.Sleep(50 * time.Millisecond) // let every goroutine reach the refresh
	close(release)
	wg.Wait()
	if n != 1 {
		t.Errorf("%d refreshes for 4 concurrent callers, want 1", n)
	}
	for i, k := range keys {
		if k != "Q_new1" {
			t.Errorf("caller %d got key %q", i, k)
		}
	}
}
