package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"
)

// fakeQQ is an in-memory QQ Music account with stateful sessions. It pages
// like the real API (session list newest first, size listPage; messages
// in pages of msgPage) and counts one request per page read.
type fakeQQ struct {
	mu       sync.Mutex
	owner    Peer
	sessions map[string]*fakeQQSession
	sortTime int64
	nextID   int

	listPage, msgPage int
	// pageOrder is how Messages hands messages back: "sorted" (as the port
	// promises), "newest-first" or "oldest-first" (raw page order, with
	// the page boundaries overlapping by one message).
	pageOrder string
	maxLen    int

	requests int // every request, as the server would count them
	sends    []OutgoingText

	loginExpired bool
	// failNext makes the next calls of a method ("list", "messages",
	// "send", "find") fail with the error.
	failNext map[string][]error
	// sendLoseAnswer makes the next sends happen but answer with an error.
	sendLoseAnswer int
	// stripClientKeys makes Messages return every message without its
	// client_key, as a server might.
	stripClientKeys bool
	// asyncSends makes a send show in Messages and FindSent only once
	// revealed (QQ's SendMessageAsync applies later); hidden holds the
	// ids not shown yet.
	asyncSends bool
	hidden     map[string]bool
	// sendCalls counts SendText calls by text, whatever their outcome.
	sendCalls map[string]int
}

type fakeQQSession struct {
	s    Session
	msgs []Message
	seq  int64
}

func newFakeQQ() *fakeQQ {
	return &fakeQQ{
		owner:     Peer{UIN: "10000", Nick: "Owner"},
		sessions:  map[string]*fakeQQSession{},
		listPage:  20,
		msgPage:   50,
		pageOrder: "sorted",
		maxLen:    500,
		failNext:  map[string][]error{},
		hidden:    map[string]bool{},
		sendCalls: map[string]int{},
	}
}

func (q *fakeQQ) fault(method string) error {
	if q.loginExpired {
		return fmt.Errorf("fake qq %s: code 1000: %w", method, ErrLoginRequired)
	}
	if errs := q.failNext[method]; len(errs) > 0 {
		q.failNext[method] = errs[1:]
		return errs[0]
	}
	return nil
}

func (q *fakeQQ) fail(method string, errs ...error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.failNext[method] = append(q.failNext[method], errs...)
}

func (q *fakeQQ) setLoginExpired(v bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.loginExpired = v
}

func (q *fakeQQ) requestCount() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.requests
}

func (q *fakeQQ) sent() []OutgoingText {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]OutgoingText(nil), q.sends...)
}

// addSession opens a conversation with a peer (no messages yet).
func (q *fakeQQ) addSession(id string, peer Peer) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sortTime++
	q.sessions[id] = &fakeQQSession{s: Session{ID: id, Peer: peer, SortTime: q.sortTime}}
}

// add appends a message to a session and bumps its sort_time.
func (q *fakeQQ) add(sessionID string, m Message) Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.addLocked(sessionID, m)
}

func (q *fakeQQ) addLocked(sessionID string, m Message) Message {
	ss := q.sessions[sessionID]
	if m.Sequence == 0 {
		ss.seq++
		m.Sequence = ss.seq
	}
	q.nextID++
	if m.ID == "" {
		m.ID = fmt.Sprintf("qm%05d", q.nextID)
	}
	m.SessionID = sessionID
	if m.Time.IsZero() {
		m.Time = time.Unix(1700000000+int64(q.nextID), 0)
	}
	ss.msgs = append(ss.msgs, m)
	q.sortTime++
	ss.s.SortTime = q.sortTime
	return m
}

// peerSays is a message from the session's peer.
func (q *fakeQQ) peerSays(sessionID, text string) Message {
	q.mu.Lock()
	peer := q.sessions[sessionID].s.Peer
	q.mu.Unlock()
	return q.add(sessionID, Message{Sender: peer, Kind: KindText, Type: 1, Text: text})
}

// ownerTyped is a message the owner typed in the QQ Music app.
func (q *fakeQQ) ownerTyped(sessionID, text string) Message {
	return q.add(sessionID, Message{Sender: q.owner, FromOwner: true, ClientKey: "app-" + text, Kind: KindText, Type: 1, Text: text})
}

