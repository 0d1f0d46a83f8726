package bridge

import (
	"context"
	"errors"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
)

// fakePlace is an archive place over the fake Discord. postFail makes the
// next posts fail before anything happens; postLost makes them happen but
// answer with an ambiguous error; deleteFail makes deletions fail.
type fakePlace struct {
	dc *fakeDiscord

	mu          sync.Mutex
	posts       []Transcript
	ids         map[string]string // nonce -> message id
	postFail    []error
	postLost    int
	deleteFail  []error
	deleteCalls int
}

func newFakePlace(dc *fakeDiscord) *fakePlace {
	return &fakePlace{dc: dc, ids: map[string]string{}}
}

func (p *fakePlace) PostTranscript(ctx context.Context, t Transcript) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.postFail) > 0 {
		err := p.postFail[0]
		p.postFail = p.postFail[1:]
		return "", err
	}
	p.posts = append(p.posts, t)
	id := "transcript-" + t.Nonce
	p.ids[t.Nonce] = id
	if p.postLost > 0 {
		p.postLost--
		return "", Ambiguous(errors.New("fake discord: HTTP 502 after the request went out"))
	}
	return id, nil
}

func (p *fakePlace) FindTranscript(ctx context.Context, nonce string) (string, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id, ok := p.ids[nonce]
	return id, ok, nil
}

func (p *fakePlace) DeleteChannel(ctx context.Context, channelID string) error {
	p.mu.Lock()
	p.deleteCalls++
	if len(p.deleteFail) > 0 {
		err := p.deleteFail[0]
		p.deleteFail = p.deleteFail[1:]
		p.mu.Unlock()
		return err
	}
	p.mu.Unlock()
	p.dc.mu.Lock()
	defer p.dc.mu.Unlock()
	if ch := p.dc.channels[channelID]; ch != nil {
		ch.deleted = true
	}
	return nil
}

func (p *fakePlace) transcripts() []Transcript {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Transcript(nil), p.posts...)
}

func archiveHarness(t *testing.T) (*harness, *fakePlace) {
	dc := newFakeDiscord()
	place := newFakePlace(dc)
	h := newHarness(t, func(c *EngineConfig) { c.ArchivePlace = place })
	h.dc = dc // the harness made its own: use the place's
	h.restart()
	return h, place
}

func TestArchiveThenNextMessageReopens(t *testing.T) {
	h, place := archiveHarness(t)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "one")
	h.qq.ownerTyped("s1", "hello Bea")
	h.settle()
	old := h.dc.sessionChannel("s1")
	if old == "" {
		t.Fatal("no channel")
	}
	got, err := h.e.Archive(h.ctx, "s1", "asked by an admin")
	if err != nil {
		t.Fatal(err)
	}
	ts := place.transcripts()
	if len(ts) != 1 || got.TranscriptMsgID == "" || got.ChannelID != old {
		t.Fatalf("archive = %+v, %d transcripts", got, len(ts))
	}
	body := string(ts[0].Body)
	for _, want := range []string{`(?m)^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] Bea: one$`, `(?m)^\[[-\d :]+\] me: hello Bea$`} {
		if !regexp.MustCompile(want).MatchString(body) {
			t.Errorf("transcript lacks %s:\n%s", want, body)
		}
	}
	if h.dc.sessionChannel("s1") != "" {
		t.Error("the channel was not deleted")
	}
	if s, _, _ := h.st.Session(h.ctx, "s1"); s.Channel.ChannelID != "" {
		t.Errorf("the session still has channel %s", s.Channel.ChannelID)
	}
	h.qq.peerSays("s1", "two")
	h.settle()
	ch := h.dc.sessionChannel("s1")
	if ch == "" || ch == old {
		t.Fatalf("not reopened: channel %q", ch)
	}
	if got := texts(h.dc.posted(ch)); got != "two" {
		t.Errorf("the new channel shows %q", got)
	}
	if _, err := h.e.Archive(h.ctx, "nope", "x"); !errors.Is(err, ErrUnknownSession) {
		t.Errorf("archiving an unknown session: %v", err)
	}
}

// Every step may fail or be cut short: the archive resumes where it
// stopped, with exactly one transcript and nothing lost.
func TestArchiveIsExactlyOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(p *fakePlace)
	}{
		{"transcript post fails before it happens", func(p *fakePlace) { p.postFail = []error{errors.New("dial tcp: connection refused")} }},
		{"transcript posted but the answer is lost", func(p *fakePlace) { p.postLost = 1 }},
		{"transcript refused for good", func(p *fakePlace) { p.postFail = []error{Permanent(errors.New("HTTP 403: missing access"))} }},
		{"deletion fails", func(p *fakePlace) { p.deleteFail = []error{Ambiguous(errors.New("HTTP 504"))} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, place := archiveHarness(t)
			h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
			h.qq.peerSays("s1", "one")
			h.settle()
			old := h.dc.sessionChannel("s1")
			tc.break_(place)
			if _, err := h.e.Archive(h.ctx, "s1", "test"); err == nil {
				t.Fatal("the broken archive did not fail")
			}
			if len(place.transcripts()) == 0 && h.dc.sessionChannel("s1") != old {
				t.Fatal("the channel was deleted before its transcript was posted")
			}
			// A message meanwhile goes to the channel it still has.
			h.qq.peerSays("s1", "two")
			h.settle()
			// The process restarts and resumes.
			h.restart()
			done, err := h.e.ResumeArchives(h.ctx)
			if err != nil || len(done) != 1 {
				t.Fatalf("resume = %+v, %v", done, err)
			}
			if n := len(place.transcripts()); n != 1 {
				t.Errorf("%d transcripts posted; want exactly one", n)
			}
			if h.dc.sessionChannel("s1") != "" {
				t.Error("the channel was not deleted")
			}
			if done, err := h.e.ResumeArchives(h.ctx); err != nil || len(done) != 0 {
				t.Errorf("a second resume = %+v, %v; want nothing to do", done, err)
			}
			h.qq.peerSays("s1", "three")
			h.settle()
			if got := texts(h.dc.posted(h.dc.sessionChannel("s1"))); got != "three" {
				t.Errorf("reopened channel shows %q", got)
			}
		})
	}
}

