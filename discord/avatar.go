package discord

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"time"
)

// avatarVersion is what the adapter last saw of an avatar URL.
type avatarVersion struct {
	url string // the URL to post with ("" until one was downloaded)
	at  time.Time
}

// versionedAvatar returns the avatar URL to post with: the sender's URL
// with a short hash of the picture added (bridge_v=...), so that the URL
// changes when the picture does, even when QQ keeps its URL; Discord
// caches avatars by URL and would keep showing the old face. The picture
// is downloaded with Media at most once per AvatarRefresh; without Media,
// or when the download fails, the URL is used as recorded. The avatar is
// not what FindPosted compares, so a retry with a fresher face is still
// recognised as the same message.
func (a *Adapter) versionedAvatar(ctx context.Context, raw string) string {
	if raw == "" || a.opts.Media == nil {
		return raw
	}
	if v, ok := a.avatars.Load(raw); ok {
		if av := v.(avatarVersion); time.Since(av.at) < a.opts.AvatarRefresh {
			return firstOf(av.url, raw)
		}
	}
	av := avatarVersion{at: time.Now()}
	f, err := a.opts.Media.Fetch(ctx, raw)
	if err != nil || len(f.Data) == 0 {
		a.log.Debug("could not look at an avatar; posting its URL as is", "url", raw, "err", err)
	} else {
		sum := sha256.Sum256(f.Data)
		av.url = withQuery(raw, "bridge_v", hex.EncodeToString(sum[:6]))
	}
	if a.countAvatars() > 10000 { // keep the map bounded
		a.avatars.Clear()
	}
	a.avatars.Store(raw, av)
	return firstOf(av.url, raw)
}

func (a *Adapter) countAvatars() int {
	n := 0
	a.avatars.Range(func(any, any) bool { n++; return n <= 10000 })
	return n
}

// withQuery adds one query parameter to u, keeping the rest of it as it
// is; u unchanged when it cannot be parsed or would grow past what
// Discord takes.
func withQuery(u, key, value string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	add := url.QueryEscape(key) + "=" + url.QueryEscape(value)
	if p.RawQuery == "" {
		p.RawQuery = add
	} else {
		p.RawQuery += "&" + add
	}
	if s := p.String(); len(s) <= 2048 {
		return s
	}
	return u
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
