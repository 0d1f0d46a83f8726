package qq

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// sessionListPage is a realistic GetSessionList page of n sessions.
func sessionListPage(n int) string {
	var b strings.Builder
	b.WriteString(`{"has_more":1,"msg":"","new_msg_cnt":4,"subcode":0,"setting_guide":0,"state":0,"extra":{"k":"v"},"sessions":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"session_id":"sess_%d_0123456789","user":{"avatar":"https://thirdqq.qlogo.cn/g?b=sdk&k=abc%d&s=140","encrypt_uin":"oKvs7en%dAbCdEf","uin":"%d","identity_pic":"","nick":"用户 %d","identity":0,"type":0,"is_concern":1},`+
			`"new_msg":{"id":"msg_%d","meta_data":{"title":"","content":"你好，这是第 %d 条会话的最新消息","pic":"","biz_id":"","biz_type":0,"url":"","width":0,"height":0,"Duration":0,"Size":0},"client_key":"ck%d","from_user":{"uin":"%d","nick":"用户 %d"},"time":17000000%02d,"state":0,"result":0,"tips":"","sequence":%d,"show_type":0,"msg_type":1,"confirm":0,"sort_time":17000000%02d,"complainTip":"","complainUrl":""},`+
			`"new_msg_cnt":%d,"sort_time":17000000%02d,"url":"","create_time":1690000000,"from":0,"SmStarVirtaulUin":"","Auth":"","Ext":{},"TailTags":[]}`,
			i, i, i, 100000+i, i, i, i, i, 100000+i, i, i, i, i, i%3, i)
	}
	b.WriteString(`]}`)
	return b.String()
}

// messagePage is a realistic GetMessage page of n messages.
func messagePage(n int) string {
	var b strings.Builder
	b.WriteString(`{"has_more":1,"msg":"","session":{"session_id":"sess_1","user":{"uin":"100001","nick":"Alice"}},"subcode":0,"end_msg_seq":900,"Attach":{},"PatInterval":60,"PatMap":null,"EncryptStar":"","LocationTips":"","NewMsgCnt":0,"messages":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"msg_%d_abcdef","meta_data":{"title":"","content":"消息内容 %d: the quick brown fox jumps over the lazy dog","pic":"","biz_id":"","biz_type":0,"url":"","width":0,"height":0,"Duration":0,"Size":0},`+
			`"client_key":"ck_%d","from_user":{"avatar":"https://thirdqq.qlogo.cn/a.jpg","encrypt_uin":"enc","uin":"100001","identity_pic":"","nick":"Alice","identity":0,"type":0,"is_concern":0},`+
			`"time":%d,"state":0,"result":0,"tips":"","sequence":%d,"show_type":0,"msg_type":1,"confirm":0,"sort_time":%d,"complainTip":"","complainUrl":""}`,
			i, i, i, 1700000000+i, 900-i, 1700000000+i)
	}
	b.WriteString(`]}`)
	return b.String()
}

func benchRoundTrip[T any](b *testing.B, raw []byte, count func(*T) int, want int) {
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			b.Fatal(err)
		}
		if count(&v) != want {
			b.Fatalf("decoded %d items", count(&v))
		}
		if _, err := json.Marshal(&v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSessionListPage decodes and re-encodes one 20-session page.
func BenchmarkSessionListPage(b *testing.B) {
	benchRoundTrip(b, []byte(sessionListPage(20)), func(l *SessionList) int { return len(l.Sessions) }, 20)
}

// BenchmarkMessagePage decodes and re-encodes one 50-message page.
func BenchmarkMessagePage(b *testing.B) {
	benchRoundTrip(b, []byte(messagePage(50)), func(l *MessageList) int { return len(l.Messages) }, 50)
}

func TestBenchmarkPagesDecode(t *testing.T) {
	var s SessionList
	if err := json.Unmarshal([]byte(sessionListPage(20)), &s); err != nil || len(s.Sessions) != 20 || s.Sessions[19].User.Nick != "用户 19" {
		t.Fatalf("session page: %v %d", err, len(s.Sessions))
	}
	var m MessageList
	if err := json.Unmarshal([]byte(messagePage(50)), &m); err != nil || len(m.Messages) != 50 || m.Messages[49].Sequence != 851 {
		t.Fatalf("message page: %v %d", err, len(m.Messages))
	}
}
