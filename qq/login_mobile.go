package qq

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// desktopUserAgent is what the QQ Music web page's browser sends to the
// login push service.
const desktopUserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36"

// mobileQRCode is CreateQRCode's data.
type mobileQRCode struct {
	QRCode   string `json:"qrcode"`
	QRCodeID string `json:"qrcodeID"`
}

func (c *Client) startMobileLogin(ctx context.Context, cfg qrConfig) (*qrFlow, error) {
	data, err := c.Call(ctx, Request{
		Module: loginModule, Method: "CreateQRCode",
		Param:      Object{{"tmeAppID", "qqmusic"}, {"ct", AndroidCT}, {"cv", AndroidCV}},
		Comm:       Object{{"ct", 23}, {"cv", 0}},
		Credential: &Credential{},
	})
	if err != nil {
		return nil, loginCallError("CreateQRCode", err)
	}
	var qr mobileQRCode
	if err := json.Unmarshal(data, &qr); err != nil {
		return nil, protocolError("CreateQRCode", "the answer does not decode: %v", err)
	}
	if qr.QRCode == "" || qr.QRCodeID == "" {
		return nil, protocolError("CreateQRCode", "the answer lacks qrcode or qrcodeID")
	}
	img, mime, err := decodeDataURL(qr.QRCode)
	if err != nil {
		return nil, protocolError("CreateQRCode", "%v", err)
	}

	wsURL, err := wsURLFromHTTP(c.URL("https://mu.y.qq.com/ws/handshake"))
	if err != nil {
		return nil, err
	}
	header := http.Header{}
	header.Set("Origin", "https://y.qq.com")
	header.Set("Referer", "https://y.qq.com/")
	header.Set("User-Agent", desktopUserAgent)
	id := qr.QRCodeID
	mcfg := mqttConfig{
		URL:        wsURL,
		Header:     header,
		TLS:        c.tlsConfig(),
		ClientID:   mqttClientID(),
		KeepAlive:  cfg.keepAlive,
		AuthMethod: "pass",
		ConnectUser: paho.UserProperties{
			{Key: "tmeAppID", Value: "qqmusic"},
			{Key: "business", Value: "management"},
			{Key: "hashTag", Value: id},
			{Key: "clientTag", Value: "management.user"},
			{Key: "userID", Value: id},
		},
		Topic: "management.qrcode_login/" + id,
		SubscribeUser: paho.UserProperties{
			{Key: "authorization", Value: "tmelogin"},
			{Key: "pubsub", Value: "unicast"},
		},
		MaxRedirects:  cfg.maxRedirects,
		PacketTimeout: cfg.packetTimeout,
	}
	sess, err := openMQTT(ctx, mcfg)
	if err != nil {
		return nil, fmt.Errorf("qq: mobile login: %w", err)
	}
	m := &mobileWatch{c: c, cfg: mcfg, id: id, sess: sess, reconnects: cfg.mqttReconnects}
	return &qrFlow{
		image: img,
		mime:  mime,
		wait:  m.wait,
		close: m.close,
	}, nil
}

// mobileWatch follows the push events of one mobile QR code, reconnecting
// when the connection drops while the code is still valid.
type mobileWatch struct {
	c          *Client
	cfg        mqttConfig
	id         string
	reconnects int

	mu   sync.Mutex
	sess *mqttSession
}

func (m *mobileWatch) session() *mqttSession {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sess
}

func (m *mobileWatch) close() {
	if s := m.session(); s != nil {
		s.Close()
	}
}

func (m *mobileWatch) wait(e *emitter) {
	for {
		sess := m.session()
		if !m.c.waitMobile(e, sess, m.id) {
			return
		}
		// The connection dropped before a verdict.
		cause := sess.Err()
		sess.Close()
		if m.reconnects <= 0 {
			e.fail(fmt.Errorf("qq: mobile login: %w (%v); start the login again", ErrMQTTConnectionLost, cause))
			return
		}
		m.reconnects--
		m.c.log.Warn("qq: mobile login push connection lost; reconnecting", "error", cause)
		m.cfg.ClientID = mqttClientID()
		next, err := openMQTT(e.lctx, m.cfg)
		if err != nil {
			e.fail(fmt.Errorf("qq: mobile login: %w (%v), and reconnecting failed: %w", ErrMQTTConnectionLost, cause, err))
			return
		}
		m.mu.Lock()
		m.sess = next
		m.mu.Unlock()
	}
}

