package qqtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"

	"github.com/gorilla/websocket"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// MQTTBroker is an in-process MQTT 5 broker behind a TLS websocket
// listener, standing in for wss://mu.y.qq.com/ws/handshake, the push
// service of the mobile-app QR login.
//
// Its hook checks what the real service needs: the handshake path, the
// Origin, Referer and User-Agent headers and the mqtt subprotocol; the
// CONNECT authentication method and user properties; the SUBSCRIBE topic
// and user properties. A request that fails a check is refused (HTTP 403,
// CONNACK or SUBACK 0x87 with the reason) and recorded in Problems. The
// test drives the login with Scan, Cancel, Timeout, SendCookies,
// LoginFailed, Drop and RedirectNext.
type MQTTBroker struct {
	srv *mqtt.Server
	hs  *httptest.Server

	mu         sync.Mutex
	handshakes map[string]mqttHandshake // remote addr -> handshake
	connects   []MQTTConnect
	subscribes []MQTTSubscribe
	problems   []string
	redirects  []mqttRedirect
	byQR       map[string]string // qr id -> client id of its subscriber
	subCount   map[string]int    // qr id -> good subscriptions so far
	subChanged chan struct{}     // closed and replaced on each good subscription
	refuseAll  bool
}

type mqttHandshake struct {
	path   string
	header http.Header
}

type mqttRedirect struct {
	code packets.Code
	ref  string
}

// MQTTConnect is what the broker saw of one CONNECT.
type MQTTConnect struct {
	Path       string // websocket handshake path
	Header     http.Header
	ClientID   string
	KeepAlive  uint16
	Clean      bool
	AuthMethod string
	User       map[string]string
	Accepted   bool
}

// MQTTSubscribe is what the broker saw of one SUBSCRIBE.
type MQTTSubscribe struct {
	ClientID string
	Topics   []string
	User     map[string]string
}

// HandshakePath is the path the real service listens on.
const HandshakePath = "/ws/handshake"

// NewMQTTBroker starts the broker. Close it when done.
func NewMQTTBroker() *MQTTBroker {
	b := &MQTTBroker{
		handshakes: map[string]mqttHandshake{},
		byQR:       map[string]string{},
		subCount:   map[string]int{},
		subChanged: make(chan struct{}),
	}
	b.srv = mqtt.New(&mqtt.Options{
		InlineClient: true,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err := b.srv.AddHook(&brokerHook{b: b}, nil); err != nil {
		panic("qqtest: add broker hook: " + err.Error())
	}
	if err := b.srv.Serve(); err != nil {
		panic("qqtest: start broker: " + err.Error())
	}
	b.hs = httptest.NewTLSServer(b)
	return b
}

// URL is the broker's https base URL (an https base means wss).
func (b *MQTTBroker) URL() string { return b.hs.URL }

// Endpoints maps mu.y.qq.com to the broker, in the form qq.Endpoints takes.
func (b *MQTTBroker) Endpoints() map[string]string {
	return map[string]string{"mu.y.qq.com": b.hs.URL}
}

// HTTPClient returns a client that trusts the broker's certificate (the
// same test certificate every httptest TLS server uses).
func (b *MQTTBroker) HTTPClient() *http.Client { return b.hs.Client() }

// Close disconnects every client and stops the broker.
func (b *MQTTBroker) Close() {
	for _, cl := range b.srv.Clients.GetAll() {
		if !cl.Net.Inline {
			cl.Stop(errors.New("broker closing"))
		}
	}
	b.hs.CloseClientConnections()
	b.hs.Close()
	_ = b.srv.Close()
}

// RedirectNext makes the next CONNECT answer CONNACK 0x9D (server moved)
// with ServerReference ref. Calls queue up.
func (b *MQTTBroker) RedirectNext(ref string) {
	b.redirectNext(packets.ErrServerMoved, ref)
}

// UseAnotherServerNext is RedirectNext with reason 0x9C (use another server).
func (b *MQTTBroker) UseAnotherServerNext(ref string) {
	b.redirectNext(packets.ErrUseAnotherServer, ref)
}

func (b *MQTTBroker) redirectNext(code packets.Code, ref string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.redirects = append(b.redirects, mqttRedirect{code: code, ref: ref})
}

// RefuseConnections makes the broker refuse every websocket handshake with
// HTTP 503, as an unreachable service would.
func (b *MQTTBroker) RefuseConnections(refuse bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refuseAll = refuse
}

// Connects returns every CONNECT seen so far.
func (b *MQTTBroker) Connects() []MQTTConnect {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]MQTTConnect(nil), b.connects...)
}

// Subscribes returns every SUBSCRIBE seen so far.
func (b *MQTTBroker) Subscribes() []MQTTSubscribe {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]MQTTSubscribe(nil), b.subscribes...)
}

// Problems returns every check that failed (empty when the client behaved).
func (b *MQTTBroker) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

func (b *MQTTBroker) problem(format string, args ...any) string {
	p := fmt.Sprintf(format, args...)
	b.mu.Lock()
	b.problems = append(b.problems, p)
	b.mu.Unlock()
	return p
}

// WaitSubscribed blocks until a client has subscribed, with the right
// properties, to the login topic of qrID.
func (b *MQTTBroker) WaitSubscribed(ctx context.Context, qrID string) error {
	return b.WaitSubscriptions(ctx, qrID, 1)
}

