package discord

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/media"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
)

// qqCDN serves files from the loopback interface as QQ's CDN would:
// /img.jpg is a 3 MiB picture, /big.mp4 a 30 MiB video, /gone a 404.
func qqCDN(t *testing.T) (*httptest.Server, []byte) {
	t.Helper()
	img := make([]byte, 3<<20)
	if _, err := rand.Read(img); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/img.jpg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		_, _ = w.Write(img)
	})
	mux.HandleFunc("/big.mp4", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		w.Header().Set("Content-Length", strconv.Itoa(30<<20))
		_, _ = io.CopyN(w, zeros{}, 30<<20)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, img
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestQQMediaReuploadedOrLinkedWithNote(t *testing.T) {
	cdn, img := qqCDN(t)
	trusted := media.New(media.Options{TrustedHosts: []string{"127.0.0.1"}})
	untrusted := media.New(media.Options{})
	tests := []struct {
		name      string
		fetcher   MediaFetcher
		discord   []discordtest.Option
		msg       bridge.Message
		wantBytes []byte // the attachment, when uploaded
		wantNote  string // in the link embed, when not
	}{
		{
			name: "3 MiB image uploaded", fetcher: trusted,
			msg:       bridge.Message{Kind: bridge.KindImage, Text: "look", Media: &bridge.Media{URL: cdn.URL + "/img.jpg"}},
			wantBytes: img,
		},
		{
			name: "30 MiB video QQ announced", fetcher: trusted,
			msg:      bridge.Message{Kind: bridge.KindVideo, Media: &bridge.Media{URL: cdn.URL + "/big.mp4", Size: 30 << 20}},
			wantNote: "too big to upload (30.0 MiB; Discord takes up to 10.0 MiB)",
		},
		{
			name: "30 MiB video of unknown size", fetcher: trusted,
			msg:      bridge.Message{Kind: bridge.KindVideo, Media: &bridge.Media{URL: cdn.URL + "/big.mp4"}},
			wantNote: "bigger than the upload limit (10.0 MiB)",
		},
		{
			name: "download fails", fetcher: trusted,
			msg:      bridge.Message{Kind: bridge.KindImage, Media: &bridge.Media{URL: cdn.URL + "/gone.jpg"}},
			wantNote: "could not be downloaded (HTTP 404)",
		},
		{
			name: "host not trusted", fetcher: untrusted,
			msg:      bridge.Message{Kind: bridge.KindImage, Media: &bridge.Media{URL: cdn.URL + "/img.jpg"}},
			wantNote: "its address is not a public one",
		},
		{
			name: "Discord refuses the size", fetcher: trusted, discord: []discordtest.Option{discordtest.WithUploadLimit(1 << 20)},
			msg:      bridge.Message{Kind: bridge.KindImage, Media: &bridge.Media{URL: cdn.URL + "/img.jpg"}},
			wantNote: "Discord refused the image (3.0 MiB) as too large",
		},
		{
			name: "no fetcher", fetcher: nil,
			msg:      bridge.Message{Kind: bridge.KindImage, Media: &bridge.Media{URL: cdn.URL + "/img.jpg"}},
			wantNote: "re-uploading QQ files is off",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := discordtest.New(tt.discord...)
			t.Cleanup(srv.Close)
			a, _ := start(t, srv, func(o *Options) { o.Media = tt.fetcher })
			ctx := t.Context()
			s := session("s1", "1", "Alice")
			s.Peer.AvatarURL = "" // no download but the file's
			ref, err := a.EnsureChannel(ctx, s, nil)
			if err != nil {
				t.Fatal(err)
			}
			before, err := a.Post(ctx, ref, mustRender(t, a, textMsg("m0", "before", s.Peer)))
			if err != nil {
				t.Fatal(err)
			}
			m := tt.msg
			m.ID, m.Sender = "m1", s.Peer
			r := mustRender(t, a, m)
			ids, err := a.Post(ctx, ref, r)
			if err != nil || len(ids) != 1 {
				t.Fatalf("Post = %v, %v", ids, err)
			}
			got, _ := srv.Message(ref.ChannelID, ids[0])
			if tt.wantBytes != nil {
				if len(got.Attachments) != 1 || !bytes.Equal(got.Attachments[0].Data, tt.wantBytes) {
					t.Fatalf("want one attachment equal to the original; got %d attachments", len(got.Attachments))
				}
				if got.Attachments[0].Filename != "img.jpg" || len(got.Embeds) != 0 || got.Content != m.Text {
					t.Errorf("uploaded message: file %q, %d embeds, content %q", got.Attachments[0].Filename, len(got.Embeds), got.Content)
				}
			} else {
				if len(got.Attachments) != 0 || len(got.Embeds) != 1 {
					t.Fatalf("want a link embed and no attachment; got %d embeds, %d attachments", len(got.Embeds), len(got.Attachments))
				}
				e := got.Embeds[0]
				if e.URL != m.Media.URL || !strings.Contains(e.Description, "⚠️ Not re-uploaded: ") || !strings.Contains(e.Description, tt.wantNote) {
					t.Errorf("link embed: url %q, description %q; want the link and the note %q", e.URL, e.Description, tt.wantNote)
				}
			}
			// A retry after an ambiguous post finds it, in either form.
			found, ok, err := a.FindPosted(ctx, ref, before[0], r)
			if err != nil || !ok || len(found) != 1 || found[0] != ids[0] {
				t.Errorf("FindPosted = %v, %v, %v; want %v", found, ok, err, ids)
			}
		})
	}
}