func (q *fakeQQ) ChangedSessions(ctx context.Context, since int64) ([]Session, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	all := make([]Session, 0, len(q.sessions))
	for _, ss := range q.sessions {
		all = append(all, ss.s)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].SortTime > all[j].SortTime })
	var out []Session
	for start := 0; ; start += q.listPage {
		q.requests++
		if err := q.fault("list"); err != nil {
			return nil, err
		}
		end := min(start+q.listPage, len(all))
		stop := end >= len(all)
		for _, s := range all[start:end] {
			if s.SortTime <= since {
				stop = true
				break
			}
			out = append(out, s)
		}
		if stop {
			return out, nil
		}
	}
}

func (q *fakeQQ) Messages(ctx context.Context, sessionID string, after ReadPos, limit int) ([]Message, error) {
	afterSeq := after.Seq
	q.mu.Lock()
	defer q.mu.Unlock()
	ss, ok := q.sessions[sessionID]
	if !ok {
		return nil, fmt.Errorf("fake qq: no session %s", sessionID)
	}
	// The server pages newest first; read pages until one reaches afterSeq
	// or max messages were seen.
	hist := append([]Message(nil), ss.msgs...)
	sort.Slice(hist, func(i, j int) bool { return hist[j].Less(hist[i]) })
	var pages [][]Message
	seen := 0
	for start := 0; start < len(hist) || start == 0; start += q.msgPage {
		q.requests++
		if err := q.fault("messages"); err != nil {
			return nil, err
		}
		lo := max(start-1, 0) // overlap by one message, as a sloppy server might
		end := min(start+q.msgPage, len(hist))
		page := hist[lo:end]
		pages = append(pages, page)
		seen += len(page)
		if end >= len(hist) || page[len(page)-1].Sequence <= afterSeq || (limit > 0 && seen >= limit+1) {
			break
		}
	}
	var out []Message
	switch q.pageOrder {
	case "newest-first":
		for _, p := range pages {
			out = append(out, p...)
		}
	case "oldest-first":
		for i := len(pages) - 1; i >= 0; i-- {
			for j := len(pages[i]) - 1; j >= 0; j-- {
				out = append(out, pages[i][j])
			}
		}
	default:
		ids := map[string]bool{}
		for _, p := range pages {
			for _, m := range p {
				if !ids[m.ID] {
					ids[m.ID] = true
					out = append(out, m)
				}
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	}
	filtered := out[:0:0]
	for _, m := range out {
		if q.hidden[m.ID] {
			continue
		}
		if q.stripClientKeys {
			m.ClientKey = ""
		}
		if m.Sequence > afterSeq {
			filtered = append(filtered, m)
		}
	}
	if limit > 0 && q.pageOrder == "sorted" && len(filtered) > limit {
		filtered = filtered[len(filtered)-limit:]
	}
	if limit > 0 && q.pageOrder != "sorted" {
		// Raw orders: keep the newest max by sequence, in the raw order.
		bySeq := append([]Message(nil), filtered...)
		sort.Slice(bySeq, func(i, j int) bool { return bySeq[j].Less(bySeq[i]) })
		keep := map[string]bool{}
		for _, m := range bySeq {
			if len(keep) >= limit {
				break
			}
			keep[m.ID] = true
		}
		kept := filtered[:0:0]
		for _, m := range filtered {
			if keep[m.ID] {
				kept = append(kept, m)
			}
		}
		filtered = kept
	}
	return filtered, nil
}

func (q *fakeQQ) SendText(ctx context.Context, s OutgoingText) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.requests++
	q.sendCalls[s.Text]++
	if err := q.fault("send"); err != nil {
		return "", err
	}
	ss, ok := q.sessions[s.SessionID]
	if !ok || ss.s.Peer.UIN != s.PeerUIN {
		return "", fmt.Errorf("fake qq: send to session %s user %s: no such conversation", s.SessionID, s.PeerUIN)
	}
	if len([]rune(s.Text)) > q.maxLen {
		return "", fmt.Errorf("fake qq: text of %d characters is too long", len([]rune(s.Text)))
	}
	q.sends = append(q.sends, s)
	m := q.addLocked(s.SessionID, Message{Sender: q.owner, FromOwner: true, ClientKey: s.ClientKey, Kind: KindText, Type: 1, Text: s.Text})
	if q.asyncSends {
		q.hidden[m.ID] = true
	}
	if q.sendLoseAnswer > 0 {
		q.sendLoseAnswer--
		return "", Ambiguous(errors.New("fake qq: read tcp: i/o timeout"))
	}
	return m.ID, nil
}

func (q *fakeQQ) FindSent(ctx context.Context, sessionID, clientKey string) (string, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.requests++
	if err := q.fault("find"); err != nil {
		return "", false, err
	}
	ss, ok := q.sessions[sessionID]
	if !ok {
		return "", false, fmt.Errorf("fake qq: no session %s", sessionID)
	}
	for i := len(ss.msgs) - 1; i >= 0 && i >= len(ss.msgs)-q.msgPage; i-- {
		if ss.msgs[i].ClientKey == clientKey && !q.hidden[ss.msgs[i].ID] {
			return ss.msgs[i].ID, true, nil
		}
	}
	return "", false, nil
}

func (q *fakeQQ) MaxTextLen() int { return q.maxLen }

// reveal shows the sends applied asynchronously so far.
func (q *fakeQQ) reveal() {
	q.mu.Lock()
	defer q.mu.Unlock()
	clear(q.hidden)
}

func (q *fakeQQ) sendCount(text string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.sendCalls[text]
}

// fakeDiscord is an in-memory guild: channels, the messages in them, and
// the marks on members' messages.
type fakeDiscord struct {
	mu       sync.Mutex
	nextID   int64
	channels map[string]*fakeChannel
	ensures  int

	// postFail makes the next posts fail; postCrash makes the next posts
	// happen but answer with an error (a lost answer).
	postFail  []error
	postCrash int
	failMark  int
	failRead  []error
	// refuse refuses, with its error, every post of a message whose text
	// is the key (a poison message), until removed.
	refuse map[string]error
	// failLastIDs makes the next LastMessageIDs calls fail; reads counts
	// RepliesAfter calls by channel.
	failLastIDs []error
	reads       map[string]int
	// postCalls counts Post calls by text, whatever their outcome.
	postCalls map[string]int
	// notices counts PostNotice calls by nonce; noticeIDs is the notice
	// each nonce posted. failNote makes the next EditNotice and
	// DeleteNotice calls fail; noteCalls counts those calls.
	notices   map[string]int
	noticeIDs map[string]string
	failNote  []error
	noteCalls int
	// noticeCrash makes the next notices posted answer with an error (a
	// lost answer).
	noticeCrash int
}

type fakeChannel struct {
	ref       ChannelRef
	sessionID string
	deleted   bool
	// log is every message in the channel, in order.
	log []fakeDiscordMsg
	// notes are the bridge's notices (placeholders), in order.
	notes []fakeNote
	marks map[string]string // message id -> "delivered" or "failed: reason"
}

type fakeNote struct{ id, text string }

type fakeDiscordMsg struct {
	id    string
	post  *Message // a QQ message posted by the bridge
	reply *Reply   // a member's message
}

func newFakeDiscord() *fakeDiscord {
	return &fakeDiscord{nextID: 1_000_000, channels: map[string]*fakeChannel{}, refuse: map[string]error{}, notices: map[string]int{}, noticeIDs: map[string]string{}, postCalls: map[string]int{}, reads: map[string]int{}}
}

func (d *fakeDiscord) id() string {
	d.nextID++
	return strconv.FormatInt(d.nextID, 10)
}

func (d *fakeDiscord) EnsureChannel(ctx context.Context, s Session, have *ChannelRef) (ChannelRef, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ensures++
	if have != nil {
		if ch, ok := d.channels[have.ChannelID]; ok && !ch.deleted {
			ch.ref.Name = s.Peer.Nick
			return ch.ref, nil
		}
	} else {
		// Adopt the channel made for this session before a crash.
		for _, ch := range d.channels {
			if ch.sessionID == s.ID && !ch.deleted {
				ch.ref.Name = s.Peer.Nick
				return ch.ref, nil
			}
		}
	}
	id := d.id()
	ref := ChannelRef{ChannelID: id, ParentID: "cat", WebhookID: "wh" + id, WebhookToken: "token" + id, Name: s.Peer.Nick}
	d.channels[id] = &fakeChannel{ref: ref, sessionID: s.ID, marks: map[string]string{}}
	return ref, nil
}

func (d *fakeDiscord) channel(ref ChannelRef) (*fakeChannel, error) {
	ch, ok := d.channels[ref.ChannelID]
	if !ok || ch.deleted {
		return nil, fmt.Errorf("fake discord: channel %s: 10003 Unknown Channel: %w", ref.ChannelID, ErrChannelNotFound)
	}
	return ch, nil
}

// Render records the whole message: the fake posts what it decodes.
func (d *fakeDiscord) Render(m Message) (Rendered, error) {
	return json.Marshal(m)
}

func (d *fakeDiscord) Post(ctx context.Context, ref ChannelRef, r Rendered) ([]string, error) {
	var m Message
	if err := json.Unmarshal(r, &m); err != nil {
		return nil, Permanent(fmt.Errorf("fake discord: bad rendering: %w", err))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.postFail) > 0 {
		err := d.postFail[0]
		d.postFail = d.postFail[1:]
		return nil, err
	}
	d.postCalls[m.Text]++
	if err := d.refuse[m.Text]; err != nil {
		return nil, err
	}
	ch, err := d.channel(ref)
	if err != nil {
		return nil, err
	}
	var ids []string
	// A long text is split in two messages, as the adapter would.
	n := 1
	if len([]rune(m.Text)) > 2000 {
		n = 2
	}
	for i := 0; i < n; i++ {
		mm := m
		id := d.id()
		ch.log = append(ch.log, fakeDiscordMsg{id: id, post: &mm})
		ids = append(ids, id)
	}
	if d.postCrash > 0 {
		d.postCrash--
		return nil, Ambiguous(errors.New("fake discord: context deadline exceeded (Client.Timeout exceeded while awaiting headers)"))
	}
	return ids, nil
}

func (d *fakeDiscord) FindPosted(ctx context.Context, ref ChannelRef, afterID string, r Rendered) ([]string, bool, error) {
	var m Message
	if err := json.Unmarshal(r, &m); err != nil {
		return nil, false, Permanent(fmt.Errorf("fake discord: bad rendering: %w", err))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.failRead) > 0 {
		err := d.failRead[0]
		d.failRead = d.failRead[1:]
		return nil, false, err
	}
	ch, err := d.channel(ref)
	if err != nil {
		return nil, false, err
	}
	var ids []string
	for _, dm := range ch.log {
		if dm.post != nil && dm.post.ID == m.ID && snowAfter(dm.id, afterID) {
			ids = append(ids, dm.id)
		}
	}
	return ids, len(ids) > 0, nil
}

func snowAfter(a, b string) bool {
	if b == "" {
		return true
	}
	x, _ := strconv.ParseInt(a, 10, 64)
	y, _ := strconv.ParseInt(b, 10, 64)
	return x > y
}

func (d *fakeDiscord) RepliesAfter(ctx context.Context, channelID, afterID string) ([]Reply, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reads[channelID]++
	if len(d.failRead) > 0 {
		err := d.failRead[0]
		d.failRead = d.failRead[1:]
		return nil, err
	}
	ch, err := d.channel(ChannelRef{ChannelID: channelID})
	if err != nil {
		return nil, err
	}
	var out []Reply
	for _, dm := range ch.log {
		if dm.reply != nil && snowAfter(dm.id, afterID) {
			out = append(out, *dm.reply)
		}
	}
	return out, nil
}

// PostNotice posts a bridge notice; a nonce seen before posts nothing and
// answers with the notice it posted, as Discord's enforce_nonce does (a
// new one when that one was deleted).
func (d *fakeDiscord) PostNotice(ctx context.Context, ref ChannelRef, nonce, text string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ch, err := d.channel(ref)
	if err != nil {
		return "", err
	}
	d.notices[nonce]++
	if id, ok := d.noticeIDs[nonce]; ok && ch.note(id) >= 0 {
		return id, nil
	}
	id := d.id()
	d.noticeIDs[nonce] = id
	ch.notes = append(ch.notes, fakeNote{id: id, text: text})
	if d.noticeCrash > 0 {
		d.noticeCrash--
		return "", Ambiguous(errors.New("fake discord: 502 Bad Gateway after the notice was stored"))
	}
	return id, nil
}

func (ch *fakeChannel) note(id string) int {
	return slices.IndexFunc(ch.notes, func(n fakeNote) bool { return n.id == id })
}

// noteCall takes the next failure of a notice edit or deletion, and finds
// the notice (-1 when it, or its channel, is gone).
func (d *fakeDiscord) noteCall(channelID, messageID string) (*fakeChannel, int, error) {
	d.noteCalls++
	if len(d.failNote) > 0 {
		err := d.failNote[0]
		d.failNote = d.failNote[1:]
		return nil, -1, err
	}
	ch, err := d.channel(ChannelRef{ChannelID: channelID})
	if err != nil {
		return nil, -1, nil
	}
	return ch, ch.note(messageID), nil
}

func (d *fakeDiscord) EditNotice(ctx context.Context, channelID, messageID, text string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	ch, i, err := d.noteCall(channelID, messageID)
	if err == nil && i >= 0 {
		ch.notes[i].text = text
	}
	return err
}

func (d *fakeDiscord) DeleteNotice(ctx context.Context, channelID, messageID string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	ch, i, err := d.noteCall(channelID, messageID)
	if err == nil && i >= 0 {
		ch.notes = slices.Delete(ch.notes, i, i+1)
	}
	return err
}

// LastMessageIDs gives the newest message of each live channel, as the
// guild's channel list does.
func (d *fakeDiscord) LastMessageIDs(ctx context.Context) (map[string]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.failLastIDs) > 0 {
		err := d.failLastIDs[0]
		d.failLastIDs = d.failLastIDs[1:]
		return nil, err
	}
	out := map[string]string{}
	for id, ch := range d.channels {
		if ch.deleted {
			continue
		}
		out[id] = ""
		if n := len(ch.log); n > 0 {
			out[id] = ch.log[n-1].id
		}
	}
	return out, nil
}

