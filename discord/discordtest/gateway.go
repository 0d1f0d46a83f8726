package discordtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Gateway close codes the double uses.
const (
	CloseUnknownOpcode        = 4001
	CloseDecodeError          = 4002
	CloseNotAuthenticated     = 4003
	CloseAuthenticationFail   = 4004
	CloseAlreadyAuthenticated = 4005
	CloseDisallowedIntents    = 4014
)

const replayBuffer = 1000

type gateway struct {
	mu          sync.Mutex
	conns       map[*gwConn]struct{}
	sessions    map[string]*gwSession
	nextSession int
	hang        bool
	noAcks      bool
	closed      bool
	identifies  int
	resumes     int
	heartbeats  int
	total       int
	lastIntents int
	disallowed  int
	nextAnswer  int            // op to answer the next IDENTIFY with instead of READY
	delivered   map[string]int // dispatches written to a live connection, by event name
	wg          sync.WaitGroup
}

type gwConn struct {
	ws   *websocket.Conn
	wmu  sync.Mutex
	sess *gwSession // guarded by gateway.mu
}

type gwSession struct {
	id      string
	seq     int64
	intents int
	sent    []sentFrame
	conn    *gwConn
}

type sentFrame struct {
	seq   int64
	frame []byte
}

func (g *gateway) init() {
	g.conns = map[*gwConn]struct{}{}
	g.sessions = map[string]*gwSession{}
	g.delivered = map[string]int{}
}

func (c *gwConn) write(frame []byte, timeout time.Duration) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.UnderlyingConn().SetWriteDeadline(time.Now().Add(timeout))
	return c.ws.WriteMessage(websocket.TextMessage, frame)
}

func (c *gwConn) closeWith(code int, text string) {
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
	c.wmu.Unlock()
	_ = c.ws.Close()
}

