package qq

import (
	"fmt"
	"net/url"
	"strings"
)

// Hosts the client talks to; each may be overridden through Endpoints.
const (
	HostMusicu       = "u.y.qq.com"
	HostTencentMusic = "api.tencentmusic.com"
	HostPtlogin      = "ssl.ptlogin2.qq.com"
	HostPtloginGraph = "ssl.ptlogin2.graph.qq.com"
	HostGraph        = "graph.qq.com"
	HostWeixin       = "open.weixin.qq.com"
	HostWeixinLP     = "lp.open.weixin.qq.com"
	HostMQTT         = "mu.y.qq.com"
)

// KnownHosts lists every QQ host the library (and its login flows) use.
var KnownHosts = []string{HostMusicu, HostTencentMusic, HostPtlogin, HostPtloginGraph, HostGraph, HostWeixin, HostWeixinLP, HostMQTT}

// Endpoints maps a QQ host (for example "u.y.qq.com") to the base URL that
// replaces its scheme and host, for example "http://127.0.0.1:8080" or
// "https://proxy.example/qq". The base's path, if any, is put before the
// original path. For the MQTT host mu.y.qq.com an http base means ws and
// https means wss.
type Endpoints map[string]string

// Validate checks that every base is an absolute http(s) URL (ws(s) is also
// accepted for mu.y.qq.com) without query or fragment.
func (e Endpoints) Validate() error {
	for host, base := range e {
		if host == "" || strings.ContainsAny(host, "/:") {
			return fmt.Errorf("qq: endpoint host %q must be a bare host name such as u.y.qq.com", host)
		}
		u, err := url.Parse(base)
		if err != nil {
			return fmt.Errorf("qq: endpoint for %s: %q is not a URL: %w", host, base, err)
		}
		ok := u.Scheme == "http" || u.Scheme == "https" || (strings.EqualFold(host, HostMQTT) && (u.Scheme == "ws" || u.Scheme == "wss"))
		if !ok || u.Host == "" {
			return fmt.Errorf("qq: endpoint for %s: %q must be an absolute http:// or https:// URL", host, base)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("qq: endpoint for %s: %q must not have a query or fragment", host, base)
		}
	}
	return nil
}

// Rewrite applies the overrides to rawURL: when its host has an entry, the
// scheme and host are replaced by the base's (and the base's path is
// prefixed). Other URLs, and URLs that do not parse, come back unchanged.
func (e Endpoints) Rewrite(rawURL string) string {
	if len(e) == 0 {
		return rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return rawURL
	}
	base, ok := e[strings.ToLower(u.Hostname())]
	if !ok {
		for h, b := range e {
			if strings.EqualFold(h, u.Hostname()) {
				base, ok = b, true
				break
			}
		}
		if !ok {
			return rawURL
		}
	}
	b, err := url.Parse(base)
	if err != nil || b.Host == "" {
		return rawURL
	}
	out := *u
	out.Scheme = b.Scheme
	if u.Scheme == "ws" || u.Scheme == "wss" {
		switch b.Scheme {
		case "http":
			out.Scheme = "ws"
		case "https":
			out.Scheme = "wss"
		}
	}
	out.Host = b.Host
	out.User = nil
	if p := strings.TrimSuffix(b.Path, "/"); p != "" {
		out.Path = p + u.Path
		if u.RawPath != "" {
			out.RawPath = strings.TrimSuffix(b.EscapedPath(), "/") + u.RawPath
		}
	}
	return out.String()
}