func (d *fakeDiscord) readsOf(channelID string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reads[channelID]
}

// notesIn is the notices posted in a channel.
func (d *fakeDiscord) notesIn(channelID string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ch, ok := d.channels[channelID]; ok {
		var out []string
		for _, n := range ch.notes {
			out = append(out, n.text)
		}
		return out
	}
	return nil
}

func (d *fakeDiscord) postCount(text string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.postCalls[text]
}

func (d *fakeDiscord) setRefuse(text string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err == nil {
		delete(d.refuse, text)
	} else {
		d.refuse[text] = err
	}
}

func (d *fakeDiscord) mark(channelID, messageID, v string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failMark > 0 {
		d.failMark--
		return errors.New("fake discord: 500 Internal Server Error")
	}
	ch, err := d.channel(ChannelRef{ChannelID: channelID})
	if err != nil {
		return err
	}
	ch.marks[messageID] = v
	return nil
}

func (d *fakeDiscord) MarkDelivered(ctx context.Context, channelID, messageID string) error {
	return d.mark(channelID, messageID, "delivered")
}

func (d *fakeDiscord) MarkFailed(ctx context.Context, channelID, messageID, reason string) error {
	return d.mark(channelID, messageID, "failed: "+reason)
}

// memberWrites puts a member's message into a channel and returns it as the
// gateway would hand it over.
func (d *fakeDiscord) memberWrites(channelID, content string, attachments ...string) Reply {
	d.mu.Lock()
	defer d.mu.Unlock()
	ch := d.channels[channelID]
	r := Reply{ChannelID: channelID, MessageID: d.id(), AuthorID: "u1", AuthorName: "member", Content: content,
		AttachmentURLs: attachments, Time: time.Unix(1700000000, 0)}
	ch.log = append(ch.log, fakeDiscordMsg{id: r.MessageID, reply: &r})
	return r
}

// sessionChannel is the live channel of a session ("" if none).
func (d *fakeDiscord) sessionChannel(sessionID string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, ch := range d.channels {
		if ch.sessionID == sessionID && !ch.deleted {
			return id
		}
	}
	return ""
}

// posted is the QQ messages posted in a channel, in channel order (one
// entry per Discord message).
func (d *fakeDiscord) posted(channelID string) []Message {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Message
	if ch, ok := d.channels[channelID]; ok {
		for _, dm := range ch.log {
			if dm.post != nil {
				out = append(out, *dm.post)
			}
		}
	}
	return out
}

func (d *fakeDiscord) markOf(channelID, messageID string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.channels[channelID].marks[messageID]
}

func (d *fakeDiscord) deleteChannel(channelID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.channels[channelID].deleted = true
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (q *fakeQQ) Self(ctx context.Context) (Peer, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.requests++
	if err := q.fault("self"); err != nil {
		return Peer{}, err
	}
	return q.owner, nil
}