// closeAll drops every connection and refuses new ones.
func (g *gateway) closeAll() {
	g.mu.Lock()
	g.closed = true
	conns := make([]*gwConn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	for _, c := range conns {
		_ = c.ws.UnderlyingConn().Close()
	}
}

func (g *gateway) wait() { g.wg.Wait() }

type gwPayload struct {
	Op int             `json:"op"`
	D  json.RawMessage `json:"d"`
	S  *int64          `json:"s,omitempty"`
	T  string          `json:"t,omitempty"`
}

func opFrame(op int, d any) []byte {
	b, _ := json.Marshal(map[string]any{"op": op, "d": d, "s": nil, "t": nil})
	return b
}

func (s *Server) serveGateway(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if enc := q.Get("encoding"); enc != "" && enc != "json" {
		http.Error(w, "discordtest: only encoding=json is supported", http.StatusBadRequest)
		return
	}
	if c := q.Get("compress"); c != "" {
		http.Error(w, "discordtest: transport compression ("+c+") is not supported", http.StatusBadRequest)
		return
	}
	s.gw.mu.Lock()
	if s.gw.closed {
		s.gw.mu.Unlock()
		http.Error(w, "closed", http.StatusServiceUnavailable)
		return
	}
	s.gw.wg.Add(1)
	s.gw.mu.Unlock()
	defer s.gw.wg.Done()

	ws, err := s.wsUp.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(1 << 16) // Discord's own limit is 4096 bytes per payload
	c := &gwConn{ws: ws}
	s.gw.mu.Lock()
	if s.gw.closed {
		s.gw.mu.Unlock()
		_ = ws.Close()
		return
	}
	s.gw.conns[c] = struct{}{}
	s.gw.total++
	hang := s.gw.hang
	s.gw.mu.Unlock()
	defer func() {
		s.gw.mu.Lock()
		delete(s.gw.conns, c)
		if c.sess != nil && c.sess.conn == c {
			c.sess.conn = nil
		}
		s.gw.mu.Unlock()
		_ = ws.Close()
	}()

	if hang {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}
	hello := opFrame(10, map[string]any{"heartbeat_interval": s.cfg.heartbeatInterval.Milliseconds()})
	if c.write(hello, s.cfg.writeTimeout) != nil {
		return
	}
	for {
		mt, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var p gwPayload
		if mt != websocket.TextMessage || json.Unmarshal(data, &p) != nil {
			c.closeWith(CloseDecodeError, "Error while decoding payload.")
			return
		}
		switch p.Op {
		case 1:
			s.gw.mu.Lock()
			s.gw.heartbeats++
			ack := !s.gw.noAcks
			s.gw.mu.Unlock()
			if ack {
				_ = c.write(opFrame(11, nil), s.cfg.writeTimeout)
			}
		case 2:
			if !s.identify(c, p.D) {
				return
			}
		case 6:
			if !s.resume(c, p.D) {
				return
			}
		case 3, 4:
			if !s.authed(c) {
				return
			}
		case 8:
			if !s.authed(c) {
				return
			}
			s.requestMembers(c, p.D)
		default:
			c.closeWith(CloseUnknownOpcode, "Unknown opcode.")
			return
		}
	}
}

func (s *Server) authed(c *gwConn) bool {
	s.gw.mu.Lock()
	ok := c.sess != nil
	s.gw.mu.Unlock()
	if !ok {
		c.closeWith(CloseNotAuthenticated, "Not authenticated.")
	}
	return ok
}

func (s *Server) tokenOK(tok string) bool {
	return strings.TrimPrefix(tok, "Bot ") == s.currentToken()
}

// sendLocked sends a dispatch on a session; callers hold s.gw.mu.
func (s *Server) sendLocked(sess *gwSession, event string, d []byte) {
	sess.seq++
	frame, _ := json.Marshal(gwPayload{Op: 0, D: d, S: &sess.seq, T: event})
	sess.sent = append(sess.sent, sentFrame{seq: sess.seq, frame: frame})
	if len(sess.sent) > replayBuffer {
		sess.sent = slices.Clone(sess.sent[len(sess.sent)-replayBuffer:])
	}
	if sess.conn != nil {
		s.gw.delivered[event]++
		if err := sess.conn.write(frame, s.cfg.writeTimeout); err != nil {
			_ = sess.conn.ws.UnderlyingConn().Close()
		}
	}
}

func (s *Server) identify(c *gwConn, d json.RawMessage) bool {
	var id struct {
		Token    string `json:"token"`
		Intents  *int   `json:"intents"`
		Compress bool   `json:"compress"`
	}
	if json.Unmarshal(d, &id) != nil {
		c.closeWith(CloseDecodeError, "Error while decoding payload.")
		return false
	}
	if !s.tokenOK(id.Token) {
		c.closeWith(CloseAuthenticationFail, "Authentication failed.")
		return false
	}
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	closeCode, closeText := 0, ""
	intents := 0
	if id.Intents != nil {
		intents = *id.Intents
	}
	switch {
	case c.sess != nil:
		closeCode, closeText = CloseAlreadyAuthenticated, "Already authenticated."
	case intents&s.gw.disallowed != 0:
		closeCode, closeText = CloseDisallowedIntents, "Disallowed intent(s)."
	}
	if closeCode != 0 {
		s.gw.mu.Unlock()
		c.closeWith(closeCode, closeText)
		s.gw.mu.Lock()
		return false
	}
	if op := s.gw.nextAnswer; op != 0 {
		s.gw.nextAnswer = 0
		var d any
		if op == 9 {
			d = false
		}
		_ = c.write(opFrame(op, d), s.cfg.writeTimeout)
		return true
	}
	s.gw.nextSession++
	sess := &gwSession{id: fmt.Sprintf("discordtest-session-%d", s.gw.nextSession), intents: intents, conn: c}
	s.gw.sessions[sess.id] = sess
	c.sess = sess
	s.gw.identifies++
	s.gw.lastIntents = intents

	s.mu.Lock()
	bot := *s.state.users[s.BotUserID]
	guild := s.guildJSONLocked(true)
	s.mu.Unlock()
	ready := map[string]any{
		"v":                  9,
		"user":               bot,
		"guilds":             []any{map[string]any{"id": s.GuildID, "unavailable": true}},
		"session_id":         sess.id,
		"resume_gateway_url": s.GatewayURL(),
		"shard":              []int{0, 1},
		"application":        map[string]any{"id": s.ApplicationID, "flags": 1 << 19},
		"private_channels":   []any{},
		"relationships":      []any{},
	}
	s.sendLocked(sess, "READY", mustJSON(ready))
	s.sendLocked(sess, "GUILD_CREATE", mustJSON(guild))
	return true
}

func (s *Server) resume(c *gwConn, d json.RawMessage) bool {
	var rs struct {
		Token     string `json:"token"`
		SessionID string `json:"session_id"`
		Seq       int64  `json:"seq"`
	}
	if json.Unmarshal(d, &rs) != nil {
		c.closeWith(CloseDecodeError, "Error while decoding payload.")
		return false
	}
	if !s.tokenOK(rs.Token) {
		c.closeWith(CloseAuthenticationFail, "Authentication failed.")
		return false
	}
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	sess := s.gw.sessions[rs.SessionID]
	if sess == nil || rs.Seq > sess.seq {
		_ = c.write(opFrame(9, false), s.cfg.writeTimeout)
		return true
	}
	if old := sess.conn; old != nil && old != c {
		old.sess = nil
		_ = old.ws.UnderlyingConn().Close()
	}
	sess.conn = c
	c.sess = sess
	s.gw.resumes++
	for _, f := range sess.sent {
		if f.seq > rs.Seq {
			if err := c.write(f.frame, s.cfg.writeTimeout); err != nil {
				return false
			}
		}
	}
	s.sendLocked(sess, "RESUMED", []byte(`{}`))
	return true
}

func (s *Server) requestMembers(c *gwConn, d json.RawMessage) {
	var rq struct {
		Nonce string `json:"nonce"`
	}
	_ = json.Unmarshal(d, &rq)
	s.mu.Lock()
	members := make([]*Member, 0, len(s.state.memberIDs))
	for _, id := range s.state.memberIDs {
		members = append(members, s.memberLocked(id))
	}
	s.mu.Unlock()
	chunk := mustJSON(map[string]any{"guild_id": s.GuildID, "members": members, "chunk_index": 0, "chunk_count": 1, "nonce": rq.Nonce})
	s.gw.mu.Lock()
	if c.sess != nil {
		s.sendLocked(c.sess, "GUILD_MEMBERS_CHUNK", chunk)
	}
	s.gw.mu.Unlock()
}

// dispatch sends an event to every identified session that asked for
// intent (0: always).
func (s *Server) dispatch(event string, intent int, payload any) {
	d := mustJSON(payload)
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	for _, sess := range s.gw.sessions {
		if sess.conn == nil || (intent != 0 && sess.intents&intent == 0) {
			continue
		}
		s.sendLocked(sess, event, d)
	}
}

// dispatchMessage sends MESSAGE_CREATE/UPDATE with the author's member
// (for members) and without content for sessions lacking the
// MESSAGE_CONTENT intent, as Discord does. Gateway sessions are the bot's:
// a message in a channel the bot cannot view is not sent to them.
func (s *Server) dispatchMessage(event string, m Message) {
	if m.Ephemeral {
		return
	}
	s.mu.Lock()
	member := s.memberLocked(m.Author.ID)
	visible := s.botCanLocked(s.state.channels[m.ChannelID], PermViewChannel)
	s.mu.Unlock()
	if !visible {
		return
	}
	if m.WebhookID != "" {
		member = nil
	}
	if member != nil {
		member.User = nil
	}
	full := messageEvent(m, member)
	mentionsBot := slices.ContainsFunc(m.Mentions, func(u User) bool { return u.ID == s.BotUserID })
	var redacted []byte
	if m.Author.ID != s.BotUserID && !mentionsBot {
		r := m
		r.Content = ""
		r.Embeds = []Embed{}
		r.Attachments = []Attachment{}
		r.Components = nil
		redacted = messageEvent(r, member)
	}
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	for _, sess := range s.gw.sessions {
		if sess.conn == nil || sess.intents&IntentGuildMessages == 0 {
			continue
		}
		if redacted != nil && sess.intents&IntentMessageContent == 0 {
			s.sendLocked(sess, event, redacted)
		} else {
			s.sendLocked(sess, event, full)
		}
	}
}

func messageEvent(m Message, member *Member) []byte {
	out := map[string]any{}
	_ = json.Unmarshal(mustJSON(m), &out)
	if member != nil {
		out["member"] = member
	}
	return mustJSON(out)
}
