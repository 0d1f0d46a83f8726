package admin

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// fakeLogin is one QR login the fake QQ side started.
type fakeLogin struct {
	method string
	events chan LoginEvent
	ctx    context.Context
}

func (l *fakeLogin) send(t *testing.T, ev LoginEvent) {
	t.Helper()
	select {
	case l.events <- ev:
	case <-time.After(5 * time.Second):
		t.Fatalf("the controller did not read the %v event", ev.State)
	}
	if ev.State != LoginWaiting && ev.State != LoginScanned && ev.State != LoginConfirmed {
		close(l.events)
	}
}

type fakeQQ struct {
	mu        sync.Mutex
	account   *Account
	nick      string
	logins    chan *fakeLogin
	startErr  []error
	reload    bool
	reloadErr error
	checkErr  error
	checks    int
	keepErr   chan error
	keepers   int
	onRefresh func(Account)
	onError   func(error)
	onOK      func()
	logouts   int
	logoutErr error
	phone     PhoneCode
	phoneErr  error
	// phoneDelay makes SendPhoneCode wait (or until ctx ends).
	phoneDelay time.Duration
	loginErr   error
	codes      []string
}

func newFakeQQ(loggedIn bool) *fakeQQ {
	q := &fakeQQ{logins: make(chan *fakeLogin, 8), keepErr: make(chan error, 1), checkErr: fmt.Errorf("%w: still refused", bridge.ErrLoginRequired), phone: PhoneCode{Status: PhoneCodeSent}}
	if loggedIn {
		q.account = &Account{UIN: "10001", Expires: time.Unix(2000000000, 0)}
	}
	return q
}

func (q *fakeQQ) Account() (Account, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.account == nil {
		return Account{}, false
	}
	return *q.account, true
}

func (q *fakeQQ) Describe(ctx context.Context) Account {
	a, _ := q.Account()
	q.mu.Lock()
	a.Nick = q.nick
	q.mu.Unlock()
	return a
}

func (q *fakeQQ) StartQRLogin(ctx context.Context, method string) (<-chan LoginEvent, error) {
	q.mu.Lock()
	if len(q.startErr) > 0 {
		err := q.startErr[0]
		q.startErr = q.startErr[1:]
		q.mu.Unlock()
		return nil, err
	}
	q.mu.Unlock()
	l := &fakeLogin{method: method, events: make(chan LoginEvent), ctx: ctx}
	out := make(chan LoginEvent)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-l.events:
				if !ok {
					return
				}
				if ev.State == LoginDone {
					q.mu.Lock()
					a := ev.Account
					q.account = &a
					q.mu.Unlock()
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	q.logins <- l
	return out, nil
}

func (q *fakeQQ) SendPhoneCode(ctx context.Context, area, phone string) (PhoneCode, error) {
	q.mu.Lock()
	d := q.phoneDelay
	q.mu.Unlock()
	if d > 0 {
		select {
		case <-ctx.Done():
			return PhoneCode{}, ctx.Err()
		case <-time.After(d):
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.codes = append(q.codes, area+"/"+phone)
	return q.phone, q.phoneErr
}

func (q *fakeQQ) PhoneLogin(ctx context.Context, area, phone, code string) (Account, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.loginErr != nil {
		return Account{}, q.loginErr
	}
	q.account = &Account{UIN: "10002", Nick: "Phoney"}
	return *q.account, nil
}

func (q *fakeQQ) Logout(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.account = nil
	q.logouts++
	return q.logoutErr
}

func (q *fakeQQ) Reload(ctx context.Context) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	r := q.reload
	q.reload = false
	if r {
		q.account = &Account{UIN: "10003"}
	}
	return r, q.reloadErr
}

func (q *fakeQQ) Check(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.checks++
	return q.checkErr
}

func (q *fakeQQ) Keep(ctx context.Context, h KeepHooks) error {
	q.mu.Lock()
	q.keepers++
	q.onRefresh, q.onError, q.onOK = h.Refreshed, h.Failed, h.OK
	q.mu.Unlock()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err := <-q.keepErr:
		return err
	}
}

func (q *fakeQQ) set(f func(q *fakeQQ)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	f(q)
}

// nextLogin waits for the controller to start a QR login.
func (q *fakeQQ) nextLogin(t *testing.T) *fakeLogin {
	t.Helper()
	select {
	case l := <-q.logins:
		return l
	case <-time.After(5 * time.Second):
		t.Fatal("no QR login was started")
	}
	return nil
}

func (q *fakeQQ) noLogin(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case l := <-q.logins:
		t.Fatalf("an unexpected %s QR login was started", l.method)
	case <-time.After(within):
	}
}

// adminMsg is a message of the fake admin channel, with its history.
type adminMsg struct {
	ID       string
	Content  string
	Image    []byte
	Mention  bool
	Versions []string
}

