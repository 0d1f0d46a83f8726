package media

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// ErrForbiddenAddress (wrapped) means a URL's host is, or resolves to, an
// address the bridge never connects to for a peer's URL: loopback, private,
// link-local, cloud metadata and other non-public ranges.
var ErrForbiddenAddress = errors.New("media: the address is not a public internet address")

// Resolver looks up a host's addresses; *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Dialer opens a connection; *net.Dialer satisfies it.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// nonPublic are ranges that netip.Addr's own predicates do not cover.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fd00:ec2::254/128"),
}

// nat64 is the well-known NAT64 prefix: its last 32 bits are an IPv4
// address, judged as such.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// Public reports whether a is an address a peer's URL may make the bridge
// connect to. IPv4-mapped and NAT64 addresses are judged by the IPv4
// address they carry. The metadata address 169.254.169.254 is link-local.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	if a.Is6() && nat64.Contains(a) {
		b := a.As16()
		a = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() ||
		a.IsUnspecified() || a.Zone() != "" {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// specialUseTLDs never name a public internet host (RFC 6761, 6762,
// 7686): they are refused without asking DNS.
var specialUseTLDs = map[string]bool{"example": true, "invalid": true, "test": true, "localhost": true, "local": true, "onion": true, "internal": true}

// specialUse reports whether host is a name under a special-use TLD.
func specialUse(host string) bool {
	h := hostKey(host)
	if i := strings.LastIndexByte(h, '.'); i >= 0 {
		h = h[i+1:]
	}
	return specialUseTLDs[h]
}

// guard dials only public addresses, except for the hosts it trusts (the
// QQ hosts an operator pointed elsewhere in qq.endpoints). It resolves the
// name itself and connects to the address it checked, so a second DNS
// answer cannot swap in another address between the check and the dial.
type guard struct {
	resolver Resolver
	dialer   Dialer
	trusted  map[string]bool
}

// hostKey normalises a host for the trusted set: lower case, no brackets,
// no trailing dot.
func hostKey(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
}

func (g *guard) dialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("media: bad address %q: %w", address, err)
	}
	if g.trusted[hostKey(host)] {
		return g.dialer.DialContext(ctx, network, address)
	}
	if specialUse(host) {
		return nil, fmt.Errorf("%w: %s is a special-use name (RFC 6761), never on the public internet", ErrForbiddenAddress, host)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		lookup := "ip"
		switch network {
		case "tcp4":
			lookup = "ip4"
		case "tcp6":
			lookup = "ip6"
		}
		if addrs, err = g.resolver.LookupNetIP(ctx, lookup, host); err != nil {
			return nil, fmt.Errorf("media: look up %s: %w", host, err)
		}
	}
	// Every answer must be public: a name that resolves to a public and a
	// private address is refused whole.
	for _, a := range addrs {
		if !Public(a) {
			return nil, fmt.Errorf("%w: %s is %s", ErrForbiddenAddress, host, a)
		}
	}
	var last error = fmt.Errorf("media: %s has no address", host)
	for _, a := range addrs {
		c, err := g.dialer.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}
