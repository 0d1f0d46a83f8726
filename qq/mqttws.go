package qq

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/gorilla/websocket"
)

// wsConn adapts a gorilla websocket connection to the net.Conn that
// paho.Client wants, with MQTT framing: one binary websocket message per
// MQTT control packet.
//
// paho writes a packet with several Write calls (some of them empty) and
// holds the conn's sync.Locker around them, so wsConn implements Lock and
// Unlock: Write appends to a buffer while the lock is held and Unlock sends
// the whole buffer as one message. Reads stream across message boundaries,
// since a broker may split or batch packets however it likes. Deadlines go
// to the underlying network connection: gorilla's own deadline setters race
// with concurrent writes.
type wsConn struct {
	ws *websocket.Conn

	wmu  sync.Mutex   // held from Lock to Unlock
	wbuf bytes.Buffer // guarded by wmu
	werr error        // first write failure; guarded by wmu

	rmu sync.Mutex // serialises Read
	r   io.Reader  // current message being read; guarded by rmu

	closeOnce sync.Once
}

// maxMQTTMessage bounds one websocket message from the broker. Login events
// are a few hundred bytes; anything near this is hostile or broken.
const maxMQTTMessage = 1 << 20

func newWSConn(ws *websocket.Conn) *wsConn {
	ws.SetReadLimit(maxMQTTMessage)
	return &wsConn{ws: ws}
}

// Lock starts a packet: Writes until Unlock are buffered.
func (c *wsConn) Lock() { c.wmu.Lock() }

// Unlock sends the buffered packet as one binary message and releases the
// write lock. A send failure closes the connection, so paho notices it on
// its next read or write.
func (c *wsConn) Unlock() {
	if c.wbuf.Len() > 0 && c.werr == nil {
		if err := c.ws.WriteMessage(websocket.BinaryMessage, c.wbuf.Bytes()); err != nil {
			c.werr = err
			_ = c.ws.UnderlyingConn().Close()
		}
	}
	c.wbuf.Reset()
	c.wmu.Unlock()
}

// Write buffers p when the caller holds the lock (paho always does). A
// Write made without the lock is sent at once as its own message.
func (c *wsConn) Write(p []byte) (int, error) {
	if c.wmu.TryLock() {
		// Nobody holds the lock: a stand-alone write.
		defer c.Unlock()
	}
	if c.werr != nil {
		return 0, c.werr
	}
	return c.wbuf.Write(p)
}

// Read reads the next bytes of the broker's stream, moving on to the next
// websocket message when the current one is used up.
func (c *wsConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if c.r == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					return 0, io.EOF
				}
				return 0, err
			}
			if typ != websocket.BinaryMessage {
				return 0, fmt.Errorf("qq: MQTT broker sent a websocket message of type %d, want binary", typ)
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

// Close sends a websocket close frame (best effort) and closes the network
// connection.
func (c *wsConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		err = c.ws.UnderlyingConn().Close()
	})
	return err
}

func (c *wsConn) LocalAddr() net.Addr               { return c.ws.UnderlyingConn().LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr              { return c.ws.UnderlyingConn().RemoteAddr() }
func (c *wsConn) SetDeadline(t time.Time) error     { return c.ws.UnderlyingConn().SetDeadline(t) }
func (c *wsConn) SetReadDeadline(t time.Time) error { return c.ws.UnderlyingConn().SetReadDeadline(t) }
func (c *wsConn) SetWriteDeadline(t time.Time) error {
	return c.ws.UnderlyingConn().SetWriteDeadline(t)
}

// dialMQTTWS opens a websocket with the "mqtt" subprotocol.
func dialMQTTWS(ctx context.Context, rawURL string, header http.Header, tlsConf *tls.Config) (*wsConn, error) {
	d := websocket.Dialer{
		Subprotocols:     []string{"mqtt"},
		TLSClientConfig:  tlsConf,
		HandshakeTimeout: 15 * time.Second,
		Proxy:            http.ProxyFromEnvironment,
	}
	ws, resp, err := d.DialContext(ctx, rawURL, header)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("websocket handshake with %s refused with HTTP %d: %w", redactURL(rawURL), resp.StatusCode, err)
		}
		return nil, fmt.Errorf("websocket dial %s: %w", redactURL(rawURL), err)
	}
	if ws.Subprotocol() != "mqtt" {
		_ = ws.Close()
		return nil, fmt.Errorf("websocket %s did not accept the mqtt subprotocol (got %q)", redactURL(rawURL), ws.Subprotocol())
	}
	return newWSConn(ws), nil
}

