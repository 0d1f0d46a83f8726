package qq

import (
	"net/http"
	"net/url"
	"strings"
)

// query encodes key/value pairs in the order given, the way the reference
// builds its login pages' query strings (url.Values would sort the keys).
func query(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv[i]))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(kv[i+1]))
	}
	return b.String()
}

// asLoginPage dresses a request to a plain-HTTP login page (ptlogin2,
// graph.qq.com, open.weixin.qq.com) as the reference sends it: its
// platform User-Agent, and its cookies, which are the credential's
// (uin, qqmusic_uin, qm_keyst, qqmusic_key) when the client holds one,
// then the page's own (a page cookie replaces a credential cookie of the
// same name). These pages are the only place the reference sends cookies.
// The WeChat long poll is not one of them: the reference sends it bare.
func (c *Client) asLoginPage(req *http.Request, page ...*http.Cookie) {
	req.Header.Set("User-Agent", c.UserAgent())
	cred := c.Credential()
	var cookies []*http.Cookie
	if cred.MusicID != 0 {
		id := cred.UIN()
		cookies = append(cookies, &http.Cookie{Name: "uin", Value: id}, &http.Cookie{Name: "qqmusic_uin", Value: id})
	}
	if cred.MusicKey != "" {
		cookies = append(cookies, &http.Cookie{Name: "qm_keyst", Value: cred.MusicKey}, &http.Cookie{Name: "qqmusic_key", Value: cred.MusicKey})
	}
	for _, p := range page {
		replaced := false
		for i, ck := range cookies {
			if ck.Name == p.Name {
				cookies[i], replaced = p, true
			}
		}
		if !replaced {
			cookies = append(cookies, p)
		}
	}
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
}
