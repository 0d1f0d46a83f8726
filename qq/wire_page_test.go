package qq

import (
	"net/http"
	"testing"
)

func TestQueryKeepsTheReferenceOrder(t *testing.T) {
	got := query("appid", "716027609", "e", "2", "t", "0.5", "u1", "https://graph.qq.com/oauth2.0/login_jump", "switch", "")
	want := "appid=716027609&e=2&t=0.5&u1=https%3A%2F%2Fgraph.qq.com%2Foauth2.0%2Flogin_jump&switch="
	if got != want {
		t.Errorf("query = %s\nwant    %s", got, want)
	}
}

// The login pages get the reference's User-Agent and its cookies: the
// credential's when the client holds one, then the page's own.
func TestLoginPageHeaders(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cred       *Credential
		page       []*http.Cookie
		wantCookie string
	}{
		{"no credential, no page cookie", &Credential{}, nil, ""},
		{"no credential, qrsig", &Credential{}, []*http.Cookie{{Name: "qrsig", Value: "S"}}, "qrsig=S"},
		{"credential and qrsig", &Credential{MusicID: 123456789, MusicKey: "Q_H_L_k"}, []*http.Cookie{{Name: "qrsig", Value: "S"}},
			"uin=123456789; qqmusic_uin=123456789; qm_keyst=Q_H_L_k; qqmusic_key=Q_H_L_k; qrsig=S"},
		{"str_musicid wins", &Credential{MusicID: 1, StrMusicID: "o0001", MusicKey: "W_X_k"}, nil,
			"uin=o0001; qqmusic_uin=o0001; qm_keyst=W_X_k; qqmusic_key=W_X_k"},
		{"a page cookie replaces the credential's", &Credential{MusicID: 7, MusicKey: "k"}, []*http.Cookie{{Name: "uin", Value: "o07"}},
			"uin=o07; qqmusic_uin=7; qm_keyst=k; qqmusic_key=k"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(Options{Credential: tc.cred, Device: goldenDevice(t, loadCommGolden(t))})
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodGet, "https://ssl.ptlogin2.qq.com/ptqrshow", nil)
			c.asLoginPage(req, tc.page...)
			if ua := req.Header.Get("User-Agent"); ua != "QQMusic 14090008(android 10)" {
				t.Errorf("User-Agent = %q", ua)
			}
			if got := req.Header.Get("Cookie"); got != tc.wantCookie {
				t.Errorf("Cookie = %q\nwant     %q", got, tc.wantCookie)
			}
		})
	}
}