// redactURL drops the query string, which never matters in an error.
func redactURL(raw string) string {
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		return raw[:i]
	}
	return raw
}

// wsURLFromHTTP turns an http(s) base into the matching ws(s) URL.
func wsURLFromHTTP(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "https", "wss":
		u.Scheme = "wss"
	case "http", "ws":
		u.Scheme = "ws"
	default:
		return "", fmt.Errorf("qq: unsupported scheme %q for the login push endpoint", u.Scheme)
	}
	return u.String(), nil
}

// redirectPath applies a CONNACK ServerReference to a handshake path: the
// last segment is replaced when it already names a node (contains ':'),
// otherwise the reference is appended.
func redirectPath(path, ref string) string {
	path = strings.TrimRight(path, "/")
	i := strings.LastIndexByte(path, '/')
	if i >= 0 && strings.Contains(path[i+1:], ":") {
		return path[:i+1] + ref
	}
	return path + "/" + ref
}

// ErrMQTTRedirects means the login push service kept redirecting.
var ErrMQTTRedirects = errors.New("qq: login push service redirected too many times")

// ErrMQTTConnectionLost means the login push connection closed before the
// login finished. The QR code may still be valid, but a new login is the
// safe way on.
var ErrMQTTConnectionLost = errors.New("qq: login push connection lost")

// mqttConfig describes one MQTT 5 subscription over a websocket.
type mqttConfig struct {
	URL           string // ws(s)://host/path
	Header        http.Header
	TLS           *tls.Config
	ClientID      string
	KeepAlive     uint16
	AuthMethod    string
	ConnectUser   paho.UserProperties
	Topic         string
	SubscribeUser paho.UserProperties
	MaxRedirects  int
	PacketTimeout time.Duration
}

// mqttMessage is one PUBLISH received on the subscription.
type mqttMessage struct {
	Type    string // the "type" user property
	Topic   string
	Payload []byte
}

// mqttSession is a connected and subscribed MQTT client.
type mqttSession struct {
	client *paho.Client
	msgs   chan mqttMessage
	lost   chan struct{} // closed when the connection ends
	stop   chan struct{} // closed by Close

	mu      sync.Mutex
	lostErr error
	once    sync.Once
	stopped sync.Once
}

// noAuth satisfies paho.Auther: the service echoes AuthMethod in CONNACK
// and paho calls the handler then (it panics without one).
type noAuth struct{}

func (noAuth) Authenticate(a *paho.Auth) *paho.Auth { return &paho.Auth{ReasonCode: 0} }
func (noAuth) Authenticated()                       {}

func (s *mqttSession) fail(err error) {
	s.once.Do(func() {
		s.mu.Lock()
		s.lostErr = err
		s.mu.Unlock()
		close(s.lost)
	})
}

// Err returns why the connection ended (nil while it is up).
func (s *mqttSession) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lostErr
}

// Close disconnects politely and waits for the client to stop.
func (s *mqttSession) Close() {
	s.stopped.Do(func() {
		close(s.stop)
		_ = s.client.Disconnect(&paho.Disconnect{ReasonCode: 0})
		s.fail(errors.New("closed"))
	})
}

