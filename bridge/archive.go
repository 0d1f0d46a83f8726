package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
)

// Archiving a session channel (channels mode, issue 15). The store records
// the intent first; then the transcript (every QQ message of the session,
// with sender and time) is posted into the archive place, then the
// channel is deleted, and only then is the session's channel cleared, so
// that its next message opens a fresh one. Each step is recorded once it
// is known done, so a crash anywhere resumes where it stopped
// (ResumeArchives): a transcript post that may have happened is looked for
// by its nonce before another is made; deleting a channel already gone
// counts as done. While a session is being archived its deliveries to
// Discord are held (ErrHeld): they go to the fresh channel afterwards,
// never into the one being deleted.

// ArchivePlace is where transcripts go and what deletes channels. The
// Discord adapter implements it.
type ArchivePlace interface {
	// PostTranscript posts a transcript file into the archive place and
	// returns its message id. Posting twice with the same Nonce within a
	// few minutes posts once.
	PostTranscript(ctx context.Context, t Transcript) (string, error)
	// FindTranscript looks for the transcript carrying nonce among the
	// archive place's recent messages.
	FindTranscript(ctx context.Context, nonce string) (id string, found bool, err error)
	// DeleteChannel deletes a session's channel; one already gone counts
	// as deleted.
	DeleteChannel(ctx context.Context, channelID string) error
	// TranscriptURL is the link to the transcript message msgID, for
	// the notice that opens the session's next channel (reopen.go).
	TranscriptURL(ctx context.Context, msgID string) (string, error)
	// PostOpening posts, as the bridge, the notice that opens the fresh
	// channel of a re-opened session, once: a post with the same nonce
	// (at most 25 characters) already in the channel, from an attempt
	// before a crash, is returned instead.
	PostOpening(ctx context.Context, ch ChannelRef, nonce, text string) (string, error)
}

// Transcript is the file of an archived session.
type Transcript struct {
	// Nonce identifies the post (at most 25 characters).
	Nonce string
	// Note is the text posted with the file.
	Note     string
	FileName string
	Body     []byte
}

// ArchiveStore is what archiving needs of the store; *store.Store
// implements it.
type ArchiveStore interface {
	BeginArchive(ctx context.Context, sessionID, channelID, reason string) (store.Archive, error)
	OpenArchives(ctx context.Context) ([]store.Archive, error)
	MarkArchiveAttempt(ctx context.Context, id int64) error
	RecordTranscript(ctx context.Context, id int64, msgID string) error
	FinishArchive(ctx context.Context, id int64) error
	LeastActiveBridged(ctx context.Context, n int) ([]store.Session, error)
	SessionsOfPeer(ctx context.Context, who string) ([]store.Session, error)
	// Re-opening (reopen.go).
	Archives(ctx context.Context, sessionID string) ([]store.Archive, error)
	ShownBefore(ctx context.Context, sessionID string, ids []string) (map[string]bool, error)
}

// ErrNotBridged means the session has no Discord channel to archive.
var ErrNotBridged = errors.New("the session has no Discord channel")

// Archived says what became of an archived session.
type Archived struct {
	SessionID       string
	Peer            Peer
	ChannelID       string
	TranscriptMsgID string
	Messages        int
}

// archiveGate holds a session's deliveries to Discord while its channel is
// archived: a delivery holds the read lock while it posts, archiving the
// write lock. The zero value is ready.
type archiveGate struct {
	mu sync.Mutex
	m  map[string]*sync.RWMutex
}

func (g *archiveGate) of(sessionID string) *sync.RWMutex {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[string]*sync.RWMutex{}
	}
	l := g.m[sessionID]
	if l == nil {
		l = &sync.RWMutex{}
		g.m[sessionID] = l
	}
	return l
}

// errArchiving holds a delivery while its session is archived.
func errArchiving(sessionID string) error {
	return Held(fmt.Errorf("the Discord channel of session %s is being archived; the message goes to its next channel", sessionID))
}

// archiver returns the archive place and store, or an error saying why
// archiving is not available.
func (e *Engine) archiver() (ArchivePlace, ArchiveStore, error) {
	if e.cfg.ArchivePlace == nil {
		return nil, nil, errors.New("archiving is not available: no archive place is configured")
	}
	return e.cfg.ArchivePlace, e.st, nil
}

// Archive archives the Discord channel of a session: its transcript goes
// to the archive place, then the channel is deleted. Its next message
// opens a fresh channel. An archive left unfinished (by a crash or a
// failure) is resumed, never begun twice.
func (e *Engine) Archive(ctx context.Context, sessionID, reason string) (Archived, error) {
	if _, _, err := e.archiver(); err != nil {
		return Archived{}, err
	}
	s, ok, err := e.st.Session(ctx, sessionID)
	if err != nil {
		return Archived{}, err
	}
	if !ok {
		return Archived{}, fmt.Errorf("archive session %s: %w", sessionID, ErrUnknownSession)
	}
	if s.Channel.ChannelID == "" {
		return Archived{}, fmt.Errorf("archive session %s: %w", sessionID, ErrNotBridged)
	}
	gate := e.arch.of(sessionID)
	gate.Lock() // waits for a post under way; holds the next ones
	defer gate.Unlock()
	return e.beginArchive(ctx, s, reason)
}