func mqttClientID() string {
	return fmt.Sprintf("%d%04d", time.Now().UnixMilli(), 1000+rand.IntN(9000))
}

// tlsConfig is the TLS configuration of the client's HTTP transport, so the
// websocket trusts what HTTP requests trust.
func (c *Client) tlsConfig() *tls.Config {
	if t, ok := c.HTTPClient().Transport.(*http.Transport); ok && t.TLSClientConfig != nil {
		return t.TLSClientConfig.Clone()
	}
	return nil
}

// decodeDataURL decodes "data:image/png;base64,...". A bare base64 string
// is taken as PNG.
func decodeDataURL(s string) ([]byte, string, error) {
	mime := "image/png"
	payload := s
	if strings.HasPrefix(s, "data:") {
		head, rest, ok := strings.Cut(s, ",")
		if !ok {
			return nil, "", fmt.Errorf("the QR data URL has no comma")
		}
		payload = rest
		head = strings.TrimPrefix(head, "data:")
		if m, _, _ := strings.Cut(head, ";"); strings.HasPrefix(m, "image/") {
			mime = m
		}
	}
	img, err := base64.StdEncoding.DecodeString(strings.TrimSpace(payload))
	if err != nil {
		return nil, "", fmt.Errorf("the QR image is not base64: %v", err)
	}
	if len(img) == 0 {
		return nil, "", fmt.Errorf("empty QR image")
	}
	return img, mime, nil
}

// mobileCookies is the payload of the "cookies" event.
type mobileCookies struct {
	Cookies struct {
		UIN struct {
			Value FlexString `json:"value"`
		} `json:"qqmusic_uin"`
		Key struct {
			Value FlexString `json:"value"`
		} `json:"qqmusic_key"`
	} `json:"cookies"`
}

// waitMobile handles the events of one connection. It returns true when
// the connection dropped before a verdict (false: the login is over).
func (c *Client) waitMobile(e *emitter, sess *mqttSession, id string) bool {
	ctx := e.lctx
	for {
		select {
		case <-ctx.Done():
			return false
		case <-sess.lost:
			select {
			case m := <-sess.msgs: // a message that came just before the end
				if c.handleMobile(e, m, id) {
					return false
				}
				continue
			default:
			}
			return ctx.Err() == nil
		case m := <-sess.msgs:
			if c.handleMobile(e, m, id) {
				return false
			}
		}
	}
}

// handleMobile handles one login event; true means the login is over.
func (c *Client) handleMobile(e *emitter, m mqttMessage, id string) bool {
	switch m.Type {
	case "scanned":
		return !e.state(LoginScanned)
	case "canceled":
		e.state(LoginRefused)
		return true
	case "timeout":
		e.state(LoginExpired)
		return true
	case "loginFailed":
		e.fail(&LoginError{Step: "mobile QR", Kind: ErrLoginRejected, Msg: "the app reported loginFailed"})
		return true
	case "cookies":
	default:
		return false // unknown event types are ignored
	}
	var p mobileCookies
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		e.fail(protocolError("mobile QR", "the cookies event does not decode: %v", err))
		return true
	}
	uin, key := string(p.Cookies.UIN.Value), string(p.Cookies.Key.Value)
	musicid, err := parseUIN(uin)
	if err != nil || key == "" {
		e.fail(protocolError("mobile QR", "the cookies event lacks qqmusic_uin or qqmusic_key"))
		return true
	}
	if !e.state(LoginConfirmed) {
		return true
	}
	cred, err := c.callLogin(e.lctx, loginModule, "Login",
		Object{{"musicid", musicid}, {"qrCodeID", id}, {"token", key}}, Object{{"tmeLoginType", LoginTypeMobile}})
	if err != nil {
		e.fail(err)
		return true
	}
	e.done(cred)
	return true
}

// parseUIN reads a uin, tolerating the "o0123" form of QQ cookies.
func parseUIN(s string) (int64, error) {
	s = strings.TrimLeft(strings.TrimSpace(s), "o")
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil || n <= 0 {
		return 0, fmt.Errorf("bad uin")
	}
	return n, nil
}
