package qq_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/gorilla/websocket"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

func loginHeader() http.Header {
	h := http.Header{}
	h.Set("Origin", "https://y.qq.com")
	h.Set("Referer", "https://y.qq.com/")
	h.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36")
	return h
}

func testMQTTConfig(t *testing.T, b *qqtest.MQTTBroker, qrID string) qq.MQTTConfigForTest {
	t.Helper()
	u, err := qq.WSURLFromHTTPForTest(b.URL() + qqtest.HandshakePath)
	if err != nil {
		t.Fatal(err)
	}
	return qq.MQTTConfigForTest{
		URL:        u,
		Header:     loginHeader(),
		TLS:        b.HTTPClient().Transport.(*http.Transport).TLSClientConfig.Clone(),
		ClientID:   "17000000000001234",
		KeepAlive:  45,
		AuthMethod: "pass",
		ConnectUser: paho.UserProperties{
			{Key: "tmeAppID", Value: "qqmusic"}, {Key: "business", Value: "management"},
			{Key: "hashTag", Value: qrID}, {Key: "clientTag", Value: "management.user"}, {Key: "userID", Value: qrID},
		},
		Topic:         "management.qrcode_login/" + qrID,
		SubscribeUser: paho.UserProperties{{Key: "authorization", Value: "tmelogin"}, {Key: "pubsub", Value: "unicast"}},
		MaxRedirects:  3,
		PacketTimeout: 5 * time.Second,
	}
}

func TestMQTTSubscribeReceivesTypedEvents(t *testing.T) {
	b := qqtest.NewMQTTBroker()
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := qq.OpenMQTTForTest(ctx, testMQTTConfig(t, b, "QR1"))
	if err != nil {
		t.Fatalf("open: %v (problems %v)", err, b.Problems())
	}
	defer s.Close()
	if err := b.WaitSubscribed(ctx, "QR1"); err != nil {
		t.Fatal(err)
	}
	// A payload far bigger than one websocket frame buffer, to exercise
	// streaming reads across messages.
	big := strings.Repeat("x", 70000)
	if err := b.Publish("QR1", "scanned", []byte(`{"pad":"`+big+`"}`)); err != nil {
		t.Fatal(err)
	}
	if err := b.Cancel("QR1"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"scanned", "canceled"} {
		select {
		case m := <-s.Messages():
			if m.Type != want {
				t.Fatalf("type %q, want %q", m.Type, want)
			}
			if m.Topic != "management.qrcode_login/QR1" {
				t.Fatalf("topic %q", m.Topic)
			}
		case <-ctx.Done():
			t.Fatalf("no %s event", want)
		}
	}
	if p := b.Problems(); len(p) > 0 {
		t.Fatalf("broker problems: %v", p)
	}
	c := b.Connects()
	if len(c) != 1 || c[0].Path != "/ws/handshake" || c[0].User["hashTag"] != "QR1" || c[0].AuthMethod != "pass" || c[0].KeepAlive != 45 {
		t.Fatalf("connects = %+v", c)
	}
	sub := b.Subscribes()
	if len(sub) != 1 || sub[0].User["authorization"] != "tmelogin" || sub[0].User["pubsub"] != "unicast" {
		t.Fatalf("subscribes = %+v", sub)
	}
}

func TestMQTTRedirects(t *testing.T) {
	tests := []struct {
		name      string
		refs      []string
		wantErr   error
		wantPaths []string
	}{
		{"one", []string{"node-1:443"}, nil, []string{"/ws/handshake", "/ws/handshake/node-1:443"}},
		{"replace node", []string{"node-1:443", "node-2:443", "node-3:443"}, nil,
			[]string{"/ws/handshake", "/ws/handshake/node-1:443", "/ws/handshake/node-2:443", "/ws/handshake/node-3:443"}},
		{"too many", []string{"a:1", "b:2", "c:3", "d:4"}, qq.ErrMQTTRedirects, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := qqtest.NewMQTTBroker()
			defer b.Close()
			for i, r := range tt.refs {
				if i%2 == 0 {
					b.RedirectNext(r)
				} else {
					b.UseAnotherServerNext(r)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := qq.OpenMQTTForTest(ctx, testMQTTConfig(t, b, "QR2"))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var paths []string
			for _, c := range b.Connects() {
				paths = append(paths, c.Path)
			}
			if strings.Join(paths, " ") != strings.Join(tt.wantPaths, " ") {
				t.Fatalf("paths %q, want %q", paths, tt.wantPaths)
			}
		})
	}
}

func TestMQTTBrokerDropEndsSession(t *testing.T) {
	b := qqtest.NewMQTTBroker()
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := qq.OpenMQTTForTest(ctx, testMQTTConfig(t, b, "QR3"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := b.WaitSubscribed(ctx, "QR3"); err != nil {
		t.Fatal(err)
	}
	if err := b.Drop("QR3"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Lost():
	case <-ctx.Done():
		t.Fatal("drop not noticed")
	}
}

func TestMQTTPropertyChecks(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*qq.MQTTConfigForTest)
		want   string
	}{
		{"no origin", func(c *qq.MQTTConfigForTest) { c.Header.Del("Origin") }, "HTTP 403"},
		{"wrong connect user", func(c *qq.MQTTConfigForTest) { c.ConnectUser[1].Value = "other" }, "0x87"},
		{"no auth method", func(c *qq.MQTTConfigForTest) { c.AuthMethod = "" }, "0x87"},
		{"no subscribe user", func(c *qq.MQTTConfigForTest) { c.SubscribeUser = nil }, "refused the subscription"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := qqtest.NewMQTTBroker()
			defer b.Close()
			cfg := testMQTTConfig(t, b, "QR4")
			tt.mutate(&cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := qq.OpenMQTTForTest(ctx, cfg)
			if err == nil {
				s.Close()
				t.Fatal("connected despite a bad request")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
			if len(b.Problems()) == 0 {
				t.Fatal("broker recorded no problem")
			}
		})
	}
}

// naiveConn sends every Write as its own websocket message: the framing
// trap. The broker double must catch it.
type naiveConn struct {
	net.Conn
	ws *websocket.Conn
	r  io.Reader
}

func (c *naiveConn) Write(p []byte) (int, error) {
	return len(p), c.ws.WriteMessage(websocket.BinaryMessage, p)
}

func (c *naiveConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			_, r, err := c.ws.NextReader()
			if err != nil {
				return 0, err
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if err == io.EOF {
			c.r = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (c *naiveConn) Close() error { return c.ws.Close() }

func TestBrokerCatchesSplitPackets(t *testing.T) {
	b := qqtest.NewMQTTBroker()
	defer b.Close()
	cfg := testMQTTConfig(t, b, "QR5")
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}, TLSClientConfig: cfg.TLS}
	ws, _, err := d.Dial(cfg.URL, cfg.Header)
	if err != nil {
		t.Fatal(err)
	}
	conn := &naiveConn{Conn: ws.UnderlyingConn(), ws: ws}
	cl := paho.NewClient(paho.ClientConfig{Conn: conn, PacketTimeout: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = cl.Connect(ctx, &paho.Connect{ClientID: "x", CleanStart: true, KeepAlive: 45,
		Properties: &paho.ConnectProperties{AuthMethod: "pass", User: cfg.ConnectUser, RequestProblemInfo: true}})
	if err == nil {
		t.Fatal("a client that splits packets across websocket messages connected")
	}
	p := b.Problems()
	if len(p) == 0 || !strings.Contains(strings.Join(p, " "), "split") {
		t.Fatalf("problems %q, want a split packet", p)
	}
}
