// Package media downloads the pictures, videos and files that QQ messages
// point at, so that the bridge can re-upload them instead of linking to a
// URL that expires. The URLs come from peers, so every download is
// bounded (size, time, concurrency), goes over http or https only, and
// never reaches a loopback, private, link-local or cloud-metadata address,
// whether named directly, through a DNS answer or through a redirect;
// only the hosts the operator configured (qq.endpoints) are trusted.
package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

var (
	// ErrTooLarge (wrapped) means the file is larger than the limit: the
	// caller links to it instead.
	ErrTooLarge = errors.New("media: the file is larger than the upload limit")
	// ErrScheme (wrapped) means the URL is not http or https.
	ErrScheme = errors.New("media: only http and https URLs are downloaded")
)

// Options bound a Fetcher. Zero values take the defaults noted.
type Options struct {
	// MaxBytes is the largest file downloaded (default 10 MiB, Discord's
	// default upload limit).
	MaxBytes int64
	// Timeout bounds one download, redirects included (default 30s).
	Timeout time.Duration
	// Concurrency bounds the downloads in flight (default 4).
	Concurrency int
	// MaxRedirects bounds the redirects followed (default 5).
	MaxRedirects int
	// TrustedHosts are host names (no port) that may resolve to any
	// address: the QQ hosts an operator pointed at a private server.
	TrustedHosts []string
	// Resolver and Dialer default to the system's; tests put stand-ins
	// here that never leave the machine.
	Resolver Resolver
	Dialer   Dialer
	// UserAgent is sent with each request (default none beyond Go's).
	UserAgent string
}

// File is a downloaded file.
type File struct {
	Data []byte
	// ContentType is what the server said, or "" when it said nothing.
	ContentType string
	// Name is a file name for the upload, from the URL's path or the
	// content type.
	Name string
}

// Fetcher downloads files under the bounds of its Options. It is safe for
// concurrent use.
type Fetcher struct {
	opts   Options
	client *http.Client
	slots  chan struct{}
}

// New returns a Fetcher.
func New(opts Options) *Fetcher {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 10 << 20
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.MaxRedirects <= 0 {
		opts.MaxRedirects = 5
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	if opts.Dialer == nil {
		opts.Dialer = &net.Dialer{Timeout: 10 * time.Second}
	}
	g := &guard{resolver: opts.Resolver, dialer: opts.Dialer, trusted: map[string]bool{}}
	for _, h := range opts.TrustedHosts {
		g.trusted[hostKey(h)] = true
	}
	tr := &http.Transport{
		// No proxy from the environment: it would dial on our behalf,
		// past the guard.
		Proxy:                 nil,
		DialContext:           g.dialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 15 * time.Second,
		MaxIdleConns:          opts.Concurrency,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	client := &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > opts.MaxRedirects {
				return fmt.Errorf("media: more than %d redirects", opts.MaxRedirects)
			}
			return checkScheme(req.URL)
		},
	}
	return &Fetcher{opts: opts, client: client, slots: make(chan struct{}, opts.Concurrency)}
}

// MaxBytes is the largest file the Fetcher downloads.
func (f *Fetcher) MaxBytes() int64 { return f.opts.MaxBytes }

func checkScheme(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: %q", ErrScheme, u.Scheme)
	}
	if u.Host == "" {
		return errors.New("media: the URL has no host")
	}
	return nil
}

// Fetch downloads rawURL whole, or fails: ErrTooLarge when it is larger
// than MaxBytes (by its Content-Length or as it arrives), ErrScheme,
// ErrForbiddenAddress, or the network's or server's error. It waits for a
// free slot while Concurrency downloads are in flight.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) (File, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return File{}, fmt.Errorf("media: bad URL: %w", err)
	}
	if err := checkScheme(u); err != nil {
		return File{}, err
	}
	select {
	case f.slots <- struct{}{}:
		defer func() { <-f.slots }()
	case <-ctx.Done():
		return File{}, ctx.Err()
	}
	ctx, cancel := context.WithTimeout(ctx, f.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return File{}, fmt.Errorf("media: %w", err)
	}
	if f.opts.UserAgent != "" {
		req.Header.Set("User-Agent", f.opts.UserAgent)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		// The error quotes the URL; peers' URLs are not secret.
		return File{}, fmt.Errorf("media: download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return File{}, fmt.Errorf("media: download %s: HTTP %d", u.Redacted(), resp.StatusCode)
	}
	if resp.ContentLength > f.opts.MaxBytes {
		return File{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, resp.ContentLength, f.opts.MaxBytes)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, f.opts.MaxBytes+1))
	if err != nil {
		return File{}, fmt.Errorf("media: download %s: %w", u.Redacted(), err)
	}
	if int64(len(data)) > f.opts.MaxBytes {
		return File{}, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, f.opts.MaxBytes)
	}
	ct := resp.Header.Get("Content-Type")
	return File{Data: data, ContentType: ct, Name: fileName(resp.Request.URL, ct)}, nil
}

// fileName picks an upload name: the last element of the URL's path when
// it has an extension, else "file" with the content type's extension.
func fileName(u *url.URL, contentType string) string {
	base := path.Base(u.Path)
	if base != "." && base != "/" && path.Ext(base) != "" && !strings.ContainsAny(base, "\\\x00") {
		return base
	}
	name := "file"
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return name
	}
	if ext, ok := commonExt[mt]; ok {
		return name + ext
	}
	// The system's table, which varies by machine, for the rest.
	if exts, _ := mime.ExtensionsByType(mt); len(exts) > 0 {
		return name + exts[0]
	}
	return name
}

// commonExt is the usual extension of the types QQ's CDN serves.
var commonExt = map[string]string{
	"image/jpeg": ".jpg",
	"image/png":  ".png",
	"image/gif":  ".gif",
	"image/webp": ".webp",
	"video/mp4":  ".mp4",
	"audio/mpeg": ".mp3",
	"audio/mp4":  ".m4a",
}
