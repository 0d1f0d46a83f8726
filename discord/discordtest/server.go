package discordtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// DefaultToken is the bot token a Server accepts unless WithToken says otherwise.
const DefaultToken = "ODk5OTk5OTk5OTk5OTk5OTk5.discordtest.bot-token"

// Server is a running Discord double. Create it with New and Close it when
// the test ends (close discordgo sessions first). All methods are safe for
// concurrent use.
type Server struct {
	// URL is the base URL, http://127.0.0.1:port. REST lives under
	// URL+"/api/v9" and URL+"/api/v10", the gateway at GatewayURL().
	URL string
	// Token is the bot token; requests must carry "Authorization: Bot "+Token.
	Token string
	// resetToken, once ResetToken was called, is the token accepted.
	resetToken atomic.Pointer[string]

	GuildID        string // the one guild
	EveryoneRoleID string // == GuildID, as on Discord
	AdminRoleID    string // "Admin" role (Administrator permission)
	ManagerRoleID  string // "Manager" role (Manage Server, 0x20)
	BotRoleID      string // the bot's managed role (Administrator by default)
	BotUserID      string // the bot user
	ApplicationID  string // the bot's application
	AdminUserID    string // member with the Admin role; also the guild owner
	PlainUserID    string // member without roles
	AdminChannelID string // text channel "bridge-admin"

	cfg  config
	hs   *httptest.Server
	api  *http.ServeMux
	wsUp websocket.Upgrader

	mu    sync.Mutex // guards the state below
	ids   int64
	state state

	recMu     sync.Mutex // guards records and fault injection
	records   []RequestRecord
	n429      int
	faults    []*fault
	delays    []*delay
	limits    []*routeLimit
	globalRPS int
	winStart  time.Time
	winCount  int
	random    *randomFaults
	applied   []*appliedFault
	slow      slowPosts // SetPostDelay

	gw gateway

	closing   chan struct{} // closed by Close: delayed requests give up
	closeOnce sync.Once
}

type config struct {
	token              string
	heartbeatInterval  time.Duration
	interactionTimeout time.Duration
	uploadLimit        int
	guildName          string
	writeTimeout       time.Duration
	maxChannels        int // 0: MaxChannelsPerGuild
}

// Option configures New.
type Option func(*config)

// WithToken sets the bot token the double accepts (without the "Bot " prefix).
func WithToken(token string) Option { return func(c *config) { c.token = token } }

// WithHeartbeatInterval sets the heartbeat_interval sent in HELLO
// (default 41.25 s as on Discord; use tens of milliseconds in tests).
func WithHeartbeatInterval(d time.Duration) Option {
	return func(c *config) { c.heartbeatInterval = d }
}

// WithInteractionTimeout sets how long an interaction accepts its initial
// callback (default 3 s as on Discord); later callbacks get 404 10062.
func WithInteractionTimeout(d time.Duration) Option {
	return func(c *config) { c.interactionTimeout = d }
}

// WithUploadLimit sets the per-file upload limit in bytes (default 10 MiB);
// bigger files get 413 with code 40005.
func WithUploadLimit(n int) Option { return func(c *config) { c.uploadLimit = n } }

// WithGuildName sets the guild's name (default "Bridge Test Guild").
func WithGuildName(name string) Option { return func(c *config) { c.guildName = name } }

// WithMaxChannels lowers the guild's channel limit (30013) from
// MaxChannelsPerGuild to n: a guild that already holds channels of its
// own, or a test of the limit that must stay short. The product's own
// count then disagrees with Discord's, which answers 30013 first.
func WithMaxChannels(n int) Option { return func(c *config) { c.maxChannels = n } }

// maxChannels is the guild's channel limit (see WithMaxChannels).
func (s *Server) maxChannels() int {
	if s.cfg.maxChannels > 0 {
		return s.cfg.maxChannels
	}
	return MaxChannelsPerGuild
}

// New starts a double with the default guild (see the Server fields).
func New(opts ...Option) *Server {
	cfg := config{
		token:              DefaultToken,
		heartbeatInterval:  41250 * time.Millisecond,
		interactionTimeout: 3 * time.Second,
		uploadLimit:        10 << 20,
		guildName:          "Bridge Test Guild",
		writeTimeout:       5 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	s := &Server{cfg: cfg, Token: cfg.token, ids: snowflakeBase, closing: make(chan struct{})}
	s.wsUp = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	s.gw.init()
	s.initState()
	s.api = http.NewServeMux()
	s.routes()
	root := http.NewServeMux()
	root.HandleFunc("/api/", s.serveAPI)
	root.HandleFunc("/gateway", s.serveGateway)
	root.HandleFunc("/gateway/", s.serveGateway)
	root.HandleFunc("GET /attachments/{channel}/{attachment}/{filename}", s.serveAttachment)
	s.hs = httptest.NewServer(root)
	s.URL = s.hs.URL
	return s
}

// APIURL returns URL+"/api/v9", the REST base discordgo uses.
func (s *Server) APIURL() string { return s.URL + "/api/v9" }

// GatewayURL returns the websocket URL GET /gateway hands out.
func (s *Server) GatewayURL() string { return "ws" + strings.TrimPrefix(s.URL, "http") + "/gateway" }

// Close closes every gateway connection and stops the server.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.gw.closeAll()
	s.hs.CloseClientConnections()
	s.hs.Close()
	s.gw.wait()
}

