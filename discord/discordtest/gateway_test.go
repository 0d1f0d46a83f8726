package discordtest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// rawGW is a bare websocket client speaking the gateway protocol.
type rawGW struct {
	t  *testing.T
	ws *websocket.Conn
}

type frame struct {
	Op int             `json:"op"`
	D  json.RawMessage `json:"d"`
	S  int64           `json:"s"`
	T  string          `json:"t"`
}

func dialGW(t *testing.T, s *Server) *rawGW {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(s.GatewayURL()+"/?v=9&encoding=json", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return &rawGW{t: t, ws: ws}
}

func (g *rawGW) read() frame {
	g.t.Helper()
	_ = g.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	var f frame
	if err := g.ws.ReadJSON(&f); err != nil {
		g.t.Fatalf("read: %v", err)
	}
	return f
}

func (g *rawGW) send(op int, d any) {
	g.t.Helper()
	if err := g.ws.WriteJSON(map[string]any{"op": op, "d": d}); err != nil {
		g.t.Fatal(err)
	}
}

// closeCode reads until the server closes and returns the close code.
func (g *rawGW) closeCode() int {
	g.t.Helper()
	_ = g.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := g.ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		if err != nil {
			g.t.Fatalf("want a close frame, got %v", err)
		}
	}
}

func identifyD(s *Server, token string) map[string]any {
	return map[string]any{"token": token, "intents": IntentGuilds | IntentGuildMessages | IntentMessageContent,
		"properties": map[string]string{"os": "linux"}, "compress": false}
}

func TestRawGatewayHandshakeAndResumeReplay(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	g := dialGW(t, s)
	hello := g.read()
	if hello.Op != 10 || !strings.Contains(string(hello.D), `"heartbeat_interval":50`) {
		t.Fatalf("hello = %+v %s", hello, hello.D)
	}
	g.send(1, nil)
	if f := g.read(); f.Op != 11 {
		t.Fatalf("want ACK, got %+v", f)
	}
	g.send(2, identifyD(s, "Bot "+s.Token))
	ready := g.read()
	var rd struct {
		SessionID string `json:"session_id"`
		Resume    string `json:"resume_gateway_url"`
	}
	_ = json.Unmarshal(ready.D, &rd)
	if ready.T != "READY" || ready.S != 1 || rd.SessionID == "" || rd.Resume != s.GatewayURL() {
		t.Fatalf("ready = %+v %s", ready, ready.D)
	}
	if gc := g.read(); gc.T != "GUILD_CREATE" || gc.S != 2 {
		t.Fatalf("guild create = %+v", gc)
	}
	s.Type(s.AdminChannelID, s.PlainUserID, "one")
	s.Type(s.AdminChannelID, s.PlainUserID, "two")
	if f := g.read(); f.T != "MESSAGE_CREATE" || f.S != 3 {
		t.Fatalf("msg = %+v", f)
	}
	// Pretend we only saw seq 3, lose the connection, resume: seq 4 is replayed.
	s.DropGateway()
	if err := s.WaitFor(ctxT(t), func() bool { return !s.Connected() }); err != nil {
		t.Fatal(err)
	}
	s.Type(s.AdminChannelID, s.PlainUserID, "while down") // stored only
	g2 := dialGW(t, s)
	g2.read() // hello
	g2.send(6, map[string]any{"token": "Bot " + s.Token, "session_id": rd.SessionID, "seq": 3})
	if f := g2.read(); f.T != "MESSAGE_CREATE" || f.S != 4 || !strings.Contains(string(f.D), `"two"`) {
		t.Fatalf("replay = %+v %s", f, f.D)
	}
	if f := g2.read(); f.T != "RESUMED" || f.S != 5 {
		t.Fatalf("resumed = %+v", f)
	}
	if s.Resumes() != 1 || len(s.Messages(s.AdminChannelID)) != 3 {
		t.Fatalf("resumes %d messages %d", s.Resumes(), len(s.Messages(s.AdminChannelID)))
	}
	// Identify again on the same connection: 4005.
	g2.send(2, identifyD(s, "Bot "+s.Token))
	if code := g2.closeCode(); code != CloseAlreadyAuthenticated {
		t.Fatalf("close code %d", code)
	}
	// Unknown session: op 9 false.
	g3 := dialGW(t, s)
	g3.read()
	g3.send(6, map[string]any{"token": "Bot " + s.Token, "session_id": "nope", "seq": 1})
	if f := g3.read(); f.Op != 9 || string(f.D) != "false" {
		t.Fatalf("resume unknown = %+v %s", f, f.D)
	}
}

