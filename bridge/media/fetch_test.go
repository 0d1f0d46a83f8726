package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
)

func TestPublic(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1", false},
		{"127.8.9.10", false},
		{"10.0.0.1", false},
		{"172.16.0.1", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"169.254.1.1", false},
		{"100.64.0.1", false},
		{"0.0.0.0", false},
		{"255.255.255.255", false},
		{"224.0.0.1", false},
		{"::1", false},
		{"::", false},
		{"fe80::1", false},
		{"fc00::1", false},
		{"fd00:ec2::254", false}, // AWS metadata over IPv6
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false},
		{"64:ff9b::a9fe:a9fe", false}, // NAT64 of 169.254.169.254
		{"8.8.8.8", true},
		{"93.184.216.34", true},
		{"2606:4700:4700::1111", true},
		{"::ffff:8.8.8.8", true},
	}
	for _, tt := range tests {
		if got := Public(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("Public(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

// stubResolver answers from a table and never asks the network.
type stubResolver map[string][]string

func (r stubResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	as, ok := r[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]netip.Addr, len(as))
	for i, a := range as {
		out[i] = netip.MustParseAddr(a)
	}
	return out, nil
}

// recordingDialer records every address it is asked to dial. It connects
// only where route says (to a server on loopback), and refuses the rest
// without opening anything, so no test sends a packet off the machine.
type recordingDialer struct {
	route map[string]string // dialled address -> loopback address
	mu    sync.Mutex
	asked []string
}

func (d *recordingDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d.mu.Lock()
	d.asked = append(d.asked, address)
	to, ok := d.route[address]
	d.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("recording dialer: %s is not routed in this test", address)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, to)
}

func (d *recordingDialer) calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.asked...)
}

func TestFetchRefusesNonPublicBeforeConnecting(t *testing.T) {
	res := stubResolver{
		"internal.qq-media.net": {"10.0.0.5"},
		"meta.qq-media.net":     {"169.254.169.254"},
		"mixed.qq-media.net":    {"93.184.216.34", "127.0.0.1"},
		"v6local.qq-media.net":  {"::1"},
	}
	tests := []string{
		"http://127.0.0.1/a.png",
		"http://10.0.0.1/a.png",
		"http://169.254.169.254/latest/meta-data/",
		"http://[::1]:8080/a.png",
		"http://[::ffff:127.0.0.1]/a.png",
		"https://internal.qq-media.net/a.png",
		"http://meta.qq-media.net/",
		"http://mixed.qq-media.net/a.png",
		"http://v6local.qq-media.net/a.png",
		"http://0.0.0.0:9090/metrics",
		"http://img.example/a.png", // special-use: never looked up
		"http://cdn.invalid/a.png",
		"http://localhost:8080/a",
		"http://printer.local/",
	}
	for _, u := range tests {
		t.Run(u, func(t *testing.T) {
			d := &recordingDialer{}
			f := New(Options{Resolver: res, Dialer: d})
			_, err := f.Fetch(context.Background(), u)
			if !errors.Is(err, ErrForbiddenAddress) {
				t.Fatalf("Fetch(%s) = %v, want ErrForbiddenAddress", u, err)
			}
			if got := d.calls(); len(got) != 0 {
				t.Errorf("the dialer was asked for %v; nothing may be dialled", got)
			}
		})
	}
}

func TestFetchRefusesSchemes(t *testing.T) {
	d := &recordingDialer{}
	f := New(Options{Resolver: stubResolver{}, Dialer: d})
	for _, u := range []string{"file:///etc/passwd", "ftp://example.com/a", "gopher://x/", "//no-scheme/a", "http:///nohost"} {
		if _, err := f.Fetch(context.Background(), u); err == nil {
			t.Errorf("Fetch(%q) succeeded", u)
		}
	}
	if got := d.calls(); len(got) != 0 {
		t.Errorf("dialled %v", got)
	}
}

// cdn is a loopback server that the tests reach as a public host:
// "cdn.qq-media.net" resolves (in the stub) to a public address, and the
// recording dialer routes that address to the server.
type cdn struct {
	srv  *httptest.Server
	dial *recordingDialer
	f    *Fetcher
}

const cdnAddr = "93.184.216.34:80"

func newCDN(t *testing.T, h http.Handler, opts Options) *cdn {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	loop := strings.TrimPrefix(srv.URL, "http://")
	d := &recordingDialer{route: map[string]string{cdnAddr: loop}}
	opts.Resolver = stubResolver{"cdn.qq-media.net": {"93.184.216.34"}, "internal.qq-media.net": {"10.1.2.3"}}
	opts.Dialer = d
	return &cdn{srv: srv, dial: d, f: New(opts)}
}

