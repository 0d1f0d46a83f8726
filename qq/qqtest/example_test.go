package qqtest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// A test sets up the account and a conversation, points the code under
// test at Endpoints, and reads back what it sent and how it deviated.
func Example() {
	s := qqtest.New()
	defer s.Close()
	s.SetAccount(qqtest.Account{MusicID: 10001, MusicKey: "Q_H_L_key", Nick: "me"})
	peer := s.AddUser(qqtest.User{UIN: 20002, Nick: "friend"})
	session := s.AddSession(peer)
	if _, err := s.Deliver(session, qqtest.Text("hello")); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Endpoints()["u.y.qq.com"] == s.URL)

	// A request without the credential is refused like an expired one.
	resp, err := http.Post(s.URL+qqtest.PathMusicu, "application/json", strings.NewReader(
		`{"comm":{"ct":11,"cv":14090008},"req_0":{"module":"music.privateMsg.PrivateMsgRead","method":"GetSessionList",`+
			`"param":{"last_id":"","order":1,"size":20,"last_time":0,"from":0,"FansFlag":1}}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var top map[string]any
	if err := json.Unmarshal(body, &top); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(top["code"], top["req_0"])
	fmt.Println(s.Count("GetSessionList"), len(s.Deviations()) > 0)
	// Output:
	// true
	// 0 map[code:1000 data:map[]]
	// 1 true
}