type fakeChannel struct {
	mu       sync.Mutex
	msgs     []*adminMsg
	postErr  error
	editErr  error
	cmds     []Command
	handler  func(ctx context.Context, r Request)
	register chan struct{}
}

func newFakeChannel() *fakeChannel { return &fakeChannel{register: make(chan struct{}, 1)} }

func (c *fakeChannel) Post(ctx context.Context, m Message) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.postErr != nil {
		return "", c.postErr
	}
	id := fmt.Sprint(len(c.msgs) + 1)
	c.msgs = append(c.msgs, &adminMsg{ID: id, Content: m.Content, Image: m.Image, Mention: m.MentionAdmins, Versions: []string{m.Content}})
	return id, nil
}

func (c *fakeChannel) Edit(ctx context.Context, id string, e Edit) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.editErr != nil {
		return c.editErr
	}
	for _, m := range c.msgs {
		if m.ID == id {
			m.Content = e.Content
			m.Versions = append(m.Versions, e.Content)
			if e.RemoveImage {
				m.Image = nil
			}
			if e.Image != nil {
				m.Image = e.Image
			}
			return nil
		}
	}
	return fmt.Errorf("no message %s", id)
}

func (c *fakeChannel) RegisterCommands(ctx context.Context, cmds []Command) error {
	c.mu.Lock()
	c.cmds = cmds
	c.mu.Unlock()
	select {
	case c.register <- struct{}{}:
	default:
	}
	return nil
}

func (c *fakeChannel) OnRequest(f func(ctx context.Context, r Request)) {
	c.mu.Lock()
	c.handler = f
	c.mu.Unlock()
}

func (c *fakeChannel) snapshot() []adminMsg {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]adminMsg, len(c.msgs))
	for i, m := range c.msgs {
		out[i] = *m
		out[i].Versions = append([]string(nil), m.Versions...)
	}
	return out
}

// invoke runs a request through the registered handler and returns it.
func (c *fakeChannel) invoke(t *testing.T, r *fakeRequest) *fakeRequest {
	t.Helper()
	c.mu.Lock()
	h := c.handler
	c.mu.Unlock()
	if h == nil {
		t.Fatal("no request handler registered")
	}
	// Like the Discord adapter, the request's context ends with the
	// handler: nothing long-lived may hang off it.
	ctx, cancel := context.WithCancel(context.Background())
	h(ctx, r)
	cancel()
	return r
}

type fakeEngine struct {
	mu       sync.Mutex
	paused   bool
	renewed  int
	status   bridge.Status
	sessions []bridge.BridgedSession
	resynced []string
	resyncN  int
	resyncE  error
	// outbox is what Outbox lists; acted records Retry and Skip calls as
	// "retry 7", "skip-session s1"; actErr is their error.
	outbox []bridge.OutboxEntry
	acted  []string
	actN   int
	actErr error
	// archived records Archive calls; archiveE is their error.
	archived []string
	archiveE error
}

func (e *fakeEngine) OpenSession(ctx context.Context, who string) (bridge.BridgedSession, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.sessions {
		if s.Peer.Nick == who || s.Peer.UIN == who {
			return s, nil
		}
	}
	return bridge.BridgedSession{}, fmt.Errorf("%w: no QQ Music session with %q", bridge.ErrUnknownSession, who)
}

func (e *fakeEngine) Archive(ctx context.Context, sessionID, reason string) (bridge.Archived, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.archiveE != nil {
		return bridge.Archived{}, e.archiveE
	}
	e.archived = append(e.archived, sessionID)
	return bridge.Archived{SessionID: sessionID, Messages: 12}, nil
}

func (e *fakeEngine) Outbox(ctx context.Context, sessionID string, limit int) ([]bridge.OutboxEntry, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []bridge.OutboxEntry
	for _, x := range e.outbox {
		if sessionID == "" || x.SessionID == sessionID {
			out = append(out, x)
		}
	}
	return out, nil
}

func (e *fakeEngine) act(what string) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.acted = append(e.acted, what)
	return e.actN, e.actErr
}

func (e *fakeEngine) Retry(ctx context.Context, id int64) (int, error) {
	return e.act(fmt.Sprint("retry ", id))
}
func (e *fakeEngine) RetrySession(ctx context.Context, sid string) (int, error) {
	return e.act("retry-session " + sid)
}
func (e *fakeEngine) Skip(ctx context.Context, id int64) (int, error) {
	return e.act(fmt.Sprint("skip ", id))
}
func (e *fakeEngine) SkipSession(ctx context.Context, sid string) (int, int, error) {
	n, err := e.act("skip-session " + sid)
	return n, 1, err
}

func (e *fakeEngine) actions() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.acted...)
}