// beginArchive records the intent and runs it; the session's gate is held.
func (e *Engine) beginArchive(ctx context.Context, s store.Session, reason string) (Archived, error) {
	a, err := e.st.BeginArchive(ctx, s.ID, s.Channel.ChannelID, reason)
	if err != nil {
		return Archived{}, err
	}
	return e.runArchive(ctx, a)
}

// ResumeArchives finishes the archives a crash or a failure left open. It
// returns what it archived, and the first error (the others are logged).
func (e *Engine) ResumeArchives(ctx context.Context) ([]Archived, error) {
	_, as, err := e.archiver()
	if err != nil {
		return nil, nil // nothing was ever begun
	}
	open, err := as.OpenArchives(ctx)
	if err != nil {
		return nil, err
	}
	var done []Archived
	var first error
	for _, a := range open {
		gate := e.arch.of(a.SessionID)
		gate.Lock()
		got, err := e.runArchive(ctx, a)
		gate.Unlock()
		if err != nil {
			e.log.Warn("bridge: could not finish archiving a session; trying again later", "session", a.SessionID, "err", err)
			first = cmpOr(first, err)
			continue
		}
		done = append(done, got)
	}
	return done, first
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// runArchive takes an open archive through its remaining steps. The
// caller holds the session's gate.
func (e *Engine) runArchive(ctx context.Context, a store.Archive) (Archived, error) {
	place, as, err := e.archiver()
	if err != nil {
		return Archived{}, err
	}
	s, _, err := e.st.Session(ctx, a.SessionID)
	if err != nil {
		return Archived{}, err
	}
	out := Archived{SessionID: a.SessionID, Peer: fromStorePeer(s.Peer), ChannelID: a.ChannelID, TranscriptMsgID: a.TranscriptMsgID}
	if out.TranscriptMsgID == "" && a.Attempts > 0 {
		// An earlier post may have happened: find it before another.
		id, found, err := place.FindTranscript(ctx, a.Nonce)
		if err != nil {
			return out, fmt.Errorf("archive session %s: looking for the transcript posted before: %w", a.SessionID, err)
		}
		if found {
			if err := as.RecordTranscript(ctx, a.ID, id); err != nil {
				return out, err
			}
			out.TranscriptMsgID = id
		}
	}
	if out.TranscriptMsgID == "" {
		msgs, err := e.qq.Messages(ctx, a.SessionID, ReadPos{}, 0)
		if err != nil {
			return out, fmt.Errorf("archive session %s: reading its messages for the transcript: %w", a.SessionID, err)
		}
		out.Messages = len(msgs)
		t := renderTranscript(s, a, msgs, e.now())
		if err := as.MarkArchiveAttempt(ctx, a.ID); err != nil {
			return out, err
		}
		id, err := place.PostTranscript(ctx, t)
		if err != nil {
			return out, fmt.Errorf("archive session %s: posting the transcript (%s; the channel is kept until it is posted): %w", a.SessionID, OutcomeOf(err), err)
		}
		if err := as.RecordTranscript(ctx, a.ID, id); err != nil {
			return out, err
		}
		out.TranscriptMsgID = id
	}
	if err := place.DeleteChannel(ctx, a.ChannelID); err != nil {
		return out, fmt.Errorf("archive session %s: deleting its channel (the transcript is posted): %w", a.SessionID, err)
	}
	if err := as.FinishArchive(ctx, a.ID); err != nil {
		return out, err
	}
	e.log.Info("bridge: session archived", "session", a.SessionID, "channel", a.ChannelID, "transcript", out.TranscriptMsgID, "reason", a.Reason)
	nick := s.Peer.Nick
	if nick == "" {
		nick = "(no nick)"
	}
	e.emit(Event{Kind: EventSessionArchived, SessionID: a.SessionID, Detail: fmt.Sprintf("the chat with %s (%s); its transcript is in the archive, and its next message opens a new channel", nick, a.Reason)})
	return out, nil
}

// renderTranscript writes every message of a session, oldest first, with
// its sender and time, as plain text.
func renderTranscript(s store.Session, a store.Archive, msgs []Message, now time.Time) Transcript {
	nick := s.Peer.Nick
	if nick == "" {
		nick = "(no nick)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "QQ Music chat with %s\nArchived %s (%s); %d messages.\n\n", nick, now.UTC().Format(time.RFC3339), a.Reason, len(msgs))
	for _, m := range msgs {
		from := m.Sender.Nick
		switch {
		case m.FromOwner:
			from = "me"
		case from == "":
			from = nick
		}
		text := m.Text
		if text == "" {
			text = "[" + m.Kind.String() + "]"
		} else if m.Kind != KindText {
			text = "[" + m.Kind.String() + "] " + text
		}
		if m.Media != nil && m.Media.URL != "" {
			text += " " + m.Media.URL
		}
		if m.Card != nil && m.Card.URL != "" {
			text += " " + m.Card.URL
		}
		fmt.Fprintf(&b, "[%s] %s: %s\n", m.Time.UTC().Format("2006-01-02 15:04:05"), from, strings.ReplaceAll(text, "\n", "\n    "))
	}
	return Transcript{
		Nonce:    a.Nonce,
		Note:     fmt.Sprintf("🗄️ Archived the chat with %s (%s): %d messages. Its next message opens a new channel.", nick, a.Reason, len(msgs)),
		FileName: fmt.Sprintf("qq-%s-%s.txt", safeName(nick), now.UTC().Format("20060102-150405")),
		Body:     []byte(b.String()),
	}
}

// safeName keeps letters and digits of a nick for a file name.
func safeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "chat"
	}
	return b.String()
}