func TestArchiveBeginsOnce(t *testing.T) {
	h, _ := archiveHarness(t)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.peerSays("s1", "one")
	h.settle()
	s, _, _ := h.st.Session(h.ctx, "s1")
	a1, err := h.st.BeginArchive(h.ctx, "s1", s.Channel.ChannelID, "a")
	if err != nil {
		t.Fatal(err)
	}
	a2, err := h.st.BeginArchive(h.ctx, "s1", s.Channel.ChannelID, "b")
	if err != nil || a2.ID != a1.ID || a2.Nonce != a1.Nonce || len(a1.Nonce) > 25 {
		t.Errorf("second begin = %+v, %v; want the open one %+v", a2, err, a1)
	}
	if err := h.st.FinishArchive(h.ctx, a1.ID); err != nil {
		t.Fatal(err)
	}
	if err := h.st.FinishArchive(h.ctx, a1.ID); !errors.Is(err, store.ErrArchiveState) {
		t.Errorf("finishing twice: %v", err)
	}
}

func TestOpenSessionReopensArchived(t *testing.T) {
	h, _ := archiveHarness(t)
	h.qq.addSession("s1", Peer{UIN: "222", Nick: "Bea"})
	h.qq.addSession("s2", Peer{UIN: "333", Nick: "Bea"})
	h.qq.peerSays("s1", "one")
	h.qq.peerSays("s2", "two")
	h.settle()
	old := h.dc.sessionChannel("s1")
	if _, err := h.e.Archive(h.ctx, "s1", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.e.OpenSession(h.ctx, "Bea"); !errors.Is(err, ErrSeveralSessions) {
		t.Errorf("open by a nick of two sessions = %v", err)
	}
	if _, err := h.e.OpenSession(h.ctx, "999"); !errors.Is(err, ErrUnknownSession) {
		t.Errorf("open an unknown session = %v", err)
	}
	got, err := h.e.OpenSession(h.ctx, "222")
	if err != nil {
		t.Fatal(err)
	}
	ch := h.dc.sessionChannel("s1")
	if ch == "" || ch == old || got.ChannelID != ch || got.ID != "s1" {
		t.Fatalf("opened %+v; channel %q (old %q)", got, ch, old)
	}
	h.qq.peerSays("s1", "three")
	h.settle()
	if got := texts(h.dc.posted(ch)); got != "three" {
		t.Errorf("the opened channel shows %q", got)
	}
}

func TestIdleSessionsAreArchived(t *testing.T) {
	dc := newFakeDiscord()
	place := newFakePlace(dc)
	h := newHarness(t, func(c *EngineConfig) { c.ArchivePlace, c.ArchiveAfter = place, 24*time.Hour })
	h.dc = dc
	h.restart()
	now := h.clock.Now()
	for id, idle := range map[string]time.Duration{"old": 48 * time.Hour, "recent": time.Hour} {
		h.qq.addSession(id, Peer{UIN: id, Nick: id})
		h.qq.peerSays(id, "hi "+id)
		h.qq.mu.Lock()
		h.qq.sessions[id].s.SortTime = now.Add(-idle).UnixMilli()
		h.qq.mu.Unlock()
	}
	h.settle()
	n, err := h.e.archiveIdle(h.ctx)
	if err != nil || n != 1 {
		t.Fatalf("archiveIdle = %d, %v; want the idle session archived", n, err)
	}
	if h.dc.sessionChannel("old") != "" || h.dc.sessionChannel("recent") == "" {
		t.Error("the wrong session was archived")
	}
	if ts := place.transcripts(); len(ts) != 1 || !regexp.MustCompile(`old: hi old`).Match(ts[0].Body) || !regexp.MustCompile(`idle for over 24h0m0s`).Match(ts[0].Body) {
		t.Errorf("transcripts %+v", ts)
	}
	if n, err := h.e.archiveIdle(h.ctx); n != 0 || err != nil {
		t.Errorf("second archiveIdle = %d, %v", n, err)
	}
}

func (p *fakePlace) TranscriptURL(ctx context.Context, msgID string) (string, error) {
	return "https://discord.test/archive/" + msgID, nil
}

func (p *fakePlace) PostOpening(ctx context.Context, ch ChannelRef, nonce, text string) (string, error) {
	return p.dc.PostNotice(ctx, ch, nonce, text)
}