func (e *fakeEngine) Status(ctx context.Context) (bridge.Status, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.status
	s.Paused = e.paused
	return s, nil
}
func (e *fakeEngine) Pause()  { e.mu.Lock(); e.paused = true; e.mu.Unlock() }
func (e *fakeEngine) Resume() { e.mu.Lock(); e.paused = false; e.mu.Unlock() }
func (e *fakeEngine) CredentialRenewed() {
	e.mu.Lock()
	e.renewed++
	e.mu.Unlock()
}
func (e *fakeEngine) Resync(ctx context.Context, id string) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.resynced = append(e.resynced, id)
	return e.resyncN, e.resyncE
}
func (e *fakeEngine) Sessions(ctx context.Context) ([]bridge.BridgedSession, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sessions, nil
}
func (e *fakeEngine) SessionByChannel(ctx context.Context, ch string) (bridge.BridgedSession, bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.sessions {
		if s.ChannelID == ch {
			return s, true, nil
		}
	}
	return bridge.BridgedSession{}, false, nil
}
func (e *fakeEngine) renewals() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.renewed
}
func (e *fakeEngine) isPaused() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.paused
}

// fakeRequest records the answers to one command or modal submit.
type fakeRequest struct {
	command string
	options map[string]string
	modalID string
	values  map[string]string
	user    string

	mu        sync.Mutex
	replies   []string
	ephemeral []bool
	deferred  bool
	edits     []string
	modal     string
	modalIn   TextInput
}

func cmd(name string, opts map[string]string) *fakeRequest {
	return &fakeRequest{command: name, options: opts, user: "42"}
}

func (r *fakeRequest) Command() string { return r.command }
func (r *fakeRequest) Option(n string) (string, bool) {
	v, ok := r.options[n]
	return v, ok
}
func (r *fakeRequest) ModalID() string            { return r.modalID }
func (r *fakeRequest) ModalValue(n string) string { return r.values[n] }
func (r *fakeRequest) UserID() string             { return r.user }
func (r *fakeRequest) Reply(ctx context.Context, text string, eph bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.replies = append(r.replies, text)
	r.ephemeral = append(r.ephemeral, eph)
	return nil
}
func (r *fakeRequest) Defer(ctx context.Context, eph bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deferred = true
	return nil
}
func (r *fakeRequest) EditReply(ctx context.Context, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.edits = append(r.edits, text)
	return nil
}
func (r *fakeRequest) AskText(ctx context.Context, id, title string, in TextInput) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.modal, r.modalIn = id, in
	return nil
}

// answer is the request's one visible answer (reply or edited deferral).
func (r *fakeRequest) answer() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(append(append([]string(nil), r.replies...), r.edits...), "\n")
}

// harness runs a controller over the fakes.
type harness struct {
	t    *testing.T
	qq   *fakeQQ
	ch   *fakeChannel
	eng  *fakeEngine
	term *syncBuffer
	c    *Controller
	dir  string
	stop func()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newHarness(t *testing.T, loggedIn bool, tune func(*Config)) *harness {
	t.Helper()
	return newHarnessWith(t, loggedIn, tune, nil)
}

// newHarnessWith lets setup prepare the fakes before the controller runs.
func newHarnessWith(t *testing.T, loggedIn bool, tune func(*Config), setup func(h *harness)) *harness {
	t.Helper()
	h := &harness{t: t, qq: newFakeQQ(loggedIn), ch: newFakeChannel(), eng: &fakeEngine{}, term: &syncBuffer{}, dir: t.TempDir()}
	if setup != nil {
		setup(h)
	}
	cfg := Config{
		CredentialFile: h.dir + "/credential.json", Version: "v-test",
		RecoverMin: time.Hour, ReloadEvery: 10 * time.Millisecond, RetryWait: 10 * time.Millisecond,
		Terminal: h.term,
	}
	if tune != nil {
		tune(&cfg)
	}
	h.c = New(cfg, h.qq, h.ch, h.eng, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = h.c.Run(ctx); close(done) }()
	var once sync.Once
	h.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(h.stop)
	select {
	case <-h.ch.register:
	case <-time.After(5 * time.Second):
		t.Fatal("the slash commands were not registered")
	}
	return h
}

func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; admin channel: %+v; terminal:\n%s", what, h.ch.snapshot(), h.term.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// msg waits until the admin channel has message i whose content has want.
func (h *harness) msg(i int, want string) adminMsg {
	h.t.Helper()
	var m adminMsg
	h.eventually(fmt.Sprintf("admin message %d to say %q", i, want), func() bool {
		ms := h.ch.snapshot()
		if len(ms) <= i {
			return false
		}
		m = ms[i]
		return strings.Contains(m.Content, want)
	})
	return m
}

// qrPNG is a real QR code image of text.
func qrPNG(t *testing.T, text string) []byte {
	t.Helper()
	b, err := qrcode.Encode(text, qrcode.Medium, 128)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