// openMQTT dials, connects (following at most cfg.MaxRedirects redirects)
// and subscribes.
func openMQTT(ctx context.Context, cfg mqttConfig) (*mqttSession, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("qq: bad login push URL: %w", err)
	}
	if cfg.PacketTimeout <= 0 {
		cfg.PacketTimeout = 15 * time.Second
	}
	for redirects := 0; ; redirects++ {
		s, ref, err := connectMQTTOnce(ctx, cfg, u.String())
		if err != nil {
			return nil, err
		}
		if s != nil {
			return s, nil
		}
		if redirects >= cfg.MaxRedirects {
			return nil, fmt.Errorf("%w (%d redirects, last to %q)", ErrMQTTRedirects, redirects, ref)
		}
		u.Path = redirectPath(u.Path, ref)
		u.RawPath = ""
	}
}

// connectMQTTOnce makes one attempt. It returns either a session, or a
// redirect reference (with a nil session), or an error.
func connectMQTTOnce(ctx context.Context, cfg mqttConfig, rawURL string) (*mqttSession, string, error) {
	conn, err := dialMQTTWS(ctx, rawURL, cfg.Header, cfg.TLS)
	if err != nil {
		return nil, "", fmt.Errorf("qq: connect to login push service: %w", err)
	}
	s := &mqttSession{
		msgs: make(chan mqttMessage, 16),
		lost: make(chan struct{}),
		stop: make(chan struct{}),
	}
	s.client = paho.NewClient(paho.ClientConfig{
		ClientID:      cfg.ClientID,
		Conn:          conn,
		AuthHandler:   noAuth{},
		PacketTimeout: cfg.PacketTimeout,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) {
				m := mqttMessage{Topic: pr.Packet.Topic, Payload: pr.Packet.Payload}
				if pr.Packet.Properties != nil {
					m.Type = pr.Packet.Properties.User.Get("type")
				}
				select {
				case s.msgs <- m:
				case <-s.stop:
				}
				return true, nil
			},
		},
		OnClientError: func(err error) { s.fail(err) },
		OnServerDisconnect: func(d *paho.Disconnect) {
			reason := ""
			if d.Properties != nil {
				reason = d.Properties.ReasonString
			}
			s.fail(fmt.Errorf("server sent DISCONNECT 0x%02X %s", d.ReasonCode, reason))
		},
	})

	cp := &paho.Connect{
		ClientID:   cfg.ClientID,
		KeepAlive:  cfg.KeepAlive,
		CleanStart: true,
		Properties: &paho.ConnectProperties{
			AuthMethod:         cfg.AuthMethod,
			User:               cfg.ConnectUser,
			RequestProblemInfo: true,
		},
	}
	ca, err := s.client.Connect(ctx, cp)
	if err != nil {
		if ca != nil && (ca.ReasonCode == 0x9C || ca.ReasonCode == 0x9D) &&
			ca.Properties != nil && ca.Properties.ServerReference != "" {
			return nil, ca.Properties.ServerReference, nil
		}
		if ca != nil {
			reason := ""
			if ca.Properties != nil {
				reason = ca.Properties.ReasonString
			}
			return nil, "", fmt.Errorf("qq: login push service refused the connection: CONNACK 0x%02X %s", ca.ReasonCode, reason)
		}
		_ = conn.Close()
		return nil, "", fmt.Errorf("qq: MQTT connect to login push service: %w", err)
	}
	go func() {
		<-s.client.Done()
		s.fail(ErrMQTTConnectionLost)
	}()

	sa, err := s.client.Subscribe(ctx, &paho.Subscribe{
		Properties:    &paho.SubscribeProperties{User: cfg.SubscribeUser},
		Subscriptions: []paho.SubscribeOptions{{Topic: cfg.Topic, QoS: 0}},
	})
	if sa != nil {
		for _, r := range sa.Reasons {
			if r >= 0x80 {
				s.Close()
				return nil, "", fmt.Errorf("qq: login push service refused the subscription: SUBACK 0x%02X", r)
			}
		}
	}
	if err != nil {
		s.Close()
		return nil, "", fmt.Errorf("qq: subscribe to login events: %w", err)
	}
	return s, "", nil
}