func TestFetchImageBytesUnchanged(t *testing.T) {
	img := make([]byte, 3<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range img {
		img[i] = byte(rng.Uint32())
	}
	c := newCDN(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(img)
	}), Options{})
	got, err := c.f.Fetch(context.Background(), "http://cdn.qq-media.net/pic/abc.jpg?sig=1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Data, img) {
		t.Fatalf("downloaded %d bytes that differ from the %d served", len(got.Data), len(img))
	}
	if got.Name != "abc.jpg" || got.ContentType != "image/jpeg" {
		t.Errorf("name %q, type %q", got.Name, got.ContentType)
	}
	if calls := c.dial.calls(); len(calls) != 1 || calls[0] != cdnAddr {
		t.Errorf("dialled %v, want the checked address %s", calls, cdnAddr)
	}
}

func TestFetchTooLarge(t *testing.T) {
	const limit = 1 << 20
	big := bytes.Repeat([]byte("v"), 3*limit)
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"content-length says so", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			w.Write(big)
		}},
		{"no content-length", func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < 3; i++ {
				w.Write(big[:limit])
				w.(http.Flusher).Flush()
			}
		}},
		{"body delimited by the connection's end", func(w http.ResponseWriter, r *http.Request) {
			// No length at all: the body ends when the server closes;
			// never more than the limit is read.
			hj, _, _ := w.(http.Hijacker).Hijack()
			defer hj.Close()
			fmt.Fprintf(hj, "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\n\r\n")
			hj.Write(big)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCDN(t, tt.handler, Options{MaxBytes: limit})
			_, err := c.f.Fetch(context.Background(), "http://cdn.qq-media.net/v.mp4")
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Fetch = %v, want ErrTooLarge", err)
			}
		})
	}
}

func TestFetchRedirects(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/to-metadata", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	})
	mux.HandleFunc("/to-internal-name", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://internal.qq-media.net/secret", http.StatusFound)
	})
	mux.HandleFunc("/to-file", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/to-ok", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok.png", http.StatusFound)
	})
	mux.HandleFunc("/ok.png", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "png") })
	c := newCDN(t, mux, Options{})
	for _, p := range []string{"/to-metadata", "/to-internal-name"} {
		_, err := c.f.Fetch(context.Background(), "http://cdn.qq-media.net"+p)
		if !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("%s: Fetch = %v, want ErrForbiddenAddress", p, err)
		}
	}
	for _, p := range []string{"/to-file", "/loop"} {
		if _, err := c.f.Fetch(context.Background(), "http://cdn.qq-media.net"+p); err == nil {
			t.Errorf("%s: followed", p)
		}
	}
	for _, a := range c.dial.calls() {
		if a != cdnAddr {
			t.Errorf("the dialer was asked for %s", a)
		}
	}
	got, err := c.f.Fetch(context.Background(), "http://cdn.qq-media.net/to-ok")
	if err != nil || string(got.Data) != "png" || got.Name != "ok.png" {
		t.Errorf("a redirect within the public host: %q %q %v", got.Data, got.Name, err)
	}
}

func TestFetchTrustedHost(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	if _, err := New(Options{}).Fetch(context.Background(), srv.URL+"/a"); !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("an untrusted loopback host: %v", err)
	}
	f := New(Options{TrustedHosts: []string{u.Hostname()}})
	got, err := f.Fetch(context.Background(), srv.URL+"/a")
	if err != nil || string(got.Data) != "ok" {
		t.Fatalf("a host configured in qq.endpoints: %q %v", got.Data, err)
	}
}

func TestFetchConcurrencyBound(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	c := newCDN(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		io.WriteString(w, "x")
	}), Options{Concurrency: 1})
	done := make(chan error, 1)
	go func() {
		_, err := c.f.Fetch(context.Background(), "http://cdn.qq-media.net/a")
		done <- err
	}()
	<-entered
	// The one slot is taken: a second download waits for it, and gives
	// up when its context ends, without reaching the server.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.f.Fetch(ctx, "http://cdn.qq-media.net/b"); !errors.Is(err, context.Canceled) {
		t.Errorf("second download while the slot is taken: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestFetchServerError(t *testing.T) {
	c := newCDN(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "expired", http.StatusForbidden)
	}), Options{})
	_, err := c.f.Fetch(context.Background(), "http://cdn.qq-media.net/a.png?sig=old")
	if err == nil || !strings.Contains(err.Error(), "HTTP 403") {
		t.Fatalf("Fetch = %v, want HTTP 403", err)
	}
}

func TestFileName(t *testing.T) {
	tests := []struct{ url, ct, want string }{
		{"http://h/a/b/photo.png?x=1", "", "photo.png"},
		{"http://h/stream", "video/mp4", "file.mp4"},
		{"http://h/", "image/png", "file.png"},
		{"http://h/noext", "", "file"},
		{"http://h/noext", "garbage;;", "file"},
	}
	for _, tt := range tests {
		u, _ := url.Parse(tt.url)
		if got := fileName(u, tt.ct); got != tt.want {
			t.Errorf("fileName(%s, %q) = %q, want %q", tt.url, tt.ct, got, tt.want)
		}
	}
}
