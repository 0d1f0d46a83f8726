package qq

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// hostileServer answers every login web request with the given handler.
func hostileClient(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ep := Endpoints{}
	for _, host := range []string{HostPtlogin, HostPtloginGraph, HostGraph, HostWeixin, HostWeixinLP} {
		ep[host] = srv.URL
	}
	c, err := New(Options{Endpoints: ep, RateLimit: rate.Inf})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// lastEvent runs a login to its end and returns the last event.
func lastEvent(t *testing.T, c *Client, m LoginMethod) (LoginEvent, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ch, err := c.StartQRLogin(ctx, m, WithPollInterval(time.Millisecond), WithLongPoll(time.Second))
	if err != nil {
		return LoginEvent{}, err
	}
	var last LoginEvent
	for ev := range ch {
		last = ev
	}
	return last, nil
}

func TestHostileQQAnswers(t *testing.T) {
	png := "\x89PNG\r\n\x1a\nxx"
	tests := []struct {
		name  string
		show  func(w http.ResponseWriter)
		poll  string
		start bool // the error comes from StartQRLogin
	}{
		{"no qrsig cookie", func(w http.ResponseWriter) { _, _ = w.Write([]byte(png)) }, "", true},
		{"empty image", func(w http.ResponseWriter) {
			http.SetCookie(w, &http.Cookie{Name: "qrsig", Value: "s"})
		}, "", true},
		{"no ptuiCB", nil, "<html>maintenance</html>", false},
		{"ptuiCB without args", nil, "ptuiCB()", false},
		{"status not a number", nil, "ptuiCB('x1','0')", false},
		{"unknown status", nil, "ptuiCB('99','0','','0','?')", false},
		{"done without URL", nil, "ptuiCB('0','0')", false},
		{"done with a URL lacking ptsigx", nil, "ptuiCB('0','0','https://x/check_sig?uin=1','0','ok')", false},
		{"huge answer", nil, "ptuiCB('" + strings.Repeat("6", maxLoginBody+10) + "')", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := hostileClient(t, func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/ptqrshow":
					if tt.show != nil {
						tt.show(w)
						return
					}
					http.SetCookie(w, &http.Cookie{Name: "qrsig", Value: "s"})
					_, _ = w.Write([]byte(png))
				case "/ptqrlogin":
					_, _ = w.Write([]byte(tt.poll))
				default:
					http.NotFound(w, r)
				}
			})
			ev, err := lastEvent(t, c, LoginQQ)
			if tt.start {
				if !errors.Is(err, ErrLoginProtocol) {
					t.Fatalf("start err %v, want ErrLoginProtocol", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev.State != LoginFailed || !errors.Is(ev.Err, ErrLoginProtocol) {
				t.Fatalf("last event %v err %v, want failed with ErrLoginProtocol", ev.State, ev.Err)
			}
		})
	}
}

func TestHostileWeChatAnswers(t *testing.T) {
	tests := []struct {
		name, page, poll string
		start            bool
	}{
		{"no uuid", "<html>no code here</html>", "", true},
		{"garbage poll", `<a href="x?uuid=U1">`, "window.nothing=1;", false},
		{"unknown errcode", `<a href="x?uuid=U1">`, "window.wx_errcode=999;window.wx_code='';", false},
		{"done without code", `<a href="x?uuid=U1">`, "window.wx_errcode=405;window.wx_code='';", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := hostileClient(t, func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.URL.Path == "/connect/qrconnect":
					_, _ = w.Write([]byte(tt.page))
				case strings.HasPrefix(r.URL.Path, "/connect/qrcode/"):
					_, _ = w.Write([]byte{0xFF, 0xD8, 0xFF, 0})
				case r.URL.Path == "/connect/l/qrconnect":
					_, _ = w.Write([]byte(tt.poll))
				default:
					http.NotFound(w, r)
				}
			})
			ev, err := lastEvent(t, c, LoginWeChat)
			if tt.start {
				if !errors.Is(err, ErrLoginProtocol) {
					t.Fatalf("start err %v", err)
				}
				return
			}
			if err != nil || ev.State != LoginFailed || !errors.Is(ev.Err, ErrLoginProtocol) {
				t.Fatalf("last event %v err %v / %v", ev.State, ev.Err, err)
			}
		})
	}
}

func TestHostileMobileEvents(t *testing.T) {
	tests := []struct {
		name    string
		payload string
	}{
		{"not JSON", "{{{"},
		{"no cookies", `{}`},
		{"bad uin", `{"cookies":{"qqmusic_uin":{"value":"abc"},"qqmusic_key":{"value":"k"}}}`},
		{"no key", `{"cookies":{"qqmusic_uin":{"value":"o0123"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := make(chan LoginEvent, 4)
			ctx := context.Background()
			e := &emitter{ctx: ctx, lctx: ctx, ch: ch}
			c := &Client{}
			if !c.handleMobile(e, mqttMessage{Type: "cookies", Payload: []byte(tt.payload)}, "QR") {
				t.Fatal("a broken cookies event did not end the login")
			}
			ev := <-ch
			if ev.State != LoginFailed || !errors.Is(ev.Err, ErrLoginProtocol) {
				t.Fatalf("event %v err %v", ev.State, ev.Err)
			}
		})
	}
	// Unknown event types are ignored.
	ch := make(chan LoginEvent, 1)
	e := &emitter{ctx: context.Background(), lctx: context.Background(), ch: ch}
	if (&Client{}).handleMobile(e, mqttMessage{Type: "heartbeat"}, "QR") || len(ch) != 0 {
		t.Fatal("an unknown event type changed the login")
	}
}

func TestDecodeDataURL(t *testing.T) {
	tests := []struct {
		in, mime string
		ok       bool
	}{
		{"data:image/png;base64,iVBORw0KGgo=", "image/png", true},
		{"data:image/jpeg;base64,/9j/", "image/jpeg", true},
		{"iVBORw0KGgo=", "image/png", true},
		{"data:image/png;base64", "", false},
		{"data:image/png;base64,!!!", "", false},
		{"data:image/png;base64,", "", false},
	}
	for _, tt := range tests {
		_, mime, err := decodeDataURL(tt.in)
		if (err == nil) != tt.ok || (tt.ok && mime != tt.mime) {
			t.Errorf("%q: mime %q err %v", tt.in, mime, err)
		}
	}
}

func TestRedirectPath(t *testing.T) {
	tests := []struct{ path, ref, want string }{
		{"/ws/handshake", "n1:443", "/ws/handshake/n1:443"},
		{"/ws/handshake/n1:443", "n2:443", "/ws/handshake/n2:443"},
		{"/ws/handshake/", "n1", "/ws/handshake/n1"},
		{"/ws/handshake/n1", "n2", "/ws/handshake/n1/n2"},
	}
	for _, tt := range tests {
		if got := redirectPath(tt.path, tt.ref); got != tt.want {
			t.Errorf("redirectPath(%q, %q) = %q, want %q", tt.path, tt.ref, got, tt.want)
		}
	}
}
