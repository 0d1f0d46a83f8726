package qqtest

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// brokerHook is the mochi hook with the service's checks.
type brokerHook struct {
	mqtt.HookBase
	b *MQTTBroker
}

func (h *brokerHook) ID() string { return "qqtest-login-push" }

func (h *brokerHook) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnSubscribe:
		return true
	}
	return false
}

func (h *brokerHook) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

func userMap(ups []packets.UserProperty) map[string]string {
	m := make(map[string]string, len(ups))
	for _, u := range ups {
		m[u.Key] = u.Val
	}
	return m
}

func (h *brokerHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	b := h.b
	b.mu.Lock()
	hs := b.handshakes[cl.Net.Remote]
	delete(b.handshakes, cl.Net.Remote)
	rec := MQTTConnect{
		Path:       hs.path,
		Header:     hs.header,
		ClientID:   pk.Connect.ClientIdentifier,
		KeepAlive:  pk.Connect.Keepalive,
		Clean:      pk.Connect.Clean,
		AuthMethod: pk.Properties.AuthenticationMethod,
		User:       userMap(pk.Properties.User),
	}
	var redirect *mqttRedirect
	if len(b.redirects) > 0 {
		redirect = &b.redirects[0]
		b.redirects = b.redirects[1:]
	}
	b.mu.Unlock()

	var bad []string
	if pk.ProtocolVersion != 5 {
		bad = append(bad, fmt.Sprintf("protocol version %d, want 5", pk.ProtocolVersion))
	}
	if rec.AuthMethod != "pass" {
		bad = append(bad, fmt.Sprintf("authentication method %q, want pass", rec.AuthMethod))
	}
	want := map[string]string{"tmeAppID": "qqmusic", "business": "management", "clientTag": "management.user"}
	for k, v := range want {
		if rec.User[k] != v {
			bad = append(bad, fmt.Sprintf("user property %s=%q, want %q", k, rec.User[k], v))
		}
	}
	if rec.User["hashTag"] == "" || rec.User["hashTag"] != rec.User["userID"] {
		bad = append(bad, fmt.Sprintf("user properties hashTag=%q userID=%q, want both the QR id", rec.User["hashTag"], rec.User["userID"]))
	}
	if !rec.Clean {
		bad = append(bad, "clean start not set")
	}
	if rec.ClientID == "" {
		bad = append(bad, "empty client id")
	}

	if redirect != nil {
		b.mu.Lock()
		b.connects = append(b.connects, rec)
		b.mu.Unlock()
		_ = b.srv.SendConnack(cl, redirect.code, false, &packets.Properties{ServerReference: redirect.ref})
		return redirect.code
	}
	if len(bad) > 0 {
		reason := b.problem("CONNECT: %s", strings.Join(bad, "; "))
		b.mu.Lock()
		b.connects = append(b.connects, rec)
		b.mu.Unlock()
		_ = b.srv.SendConnack(cl, packets.ErrNotAuthorized, false, &packets.Properties{ReasonString: reason})
		return packets.ErrNotAuthorized
	}
	rec.Accepted = true
	b.mu.Lock()
	b.connects = append(b.connects, rec)
	b.mu.Unlock()
	return nil
}

// OnSubscribe checks the SUBSCRIBE; a bad one has its filters rewritten to
// an invalid filter so that the SUBACK carries a failure code.
func (h *brokerHook) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	b := h.b
	rec := MQTTSubscribe{ClientID: cl.ID, User: userMap(pk.Properties.User)}
	for _, f := range pk.Filters {
		rec.Topics = append(rec.Topics, f.Filter)
	}
	var bad []string
	if rec.User["authorization"] != "tmelogin" {
		bad = append(bad, fmt.Sprintf("user property authorization=%q, want tmelogin", rec.User["authorization"]))
	}
	if rec.User["pubsub"] != "unicast" {
		bad = append(bad, fmt.Sprintf("user property pubsub=%q, want unicast", rec.User["pubsub"]))
	}
	qrID := cl.Properties.Props.User
	id := userMap(qrID)["hashTag"]
	if len(rec.Topics) != 1 || rec.Topics[0] != LoginTopic(id) {
		bad = append(bad, fmt.Sprintf("topics %q, want [%s]", rec.Topics, LoginTopic(id)))
	}
	b.mu.Lock()
	b.subscribes = append(b.subscribes, rec)
	b.mu.Unlock()
	if len(bad) > 0 {
		b.problem("SUBSCRIBE: %s", strings.Join(bad, "; "))
		for i := range pk.Filters {
			pk.Filters[i].Filter = "#/bad" // invalid filter: SUBACK 0x8F
		}
		return pk
	}
	b.mu.Lock()
	b.byQR[id] = cl.ID
	b.subCount[id]++
	close(b.subChanged)
	b.subChanged = make(chan struct{})
	b.mu.Unlock()
	return pk
}

func (h *brokerHook) OnACLCheck(*mqtt.Client, string, bool) bool { return true }

// brokerConn adapts the broker side of a websocket to net.Conn. mochi
// writes whole packets (sometimes several) per Write, so each Write is one
// binary message. Each message the client sends must hold whole MQTT
// packets, as the real service wants: a message that splits a packet is
// recorded as a problem and ends the connection.
type brokerConn struct {
	ws  *websocket.Conn
	b   *MQTTBroker
	wmu sync.Mutex
	rmu sync.Mutex
	buf []byte // rest of the current message
}

func (c *brokerConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for len(c.buf) == 0 {
		typ, msg, err := c.ws.ReadMessage()
		if err != nil {
			return 0, err
		}
		if typ != websocket.BinaryMessage {
			c.b.problem("websocket: message of type %d, want binary", typ)
			return 0, errors.New("qqtest: non-binary websocket message")
		}
		if err := wholePackets(msg); err != nil {
			c.b.problem("websocket: %v", err)
			return 0, err
		}
		c.buf = msg
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

// wholePackets checks that msg is a sequence of complete MQTT packets.
func wholePackets(msg []byte) error {
	if len(msg) == 0 {
		return errors.New("empty websocket message (an MQTT packet split across messages)")
	}
	for len(msg) > 0 {
		if len(msg) < 2 {
			return fmt.Errorf("websocket message ends inside an MQTT fixed header")
		}
		n, mult, i := 0, 1, 1
		for ; ; i++ {
			if i >= len(msg) || i > 4 {
				return fmt.Errorf("websocket message ends inside an MQTT length")
			}
			n += int(msg[i]&0x7f) * mult
			mult *= 128
			if msg[i]&0x80 == 0 {
				break
			}
		}
		end := i + 1 + n
		if end > len(msg) {
			return fmt.Errorf("websocket message holds %d of the %d bytes of an MQTT packet (a packet split across messages)", len(msg), end)
		}
		msg = msg[end:]
	}
	return nil
}

func (c *brokerConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *brokerConn) Close() error                  { return c.ws.UnderlyingConn().Close() }
func (c *brokerConn) LocalAddr() net.Addr           { return c.ws.UnderlyingConn().LocalAddr() }
func (c *brokerConn) RemoteAddr() net.Addr          { return c.ws.UnderlyingConn().RemoteAddr() }
func (c *brokerConn) SetDeadline(t time.Time) error { return c.ws.UnderlyingConn().SetDeadline(t) }
func (c *brokerConn) SetReadDeadline(t time.Time) error {
	return c.ws.UnderlyingConn().SetReadDeadline(t)
}
func (c *brokerConn) SetWriteDeadline(t time.Time) error {
	return c.ws.UnderlyingConn().SetWriteDeadline(t)
}
