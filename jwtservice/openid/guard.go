package openid

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"
)

const (
	maxTargets = 4 // SRV targets tried per destination
	maxAddrs   = 8 // addresses dialled per connection attempt
)

// publicAddr is the production address policy: it reports whether a
// discovered destination may be dialled at a. It refuses loopback, private
// (RFC 1918, fc00::/7), link-local, multicast, unspecified, CGNAT and other
// special-purpose ranges, addresses with a zone, and IPv4 addresses
// embedded in IPv4-mapped, NAT64 or 6to4 form that it would refuse.
func publicAddr(a netip.Addr) bool {
	if !a.IsValid() || a.Zone() != "" {
		return false
	}
	a = a.Unmap()
	if a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsMulticast() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() {
		return false
	}
	if a.Is4() {
		b := a.As4()
		switch {
		case b[0] == 0, // "this network"
			b[0] == 100 && b[1]&0xc0 == 64,           // 100.64.0.0/10 CGNAT
			b[0] == 192 && b[1] == 0 && b[2] == 0,    // 192.0.0.0/24 protocol assignments
			b[0] == 192 && b[1] == 0 && b[2] == 2,    // 192.0.2.0/24 documentation
			b[0] == 198 && b[1]&0xfe == 18,           // 198.18.0.0/15 benchmarking
			b[0] == 198 && b[1] == 51 && b[2] == 100, // 198.51.100.0/24 documentation
			b[0] == 203 && b[1] == 0 && b[2] == 113,  // 203.0.113.0/24 documentation
			b[0] >= 240:                              // 240.0.0.0/4 reserved, broadcast
			return false
		}
		return true
	}
	b := a.As16()
	switch {
	case isZero(b[:12]): // ::/96, IPv4-compatible (deprecated)
		return false
	case b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b: // NAT64
		if b[4] == 0 && b[5] == 1 { // 64:ff9b:1::/48, local-use NAT64
			return false
		}
		if isZero(b[4:12]) { // 64:ff9b::/96 embeds an IPv4 address
			return publicAddr(netip.AddrFrom4([4]byte(b[12:16])))
		}
		return false
	case b[0] == 0x01 && b[1] == 0x00 && isZero(b[2:8]): // 100::/64 discard-only
		return false
	case b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00: // 2001::/32 Teredo
		return false
	case b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8: // 2001:db8::/32 documentation
		return false
	case b[0] == 0x20 && b[1] == 0x02: // 2002::/16 6to4 embeds an IPv4 address
		return publicAddr(netip.AddrFrom4([4]byte(b[2:6])))
	case b[0] == 0xfe && b[1]&0xc0 == 0xc0: // fec0::/10 site-local (deprecated)
		return false
	}
	return true
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// dialer makes every connection of this package. It resolves host names
// itself and passes cfg.Dial only ip:port, after the address policy has
// accepted every address of every target (guarded) or directly (for
// configured homeservers).
type dialer struct {
	resolver Resolver
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	allow    func(netip.Addr) bool
	timeout  time.Duration   // per DNS lookup, connect and TLS handshake
	closing  context.Context // done once the Verifier closes
	tls      *tls.Config     // base for guarded connections; ServerName set per route
}

// bound limits a whole connection attempt and ends it when the Verifier
// closes (the transport dials on a context detached from the request).
func (d *dialer) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, 3*d.timeout)
	stop := context.AfterFunc(d.closing, cancel)
	return ctx, func() { stop(); cancel() }
}

// dialGuardedTLS is the DialTLSContext of the transport for discovered
// homeservers. The route comes from the request context and must match the
// pool key the transport dials, so a pooled connection only ever serves the
// route it was checked and verified for.
func (d *dialer) dialGuardedTLS(ctx context.Context, _, addr string) (net.Conn, error) {
	rt, ok := routeFrom(ctx)
	host, _, err := net.SplitHostPort(addr)
	if !ok || err != nil || host != rt.key {
		return nil, fail(ErrForbiddenAddress, "connection without a checked route")
	}
	ctx, cancel := d.bound(ctx)
	defer cancel()
	conn, err := d.dialTargets(ctx, rt.targets, true)
	if err != nil {
		return nil, err
	}
	conf := d.tls.Clone()
	conf.ServerName = rt.tlsName
	tc := tls.Client(conn, conf)
	hctx, hcancel := context.WithTimeout(ctx, d.timeout)
	defer hcancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("TLS handshake with %s for %s: %w", conn.RemoteAddr(), rt.tlsName, err)
	}
	return tc, nil
}

// dialDirect is the DialContext of the transport for configured
// homeservers: no address policy, same timeouts.
func (d *dialer) dialDirect(ctx context.Context, _, addr string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port in %s", addr)
	}
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.dialTargets(ctx, []hostPort{{host: host, port: uint16(port)}}, false)
}

// refuse is the DialContext of the guarded transport: it only speaks https,
// through dialGuardedTLS.
func refuse(context.Context, string, string) (net.Conn, error) {
	return nil, fail(ErrForbiddenAddress, "plain HTTP to a discovered homeserver")
}

// dialTargets resolves all targets, checks every address when guarded (one
// refused address refuses the lot, before any connect), then dials the
// addresses in order until one answers.
func (d *dialer) dialTargets(ctx context.Context, targets []hostPort, guarded bool) (net.Conn, error) {
	var addrs []netip.AddrPort
	var lastErr error
	for _, t := range targets[:min(len(targets), maxTargets)] {
		ips, err := d.lookup(ctx, t.host)
		if err != nil {
			lastErr = err
			continue
		}
		for _, ip := range ips {
			if guarded && !d.allow(ip) {
				detail := "refused " + ip.String()
				if t.host != ip.String() {
					detail = t.host + " resolves to refused " + ip.String()
				}
				return nil, fail(ErrForbiddenAddress, detail)
			}
			addrs = append(addrs, netip.AddrPortFrom(ip, t.port))
		}
	}
	if len(addrs) == 0 {
		if lastErr == nil {
			lastErr = fmt.Errorf("no address for %s", targets[0].host)
		}
		return nil, lastErr
	}
	for _, ap := range addrs[:min(len(addrs), maxAddrs)] {
		actx, cancel := context.WithTimeout(ctx, d.timeout)
		conn, err := d.dial(actx, "tcp", ap.String())
		cancel()
		if err == nil {
			return conn, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// lookup returns host's addresses (host itself if it is an IP literal).
func (d *dialer) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	lctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	ipas, err := d.resolver.LookupIPAddr(lctx, host)
	if err != nil {
		return nil, err
	}
	ips := make([]netip.Addr, 0, len(ipas))
	for _, ipa := range ipas {
		ip, ok := netip.AddrFromSlice(ipa.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if ipa.Zone != "" {
			ip = ip.WithZone(ipa.Zone)
		}
		ips = append(ips, ip)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("lookup %s: no addresses", host)
	}
	return ips, nil
}
