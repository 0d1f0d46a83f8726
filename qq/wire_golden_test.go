package qq

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
)

// goldenCommsInOrder returns the Android comm objects of the golden file
// as compact JSON, keys in the file's order (the reference's), keyed by
// the credential they were computed for.
func goldenCommsInOrder(t *testing.T) (map[string][]byte, commGolden) {
	t.Helper()
	raw, err := os.ReadFile(vectorFile(t, "qqmusic_comm_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Comm []struct {
			Platform   string          `json:"platform"`
			Credential json.RawMessage `json:"credential"`
			Comm       json.RawMessage `json:"comm"`
		} `json:"comm"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, c := range g.Comm {
		if c.Platform != "android" {
			continue
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, c.Comm); err != nil {
			t.Fatal(err)
		}
		out[string(c.Credential)] = buf.Bytes()
	}
	return out, loadCommGolden(t)
}

// The comm goes out byte for byte as the reference builds it: same keys,
// same values, same order.
func TestAndroidCommBytesGolden(t *testing.T) {
	want, g := goldenCommsInOrder(t)
	n := 0
	for _, tc := range g.Comm {
		if tc.Platform != "android" {
			continue
		}
		n++
		d := goldenDevice(t, g)
		if tc.QIMEI != nil {
			d.QIMEI, d.QIMEI36 = &tc.QIMEI.Q16, &tc.QIMEI.Q36
		}
		var cred Credential
		if err := json.Unmarshal(tc.Credential, &cred); err != nil {
			t.Fatal(err)
		}
		got, err := encodeCompact(androidComm(d, &cred))
		if err != nil {
			t.Fatal(err)
		}
		if w := want[string(tc.Credential)]; !bytes.Equal(got, w) {
			t.Errorf("credential %s: comm\n got %s\nwant %s", tc.Credential, got, w)
		}
	}
	if n != 3 {
		t.Fatalf("%d android cases, want 3", n)
	}
}

// The comm of the test client (golden device, testCred, the fake's QIMEI
// and session), in the reference's order; login calls send it without the
// credential, their own keys replacing in place or appended.
const (
	commHead   = `{"ct":11,"cv":14090008,"v":14090008,"tmeAppID":"qqmusic","chid":"10003505",`
	commCred   = `"qq":"123456789","authst":"Q_H_L_secretkey0001","tmeLoginType":2,`
	commDevice = `"QIMEI":"Q16","QIMEI36":"Q36","OpenUDID":"0123456789abcdef0123456789abcdef","OpenUDID2":"0123456789abcdef0123456789abcdef","udid":"0123456789abcdef0123456789abcdef","aid":"0123456789abcdef",`
	commSess   = `"uid":"u-1","sid":"s-1",`
	commTail   = `"os_ver":"10","phonetype":"MI 6","devicelevel":"29","newdevicelevel":"29","rom":"xiaomi/iarim/sagit:10/eomam.200122.001/1234567:user/release-keys"`
	commLogged = commHead + commCred + commDevice + commSess + commTail + `}`
	commAnon   = commHead + commDevice + commSess + commTail
)

func wireBody(comm, module, method, param string) string {
	return `{"comm":` + comm + `,"req_0":{"module":"` + module + `","method":"` + method + `","param":` + param + `}}`
}

// wireCase is one call of the client and the exact request the reference
// sends for it.
type wireCase struct {
	name   string
	call   func(c *Client) error
	module string
	method string
	reply  string // the item's data
	body   string
}

func wireCases() []wireCase {
	r, w := ModulePrivateMsgRead, ModulePrivateMsgWrite
	pm := func(name, module, method, param string, call func(c *Client) error) wireCase {
		return wireCase{name: name, call: call, module: module, method: method, reply: `{}`, body: wireBody(commLogged, module, method, param)}
	}
	ign := func(_ any, err error) error { return err }
	credReply := `{"musicid":123456789,"musickey":"Q_H_L_new0002","loginType":2}`
	return []wireCase{
		pm("GetSessionList", r, "GetSessionList", `{"last_id":"","order":1,"size":20,"last_time":0,"from":0,"FansFlag":1}`,
			func(c *Client) error { return ign(c.GetSessionList(bg(), SessionListParams{})) }),
		pm("GetSessionList order 0 size 0 star", r, "GetSessionList", `{"last_id":"s9","order":0,"size":0,"last_time":77,"from":0,"EncryptFromUin":"star"}`,
			func(c *Client) error {
				return ign(c.GetSessionList(bg(), SessionListParams{LastID: "s9", LastTime: 77, OrderSet: true, SizeSet: true, EncryptFromUin: "star"}))
			}),
		pm("GetMessage", r, "GetMessage", `{"order":1,"size":50,"flag":0,"session_id":"s1","last_id":"m0","wns_id":"w","user_id":"111","location_id":"l","update_time":9}`,
			func(c *Client) error {
				return ign(c.GetMessages(bg(), MessagesParams{SessionID: "s1", UserID: "111", LastID: "m0", WnsID: "w", LocationID: "l", UpdateTime: 9}))
			}),
		pm("GetMessage zeros", r, "GetMessage", `{"order":0,"size":0,"flag":0,"session_id":"s1","update_time":0}`,
			func(c *Client) error {
				return ign(c.GetMessages(bg(), MessagesParams{SessionID: "s1", OrderSet: true, SizeSet: true, UpdateTimeSet: true}))
			}),
		pm("SendMessageAsync", w, "SendMessageAsync", `{"last_msg_seq":4,"user_id":"222","entrance":0,"client_key":"ck1","msg_type":0,"session_id":"s1","last_id":"l1","meta_data":{"content":"a<b>&c 你好"},"source_flag":2,"msg_id":"old","user_input":"in","super_msg_flag":0}`,
			func(c *Client) error {
				return ign(c.SendMessage(bg(), SendMessageParams{UserID: "222", MetaData: TextMetaData("a<b>&c 你好"), SessionID: "s1", LastID: "l1",
					ClientKey: "ck1", LastMsgSeq: 4, SourceFlag: intp(2), MsgID: "old", UserInput: "in"}))
			}),
		pm("StarSendSuperMsg without super_msg_flag", w, "StarSendSuperMsg", `{"last_msg_seq":0,"user_id":"222","entrance":0,"client_key":"","msg_type":1}`,
			func(c *Client) error {
				return ign(c.SendMessage(bg(), SendMessageParams{UserID: "222", MsgType: 1, StarSend: true, NoSuperMsgFlag: true}))
			}),
		pm("DeleteSession", w, "DeleteSession", `{"session_id":"s1","super_msg_flag":0}`,
			func(c *Client) error { return ign(c.DeleteSession(bg(), "s1", 0)) }),
		pm("DeleteMessage", w, "DeleteMessage", `{"session_id":"s1","msg_id":"m1","super_msg_flag":1}`,
			func(c *Client) error { return ign(c.DeleteMessage(bg(), "s1", "m1", 1)) }),
		pm("ClearSession", w, "ClearSession", `{"session_id":"s1","super_msg_flag":0}`,
			func(c *Client) error { return ign(c.ClearSession(bg(), "s1", 0)) }),
		pm("SetConfig", w, "SetConfig", `{"config_type":3,"config_value_str":"1"}`,
			func(c *Client) error { return ign(c.SetConfig(bg(), 3, "1")) }),
		pm("GetConfig", r, "GetConfig", `{"config_type":3,"config_value_str":""}`,
			func(c *Client) error { return ign(c.GetConfig(bg(), 3, "")) }),
		pm("GetMusicianCard", ModuleMusicianCard, "GetMusicianCard", `{"EncUin":"encX"}`,
			func(c *Client) error { return ign(c.GetMusicianCard(bg(), "encX")) }),
		pm("ActCardMsgCallBack", w, "ActCardMsgCallBack", `{"target_user_id":"222","msg_type":9,"confirm":1,"msg_id":"m1","ext":{"a":"b"}}`,
			func(c *Client) error {
				return ign(c.ReportCardAction(bg(), CardActionParams{TargetUserID: "222", MsgType: 9, Confirm: 1, MsgID: "m1", Ext: map[string]any{"a": "b"}}))
			}),
		pm("GetEntries", r, "GetEntries", `{"Scence":[1,2],"FromUserType":0,"UserID":"222"}`,
			func(c *Client) error {
				return ign(c.GetChatEntries(bg(), ChatEntriesParams{Scenes: []int{1, 2}, FromUserType: intp(0), UserID: "222"}))
			}),
		pm("GetMsgDetails", r, "GetMsgDetails", `{"SessionID":"s1","MsgIDs":["m1","m2"]}`,
			func(c *Client) error { return ign(c.GetMediaDetails(bg(), "s1", []string{"m1", "m2"})) }),
		pm("SetAllMsgMardRead", w, "SetAllMsgMardRead", `{"CmdFlag":1,"EncryptUin":"enc"}`,
			func(c *Client) error { return ign(c.MarkAllRead(bg(), 1, "enc")) }),
		pm("GetSafetyHint", r, "GetSafetyHint", `{"encUin":"enc","close":1}`,
			func(c *Client) error { return ign(c.GetSafetyHint(bg(), "enc", 1)) }),
		pm("GetFriendFloatingIcon", ModuleDaziEntry, "GetFriendFloatingIcon", `{"TargetEncuin":"enc"}`,
			func(c *Client) error { return ign(c.GetFriendFloatingIcon(bg(), "enc")) }),
		pm("GetLoginUserInfo", moduleUserInfo, "GetLoginUserInfo", `{}`,
			func(c *Client) error { return c.CheckCredential(bg()) }),
		pm("Logout", moduleLogin, "Logout", `{}`,
			func(c *Client) error { return c.Logout(bg()) }),
		{name: "refresh Login", module: moduleLogin, method: "Login", reply: credReply,
			call: func(c *Client) error { return ign(c.RefreshCredential(bg())) },
			body: wireBody(commLogged, moduleLogin, "Login", `{"openid":"","access_token":"","refresh_token":"rt-secret","expired_in":0,"musicid":123456789,"musickey":"Q_H_L_secretkey0001","refresh_key":"rk-secret","loginMode":2}`)},
		{name: "CreateQRCode", module: moduleLogin, method: "CreateQRCode", reply: `{"qrcode":"data:image/png;base64,iVBORw0KGgo=","qrcodeID":"Q1"}`,
			// The push connection that follows is not this fake's: only
			// the CreateQRCode request matters here.
			call: func(c *Client) error { _, _ = c.startMobileLogin(bg(), qrConfig{}); return nil },
			body: wireBody(`{"ct":23,"cv":0,"v":14090008,"tmeAppID":"qqmusic","chid":"10003505",`+commDevice+commSess+commTail+`}`,
				moduleLogin, "CreateQRCode", `{"tmeAppID":"qqmusic","ct":11,"cv":14090008}`)},
		{name: "SendPhoneAuthCode", module: moduleLogin, method: "SendPhoneAuthCode", reply: `{}`,
			call: func(c *Client) error { return ign(c.SendPhoneCode(bg(), "13800138000", "")) },
			body: wireBody(commAnon+`,"tmeLoginMethod":3}`, moduleLogin, "SendPhoneAuthCode", `{"tmeAppid":"qqmusic","areaCode":"86","phoneNo":"13800138000"}`)},
		{name: "SendPhoneAuthCode encrypted", module: moduleLogin, method: "SendPhoneAuthCode", reply: `{}`,
			call: func(c *Client) error { return ign(c.SendEncryptedPhoneCode(bg(), "ENC+phone/=", "852")) },
			body: wireBody(commAnon+`,"tmeLoginMethod":3}`, moduleLogin, "SendPhoneAuthCode", `{"tmeAppid":"qqmusic","areaCode":"852","encryptedPhoneNo":"ENC+phone/="}`)},
		{name: "phone Login", module: moduleLogin, method: "Login", reply: credReply,
			call: func(c *Client) error { return ign(c.PhoneLogin(bg(), "13800138000", "123456")) },
			body: wireBody(commAnon+`,"tmeLoginMethod":3,"tmeLoginType":0}`, moduleLogin, "Login", `{"code":"123456","loginMode":1,"phoneNo":"13800138000"}`)},
		{name: "phone Login encrypted", module: moduleLogin, method: "Login", reply: credReply,
			call: func(c *Client) error { return ign(c.EncryptedPhoneLogin(bg(), "ENC+phone/=", "123456")) },
			body: wireBody(commAnon+`,"tmeLoginMethod":3,"tmeLoginType":0}`, moduleLogin, "Login", `{"code":"123456","loginMode":1,"encryptedPhoneNo":"ENC+phone/="}`)},
		{name: "QQLogin", module: qqLoginModule, method: "QQLogin", reply: credReply,
			call: func(c *Client) error {
				return ign(c.callLogin(bg(), qqLoginModule, "QQLogin", Object{{"code", "C0DE"}}, Object{{"tmeLoginType", LoginTypeQQ}}))
			},
			body: wireBody(commAnon+`,"tmeLoginType":2}`, qqLoginModule, "QQLogin", `{"code":"C0DE"}`)},
	}
}

// Every call the client makes goes out as the reference sends it: the
// exact body bytes (comm in its order, module, method, param in the
// documented order), its User-Agent and Content-Type, and no cookies.
func TestEveryCallOnTheWireGolden(t *testing.T) {
	for _, tc := range wireCases() {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeQQ(t)
			f.handle(tc.module+"."+tc.method, func(map[string]any) fakeItem { return fakeItem{Raw: tc.reply} })
			c := newTestClient(t, f, nil)
			if err := c.bootstrap(bg()); err != nil {
				t.Fatal(err)
			}
			if err := tc.call(c); err != nil {
				t.Fatal(err)
			}
			r := f.last(t, tc.method)
			if r.Path != "/cgi-bin/musicu.fcg" {
				t.Errorf("path %s, want /cgi-bin/musicu.fcg", r.Path)
			}
			if string(r.Body) != tc.body {
				t.Errorf("body\n got %s\nwant %s", r.Body, tc.body)
			}
			checkGatewayHeaders(t, r.Header)
		})
	}
}

func checkGatewayHeaders(t *testing.T, h http.Header) {
	t.Helper()
	for k, want := range map[string]string{
		"User-Agent":   "QQMusic 14090008(android 10)",
		"Content-Type": "application/json;charset=utf-8",
		"Cookie":       "",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
}

// GetSession, the bootstrap call, carries no credential in cookies either,
// and its param is uid, vkey, caller in that order.
func TestGetSessionOnTheWireGolden(t *testing.T) {
	f := newFakeQQ(t)
	c := newTestClient(t, f, nil)
	if err := c.bootstrap(bg()); err != nil {
		t.Fatal(err)
	}
	r := f.last(t, "GetSession")
	want := wireBody(commHead+commCred+commDevice+commTail+`}`, "music.getSession.session", "GetSession", `{"uid":"","vkey":0,"caller":0}`)
	if string(r.Body) != want {
		t.Errorf("body\n got %s\nwant %s", r.Body, want)
	}
	checkGatewayHeaders(t, r.Header)
}

// A signed call goes to musics.fcg with the zzc sign of exactly the bytes
// sent, which are the same bytes the unsigned call would send.
func TestSignedCallSignsTheBytesSent(t *testing.T) {
	f := newFakeQQ(t)
	f.handle(ModulePrivateMsgRead+".GetConfig", func(map[string]any) fakeItem { return fakeItem{Raw: `{}`} })
	c := newTestClient(t, f, nil)
	if _, err := c.Call(bg(), Request{Module: ModulePrivateMsgRead, Method: "GetConfig", Signed: true,
		Param: Object{{"config_type", 1}, {"config_value_str", "<&>"}}}); err != nil {
		t.Fatal(err)
	}
	r := f.last(t, "GetConfig")
	want := wireBody(commLogged, ModulePrivateMsgRead, "GetConfig", `{"config_type":1,"config_value_str":"<&>"}`)
	if r.Path != "/cgi-bin/musics.fcg" || string(r.Body) != want {
		t.Errorf("%s body\n got %s\nwant %s", r.Path, r.Body, want)
	}
	if r.Query["sign"] != Sign([]byte(want)) || !strings.HasPrefix(r.Query["sign"], "zzc") {
		t.Errorf("sign %q, want the zzc sign of the body %q", r.Query["sign"], Sign([]byte(want)))
	}
	if r.Query["_"] != "1763800000000" {
		t.Errorf("_ = %q, want the client's clock in ms", r.Query["_"])
	}
	checkGatewayHeaders(t, r.Header)
}