// HTTPClient returns an http.Client that sends requests for
// https://discord.com (and cdn.discordapp.com) to this double instead. Give
// it to discordgo as Session.Client.
func (s *Server) HTTPClient() *http.Client {
	return &http.Client{Transport: &rewriteTransport{base: s.URL}, Timeout: 30 * time.Second}
}

type rewriteTransport struct{ base string }

func (t *rewriteTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	u := *r.URL
	if u.Host == "discord.com" || u.Host == "cdn.discordapp.com" || u.Host == "media.discordapp.net" {
		base := strings.TrimPrefix(strings.TrimPrefix(t.base, "http://"), "https://")
		u.Scheme = "http"
		u.Host = base
	}
	r2 := r.Clone(r.Context())
	r2.URL = &u
	r2.Host = u.Host
	return http.DefaultTransport.RoundTrip(r2)
}

// ---- HTTP plumbing ----

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

const maxRequestBody = 100 << 20

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/api")
	version := 0
	switch {
	case strings.HasPrefix(rest, "/v9/"):
		version, rest = 9, rest[3:]
	case strings.HasPrefix(rest, "/v10/"):
		version, rest = 10, rest[4:]
	case strings.HasPrefix(rest, "/v"):
		writeError(w, http.StatusBadRequest, 50041, "Invalid API version provided")
		return
	}
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
		if err != nil {
			writeError(w, http.StatusBadRequest, 0, "400: Bad Request")
			return
		}
		if len(b) > maxRequestBody {
			writeError(w, http.StatusRequestEntityTooLarge, 40005, "Request entity too large")
			return
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	rec := &statusRecorder{ResponseWriter: w}
	defer func() {
		kept := body
		if len(kept) > 64<<10 {
			kept = kept[:64<<10]
		}
		s.recMu.Lock()
		s.records = append(s.records, RequestRecord{
			Method: r.Method, Path: rest, Query: r.URL.RawQuery, Version: version,
			Status: rec.status, ContentType: r.Header.Get("Content-Type"), Body: kept, Time: time.Now(),
		})
		if rec.status == http.StatusTooManyRequests {
			s.n429++
		}
		s.recMu.Unlock()
	}()
	if d := s.takeDelay(r.Method, rest) + s.postDelay(r.Method, rest, r.URL.Query()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return // the client gave up; nothing is done
		case <-s.closing:
			t.Stop()
			writeError(rec, http.StatusServiceUnavailable, 0, "503: Service Unavailable")
			return
		}
	}
	if s.injectFault(rec, r.Method, rest) {
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = rest
	r2.URL.RawPath = ""
	if raw := r.URL.EscapedPath(); raw != r.URL.Path {
		r2.URL.RawPath = strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(raw, "/api"), "/v9"), "/v10")
	}
	r2.Body = r.Body
	h, pattern := s.api.Handler(r2)
	if pattern == "" {
		probe := httptest.NewRecorder()
		h.ServeHTTP(probe, r2)
		if probe.Code == http.StatusMethodNotAllowed {
			writeError(rec, http.StatusMethodNotAllowed, 0, "405: Method Not Allowed")
		} else {
			writeError(rec, http.StatusNotFound, 0, "404: Not Found")
		}
		return
	}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			writeError(rec, http.StatusInternalServerError, 0, fmt.Sprintf("500: Internal Server Error (discordtest bug: %v)", v))
		}
	}()
	if how, ok := s.takeApplied(r.Method, rest); ok {
		s.serveApplied(w, rec, r2, how)
		return
	}
	s.api.ServeHTTP(rec, r2) // ServeHTTP (not h) so that PathValue works
}