func TestRawGatewayCloseCodes(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	tests := []struct {
		name string
		do   func(g *rawGW)
		code int
	}{
		{"bad token", func(g *rawGW) { g.send(2, identifyD(s, "Bot nope")) }, CloseAuthenticationFail},
		{"not json", func(g *rawGW) { _ = g.ws.WriteMessage(websocket.TextMessage, []byte("{")) }, CloseDecodeError},
		{"binary", func(g *rawGW) { _ = g.ws.WriteMessage(websocket.BinaryMessage, []byte("x")) }, CloseDecodeError},
		{"unknown op", func(g *rawGW) { g.send(42, nil) }, CloseUnknownOpcode},
		{"presence before identify", func(g *rawGW) { g.send(3, map[string]any{}) }, CloseNotAuthenticated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := dialGW(t, s)
			g.read()
			tc.do(g)
			if code := g.closeCode(); code != tc.code {
				t.Fatalf("close code %d, want %d", code, tc.code)
			}
		})
	}
	s.DisallowIntents(IntentMessageContent)
	g := dialGW(t, s)
	g.read()
	g.send(2, identifyD(s, s.Token))
	if code := g.closeCode(); code != CloseDisallowedIntents {
		t.Fatalf("disallowed intents: %d", code)
	}
}

func TestRawGatewayAnswerNextIdentify(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	for _, op := range []int{7, 9} {
		s.AnswerNextIdentify(op)
		g := dialGW(t, s)
		g.read()
		g.send(2, identifyD(s, s.Token))
		if f := g.read(); f.Op != op {
			t.Fatalf("want op %d, got %+v", op, f)
		}
		// The following IDENTIFY works normally.
		g.send(2, identifyD(s, s.Token))
		if f := g.read(); f.T != "READY" {
			t.Fatalf("want READY, got %+v", f)
		}
	}
	if s.Identifies() != 2 {
		t.Fatalf("identifies %d", s.Identifies())
	}
}

func TestRawGatewayIntentsFilterAndMembers(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	g := dialGW(t, s)
	g.read()
	g.send(2, map[string]any{"token": s.Token, "intents": IntentGuildMessages}) // no GUILDS, no MESSAGE_CONTENT
	g.read()
	g.read()
	s.CreateChannel(Channel{Type: ChannelTypeText, Name: "x"}) // needs GUILDS: not sent
	s.AddMember("dave")                                        // needs GUILD_MEMBERS: not sent
	s.Type(s.AdminChannelID, s.AdminUserID, "hidden")
	f := g.read()
	if f.T != "MESSAGE_CREATE" || strings.Contains(string(f.D), "hidden") {
		t.Fatalf("got %+v %s", f, f.D)
	}
	if s.Dispatched("MESSAGE_CREATE") != 1 || s.Dispatched("CHANNEL_CREATE") != 0 {
		t.Fatalf("dispatched counts wrong")
	}
	g.send(8, map[string]any{"guild_id": s.GuildID, "query": "", "limit": 0, "nonce": "n1"})
	if f := g.read(); f.T != "GUILD_MEMBERS_CHUNK" || !strings.Contains(string(f.D), `"dave"`) {
		t.Fatalf("chunk = %+v %s", f, f.D)
	}
}

func TestGatewayRejectsCompression(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	_, resp, err := websocket.DefaultDialer.Dial(s.GatewayURL()+"/?v=9&encoding=json&compress=zlib-stream", nil)
	if err == nil || resp == nil || resp.StatusCode != 400 {
		t.Fatalf("zlib-stream accepted: %v", err)
	}
}
