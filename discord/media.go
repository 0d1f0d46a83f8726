package discord

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/media"
)

// DefaultUploadLimit is Discord's default per-file upload limit.
const DefaultUploadLimit = 10 << 20

// MediaFetcher downloads the file at a URL within its bounds; a
// *media.Fetcher is one.
type MediaFetcher interface {
	Fetch(ctx context.Context, url string) (media.File, error)
}

// recordFile is a QQ picture or video recorded in a rendering: where it is
// and what QQ announced of it. The rendering is recorded before the first
// attempt and without network access, so the bytes are not in it; every
// attempt downloads them from the recorded URL. That is exactly-once safe
// because what a part shows is decided from the record alone: either the
// recorded text with the file attached, or the recorded text and link
// embed with a note (the file too big, the download failed, Discord
// refused it). FindPosted accepts either form of the part, never a third,
// so a retry after an ambiguous post finds the first attempt whichever
// form it took.
type recordFile struct {
	URL  string `json:"url"`
	Kind string `json:"kind"`           // "image" or "video"
	Size int64  `json:"size,omitempty"` // as QQ announced it; 0 when unknown
}

// recordMedia marks the part that carries a message's picture or video
// embed (the last one) for re-upload.
func recordMedia(m bridge.Message, parts []recordPart) {
	if m.Media == nil || len(parts) == 0 || httpURL(m.Media.URL) == "" {
		return
	}
	var kind string
	switch m.Kind {
	case bridge.KindImage:
		kind = "image"
	case bridge.KindVideo:
		kind = "video"
	default:
		return
	}
	parts[len(parts)-1].File = &recordFile{URL: httpURL(m.Media.URL), Kind: kind, Size: m.Media.Size}
}

// postWithFile posts a part that carries a QQ file: downloaded and
// attached when it can be, else the recorded link with a note that says
// why. It never posts the part silently without its file.
func (a *Adapter) postWithFile(ctx context.Context, ref bridge.ChannelRef, params *discordgo.WebhookParams, p recordPart) (*discordgo.Message, error) {
	f, why := a.download(ctx, p.File)
	if err := ctx.Err(); err != nil {
		return nil, err // shutting down: nothing was posted
	}
	if why == "" {
		up := *params
		up.Embeds = nil
		up.Files = []*discordgo.File{{Name: f.Name, ContentType: f.ContentType, Reader: bytes.NewReader(f.Data)}}
		msg, err := a.execute(ctx, ref, &up)
		if err == nil || restCode(err) != 40005 {
			return msg, err
		}
		// 413/40005: Discord refused the file (a server's limit can be
		// lower than configured); nothing was posted.
		a.log.Warn("Discord refused a QQ file as too large; linking it instead", "url", p.File.URL, "bytes", len(f.Data))
		why = fmt.Sprintf("Discord refused the %s (%s) as too large", p.File.Kind, humanSize(int64(len(f.Data))))
	}
	link := *params
	link.Embeds = withNote(p.Embeds, why)
	return a.execute(ctx, ref, &link)
}

// download fetches a recorded file, or says why it is not uploaded.
func (a *Adapter) download(ctx context.Context, rf *recordFile) (media.File, string) {
	limit := a.opts.UploadLimit
	tooBig := func(n int64) string {
		return fmt.Sprintf("the %s is too big to upload (%s; Discord takes up to %s)", rf.Kind, humanSize(n), humanSize(limit))
	}
	if rf.Size > limit {
		return media.File{}, tooBig(rf.Size)
	}
	if a.opts.Media == nil {
		return media.File{}, "re-uploading QQ files is off"
	}
	f, err := a.opts.Media.Fetch(ctx, rf.URL)
	switch {
	case errors.Is(err, media.ErrTooLarge):
		return media.File{}, fmt.Sprintf("the %s is bigger than the upload limit (%s)", rf.Kind, humanSize(limit))
	case err != nil:
		a.log.Warn("could not download a QQ file; linking it instead", "url", rf.URL, "err", err)
		return media.File{}, fmt.Sprintf("the %s could not be downloaded (%s)", rf.Kind, downloadReason(err))
	case int64(len(f.Data)) > limit:
		return media.File{}, tooBig(int64(len(f.Data)))
	case len(f.Data) == 0:
		return media.File{}, fmt.Sprintf("QQ served an empty %s", rf.Kind)
	}
	f.Name = uploadName(f.Name, rf.Kind)
	return f, ""
}

// downloadReason is a short reason for a failed download, for the note.
func downloadReason(err error) string {
	switch {
	case errors.Is(err, media.ErrForbiddenAddress):
		return "its address is not a public one"
	case errors.Is(err, media.ErrScheme):
		return "not an http(s) link"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.HasPrefix(s[i+2:], "HTTP ") {
		return s[i+2:]
	}
	return "network error"
}

// uploadName is the fetcher's name when it has an extension, else one by
// kind, so that Discord shows the file inline.
func uploadName(name, kind string) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == '/' || r == '\\' {
			return '_'
		}
		return r
	}, name)
	if path.Ext(name) != "" && path.Ext(name) != "." && len(name) <= 100 {
		return name
	}
	if kind == "video" {
		return "video.mp4"
	}
	return "image.jpg"
}

// withNote copies the recorded embeds, adding the note that the file was
// not re-uploaded to the last one's description. Titles and URLs, which
// FindPosted compares, are kept.
func withNote(embeds []*discordgo.MessageEmbed, why string) []*discordgo.MessageEmbed {
	note := "⚠️ Not re-uploaded: " + why + ". The link is QQ's and may stop working."
	out := make([]*discordgo.MessageEmbed, len(embeds))
	for i, e := range embeds {
		c := *e
		out[i] = &c
	}
	if n := len(out); n > 0 {
		last := out[n-1]
		desc := note
		if last.Description != "" {
			desc = last.Description + "\n" + note
		}
		last.Description = clip(desc, maxEmbedDescription)
		return out
	}
	return []*discordgo.MessageEmbed{{Title: "QQ file", Description: note}}
}

// uploadedPart reports whether a posted message is the uploaded form of a
// part that carries a file: its text, one attachment and no embed.
func uploadedPart(dm *discordgo.Message, p recordPart) bool {
	return strings.TrimSpace(dm.Content) == strings.TrimSpace(p.Content) && len(dm.Attachments) == 1 && len(dm.Embeds) == 0
}

// rewindFiles rewinds the files of a webhook post before an attempt, so
// that a retry after a 429 uploads them whole again.
func rewindFiles(params *discordgo.WebhookParams) {
	for _, f := range params.Files {
		if s, ok := f.Reader.(io.Seeker); ok {
			_, _ = s.Seek(0, io.SeekStart)
		}
	}
}

var _ MediaFetcher = (*media.Fetcher)(nil)