// WaitSubscriptions blocks until n good subscriptions to the login topic
// of qrID were made (a client that reconnects subscribes again).
func (b *MQTTBroker) WaitSubscriptions(ctx context.Context, qrID string, n int) error {
	for {
		b.mu.Lock()
		got, ch := b.subCount[qrID], b.subChanged
		b.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("qqtest: %d of %d subscriptions to the login topic of %q: %w (problems: %v)", got, n, qrID, ctx.Err(), b.Problems())
		}
	}
}

// Scan publishes a "scanned" event for qrID.
func (b *MQTTBroker) Scan(qrID string) error { return b.Publish(qrID, "scanned", []byte(`{}`)) }

// Cancel publishes a "canceled" event (the user refused on the phone).
func (b *MQTTBroker) Cancel(qrID string) error { return b.Publish(qrID, "canceled", []byte(`{}`)) }

// Timeout publishes a "timeout" event (the QR code expired).
func (b *MQTTBroker) Timeout(qrID string) error { return b.Publish(qrID, "timeout", []byte(`{}`)) }

// LoginFailed publishes a "loginFailed" event with a message.
func (b *MQTTBroker) LoginFailed(qrID, msg string) error {
	return b.Publish(qrID, "loginFailed", fmt.Appendf(nil, `{"msg":%q}`, msg))
}

// SendCookies publishes the "cookies" event that confirms the login.
func (b *MQTTBroker) SendCookies(qrID string, musicid int64, token string) error {
	payload := fmt.Appendf(nil, `{"cookies":{"qqmusic_uin":{"value":"%d"},"qqmusic_key":{"value":%q}}}`, musicid, token)
	return b.Publish(qrID, "cookies", payload)
}

// Publish sends a PUBLISH with user property type=typ on the login topic
// of qrID to its subscriber.
func (b *MQTTBroker) Publish(qrID, typ string, payload []byte) error {
	cl, err := b.subscriber(qrID)
	if err != nil {
		return err
	}
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish},
		TopicName:   LoginTopic(qrID),
		Payload:     payload,
		Properties: packets.Properties{
			User: []packets.UserProperty{{Key: "type", Val: typ}},
		},
	}
	if err := cl.WritePacket(pk); err != nil {
		return fmt.Errorf("qqtest: publish %s to %s: %w", typ, qrID, err)
	}
	return nil
}

// Drop closes the subscriber's connection abruptly, without DISCONNECT.
func (b *MQTTBroker) Drop(qrID string) error {
	cl, err := b.subscriber(qrID)
	if err != nil {
		return err
	}
	cl.Stop(errors.New("dropped by test"))
	return nil
}

// Disconnect sends DISCONNECT with the given reason code to the subscriber.
func (b *MQTTBroker) Disconnect(qrID string, code byte) error {
	cl, err := b.subscriber(qrID)
	if err != nil {
		return err
	}
	_ = b.srv.DisconnectClient(cl, packets.Code{Code: code, Reason: "disconnected by test"})
	return nil
}

func (b *MQTTBroker) subscriber(qrID string) (*mqtt.Client, error) {
	b.mu.Lock()
	id, ok := b.byQR[qrID]
	b.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("qqtest: no subscriber for QR %q", qrID)
	}
	cl, ok := b.srv.Clients.Get(id)
	if !ok || cl.Closed() {
		return nil, fmt.Errorf("qqtest: subscriber of QR %q is gone", qrID)
	}
	return cl, nil
}

// LoginTopic is the topic the mobile QR login subscribes to.
func LoginTopic(qrID string) string { return "management.qrcode_login/" + qrID }

var wsUpgrader = websocket.Upgrader{
	Subprotocols: []string{"mqtt"},
	CheckOrigin:  func(*http.Request) bool { return true },
}

// ServeHTTP upgrades a handshake and hands the connection to the broker, so
// the broker can be mounted on another server (AttachLogin does).
func (b *MQTTBroker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	refuse := b.refuseAll
	b.mu.Unlock()
	if refuse {
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	}
	var bad []string
	if r.URL.Path != HandshakePath && !strings.HasPrefix(r.URL.Path, HandshakePath+"/") {
		bad = append(bad, fmt.Sprintf("handshake path %q, want %s[/<node>]", r.URL.Path, HandshakePath))
	}
	if got := r.Header.Get("Origin"); got != "https://y.qq.com" {
		bad = append(bad, fmt.Sprintf("Origin %q, want https://y.qq.com", got))
	}
	if got := r.Header.Get("Referer"); got != "https://y.qq.com/" {
		bad = append(bad, fmt.Sprintf("Referer %q, want https://y.qq.com/", got))
	}
	if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "Mozilla/5.0") || !strings.Contains(ua, "Chrome/") {
		bad = append(bad, fmt.Sprintf("User-Agent %q, want a desktop Chrome one", ua))
	}
	if !slices.Contains(websocket.Subprotocols(r), "mqtt") {
		bad = append(bad, "websocket subprotocol mqtt not offered")
	}
	if len(bad) > 0 {
		http.Error(w, b.problem("handshake: %s", strings.Join(bad, "; ")), http.StatusForbidden)
		return
	}
	ws, err := wsUpgrader.Upgrade(w, r, nil)
	if err != nil {
		b.problem("handshake: upgrade: %v", err)
		return
	}
	ws.SetReadLimit(1 << 20)
	conn := &brokerConn{ws: ws, b: b}
	b.mu.Lock()
	b.handshakes[conn.RemoteAddr().String()] = mqttHandshake{path: r.URL.Path, header: r.Header.Clone()}
	b.mu.Unlock()
	_ = b.srv.EstablishConnection("ws", conn)
}
