package discord

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/media"
)

// TestAvatarURLChangesWithTheFace: QQ keeps a sender's avatar URL when the
// picture changes; the URL the bridge posts with changes with it, so that
// Discord's cache does not keep the old face, and stays the same while
// the picture does.
func TestAvatarURLChangesWithTheFace(t *testing.T) {
	var mu sync.Mutex
	face := []byte("old face")
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(face)
	}))
	t.Cleanup(cdn.Close)
	srv := newServer(t)
	a, _ := start(t, srv, func(o *Options) {
		o.Media = media.New(media.Options{TrustedHosts: []string{"127.0.0.1"}})
		o.AvatarRefresh = time.Nanosecond // look at the picture for every post
	})
	ctx := t.Context()
	s := session("s1", "1", "Alice")
	s.Peer.AvatarURL = cdn.URL + "/avatar?k=abc&s=140"
	ref, err := a.EnsureChannel(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	post := func(id string) string {
		t.Helper()
		ids, err := a.Post(ctx, ref, mustRender(t, a, textMsg(id, "hi", s.Peer)))
		if err != nil {
			t.Fatal(err)
		}
		m, _ := srv.Message(ref.ChannelID, ids[0])
		return m.AvatarURL
	}
	first, again := post("m1"), post("m2")
	mu.Lock()
	face = []byte("new face")
	mu.Unlock()
	changed := post("m3")
	if first != again {
		t.Errorf("the same face got two URLs: %q, %q", first, again)
	}
	if changed == first {
		t.Errorf("a new face kept the URL %q", first)
	}
	for _, u := range []string{first, changed} {
		p, err := url.Parse(u)
		if err != nil || p.Query().Get("k") != "abc" || p.Query().Get("s") != "140" || p.Query().Get("bridge_v") == "" {
			t.Errorf("posted avatar %q: want QQ's URL with bridge_v added", u)
		}
	}
	// Without a downloader the URL goes as QQ gave it.
	b, _ := start(t, srv, nil)
	ids, err := b.Post(ctx, ref, mustRender(t, b, bridge.Message{ID: "m4", Kind: bridge.KindText, Text: "x", Sender: s.Peer}))
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := srv.Message(ref.ChannelID, ids[0]); m.AvatarURL != s.Peer.AvatarURL {
		t.Errorf("without Media: avatar %q, want %q", m.AvatarURL, s.Peer.AvatarURL)
	}
}