func write429(w http.ResponseWriter, after time.Duration, global bool) {
	secs := after.Seconds()
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(int(math.Ceil(secs))))
	h.Set("X-RateLimit-Limit", "5")
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset-After", strconv.FormatFloat(secs, 'f', 3, 64))
	h.Set("X-RateLimit-Reset", strconv.FormatFloat(float64(time.Now().Add(after).UnixMilli())/1000, 'f', 3, 64))
	h.Set("X-RateLimit-Bucket", "discordtest-bucket")
	if global {
		h.Set("X-RateLimit-Global", "true")
		h.Set("X-RateLimit-Scope", "global")
	} else {
		h.Set("X-RateLimit-Scope", "user")
	}
	writeJSON(w, http.StatusTooManyRequests, map[string]any{
		"message":     "You are being rate limited.",
		"retry_after": math.Round(secs*1000) / 1000,
		"global":      global,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"message":"500: Internal Server Error","code":0}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeNoContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

// apiError is a Discord error answer.
type apiError struct {
	status  int
	code    int
	message string
	errors  map[string]any
}

func (e *apiError) write(w http.ResponseWriter) {
	body := map[string]any{"message": e.message, "code": e.code}
	if e.errors != nil {
		body["errors"] = e.errors
	}
	writeJSON(w, e.status, body)
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	(&apiError{status: status, code: code, message: msg}).write(w)
}

func errf(status, code int, msg string) *apiError {
	return &apiError{status: status, code: code, message: msg}
}

// Common Discord errors.
func errUnknownChannel() *apiError { return errf(404, 10003, "Unknown Channel") }
func errUnknownMessage() *apiError { return errf(404, 10008, "Unknown Message") }
func errUnknownWebhook() *apiError { return errf(404, 10015, "Unknown Webhook") }
func errUnknownMember() *apiError  { return errf(404, 10007, "Unknown Member") }
func errUnknownUser() *apiError    { return errf(404, 10013, "Unknown User") }
func errUnknownGuild() *apiError   { return errf(404, 10004, "Unknown Guild") }
func errMissingPerms() *apiError   { return errf(403, 50013, "Missing Permissions") }
func errMissingAccess() *apiError  { return errf(403, 50001, "Missing Access") }
func errInvalidJSON() *apiError    { return errf(400, 50109, "The request body contains invalid JSON.") }

// formErrors collects Invalid Form Body (50035) field errors.
type formErrors struct{ m map[string]any }

// add records an error at a dotted path such as "embeds.0.description".
func (f *formErrors) add(path, code, message string) {
	if f.m == nil {
		f.m = map[string]any{}
	}
	cur := f.m
	for _, p := range strings.Split(path, ".") {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	list, _ := cur["_errors"].([]any)
	cur["_errors"] = append(list, map[string]any{"code": code, "message": message})
}

func (f *formErrors) err() *apiError {
	if f.m == nil {
		return nil
	}
	return &apiError{status: 400, code: 50035, message: "Invalid Form Body", errors: f.m}
}

func formErr(path, code, message string) *apiError {
	var f formErrors
	f.add(path, code, message)
	return f.err()
}

// decodeJSON decodes a JSON request body into v, mapping failures to
// Discord's answers (50109 for broken JSON, 50035 for wrong types).
func decodeJSON(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return errInvalidJSON()
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if asTypeError(err, &te) {
			field := te.Field
			if field == "" {
				field = "_root"
			}
			return formErr(field, "MODEL_TYPE_CONVERT", fmt.Sprintf("Could not interpret %s as %s.", te.Value, te.Type))
		}
		return errInvalidJSON()
	}
	return nil
}

func asTypeError(err error, te **json.UnmarshalTypeError) bool {
	t, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*te = t
	}
	return ok
}

func readBody(r *http.Request) []byte {
	if r.Body == nil {
		return nil
	}
	b, _ := io.ReadAll(r.Body)
	return b
}

// authorized reports whether the request carries the bot token.
func (s *Server) authorized(r *http.Request) bool {
	return r.Header.Get("Authorization") == "Bot "+s.currentToken()
}

// currentToken is the token the double accepts now (see ResetToken).
func (s *Server) currentToken() string {
	if t := s.resetToken.Load(); t != nil {
		return *t
	}
	return s.Token
}

// ResetToken makes the double accept token instead of the one it had, as
// the Developer Portal's Reset Token does: requests and gateway sessions
// with the old one are refused from now on. Call it from the test's
// goroutine (it sets Token too); the double's handlers read the new token
// safely.
func (s *Server) ResetToken(token string) {
	s.resetToken.Store(&token)
	s.Token = token
}

type handlerFunc func(w http.ResponseWriter, r *http.Request) *apiError

// handle registers an API route; auth says whether the bot token is required.
func (s *Server) handle(pattern string, auth bool, h handlerFunc) {
	s.api.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if auth && !s.authorized(r) {
			writeError(w, http.StatusUnauthorized, 0, "401: Unauthorized")
			return
		}
		if e := h(w, r); e != nil {
			e.write(w)
		}
	})
}
