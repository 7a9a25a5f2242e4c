package httpserve

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ErrBadProxy is a trusted-proxy entry that is not a CIDR or an address.
var ErrBadProxy = errors.New("not a CIDR or IP address")

// ParseTrustedProxy reads one trusted-proxy entry: a CIDR (10.0.0.0/8) or a
// single address. A CIDR with host bits set (10.0.0.1/8) is refused, since
// what was meant is unclear.
func ParseTrustedProxy(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is %w", s, ErrBadProxy)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set, so it is %w (%s?)", s, ErrBadProxy, p.Masked())
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 { // ::ffff:10.0.0.0/104 is 10.0.0.0/8
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p, nil
}

// ClientAddr finds the address of the client behind a request. A nil
// *ClientAddr, or one trusting no proxy, takes the connection's peer.
type ClientAddr struct{ trusted []netip.Prefix }

// NewClientAddr believes X-Forwarded-For only from peers in trusted, whose
// entries ParseTrustedProxy reads.
func NewClientAddr(trusted []string) (*ClientAddr, error) {
	c := &ClientAddr{}
	var errs []error
	for _, s := range trusted {
		p, err := ParseTrustedProxy(s)
		errs = append(errs, err)
		c.trusted = append(c.trusted, p)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// Of returns the client address of r. When the peer is a trusted proxy, it
// is the rightmost X-Forwarded-For hop that is not itself a trusted proxy:
// each proxy appends the address it saw, so everything left of the first
// untrusted hop was written by someone we do not trust. An unreadable hop
// ends the walk at the last readable one. The result is always an address
// we parsed (or the peer's own RemoteAddr), never header text.
func (c *ClientAddr) Of(r *http.Request) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	client := canonical(peer.Addr())
	if !c.trusts(client) {
		return client.String()
	}
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		list := values[i]
		for list != "" {
			var hop string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				list, hop = list[:j], list[j+1:]
			} else {
				list, hop = "", list
			}
			if hop = strings.TrimSpace(hop); hop == "" {
				continue
			}
			a, ok := parseHop(hop)
			if !ok {
				return client.String()
			}
			client = a
			if !c.trusts(a) {
				return a.String()
			}
		}
	}
	return client.String()
}

func (c *ClientAddr) trusts(a netip.Addr) bool {
	if c == nil {
		return false
	}
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a
// port or in brackets, as some proxies write it.
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return canonical(a), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return canonical(ap.Addr()), true
	}
	if inner, ok := strings.CutPrefix(s, "["); ok {
		if inner, ok = strings.CutSuffix(inner, "]"); ok {
			if a, err := netip.ParseAddr(inner); err == nil && a.Is6() {
				return canonical(a), true
			}
		}
	}
	return netip.Addr{}, false
}

// canonical drops what makes one host look like several: the IPv4-in-IPv6
// form and an IPv6 zone.
func canonical(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }
