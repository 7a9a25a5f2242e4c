package openid

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

const (
	resolveTTL      = time.Hour       // after a valid .well-known, or when none is needed
	resolveFailTTL  = 2 * time.Minute // after the .well-known failed
	maxResolutions  = 10_000
	wellKnownPath   = "/.well-known/matrix/server"
	httpsPort       = 443
	srvService      = "matrix-fed"
	srvServiceOlder = "matrix" // deprecated, still tried
)

// Resolver is the part of *net.Resolver this package uses.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
}

var _ Resolver = (*net.Resolver)(nil)

// resolve returns the route to a discovered homeserver, from the cache or
// by discovery shared with concurrent callers for the same name. ctx is
// already detached from the callers and bounded.
func (v *Verifier) resolve(ctx context.Context, sn serverName) (*route, error) {
	if r, ok := v.routes.get(sn.raw, v.now()); ok {
		return r, nil
	}
	r, err, _ := v.resolving.Do(sn.raw, func() (any, error) {
		rctx, done, err := v.startShared(ctx, v.resolveTimeout())
		if err != nil {
			return nil, err
		}
		defer done()
		start := v.now()
		r, ttl, err := v.discover(rctx, sn)
		if err != nil {
			return nil, err
		}
		v.routes.put(sn.raw, r, start.Add(ttl), start)
		v.logger.Debug("openid: resolved homeserver", "server", sn.raw, "via", r.via,
			"targets", r.targetList(), "tls_name", r.tlsName, "host", r.host)
		return r, nil
	})
	if err != nil {
		return nil, err
	}
	return r.(*route), nil
}

// resolveTimeout bounds one discovery: a .well-known exchange and two SRV
// lookups.
func (v *Verifier) resolveTimeout() time.Duration {
	return v.cfg.RequestTimeout + 2*v.cfg.ConnectTimeout
}

// discover implements "Resolving server names" of the server-server API and
// says how long its answer may be cached.
func (v *Verifier) discover(ctx context.Context, sn serverName) (*route, time.Duration, error) {
	switch {
	case sn.ip.IsValid():
		ip := sn.ip.String()
		return newRoute(ip, sn.raw, "ip literal", hostPort{ip, cmp.Or(sn.port, federationPort)}), resolveTTL, nil
	case sn.port != 0:
		return newRoute(sn.host, sn.raw, "explicit port", hostPort{sn.host, sn.port}), resolveTTL, nil
	}
	d, err := v.wellKnown(ctx, sn.host)
	if err == nil {
		switch {
		case d.ip.IsValid():
			ip := d.ip.String()
			return newRoute(ip, d.raw, "well-known ip literal", hostPort{ip, cmp.Or(d.port, federationPort)}), resolveTTL, nil
		case d.port != 0:
			return newRoute(d.host, d.raw, "well-known explicit port", hostPort{d.host, d.port}), resolveTTL, nil
		}
		r, err := v.srvRoute(ctx, d.host, "well-known ")
		return r, resolveTTL, err
	}
	v.logger.Debug("openid: no usable .well-known/matrix/server", "server", sn.raw, "reason", reason(err), "err", err.Error())
	r, err := v.srvRoute(ctx, sn.host, "")
	return r, resolveFailTTL, err
}

// srvRoute routes to name through its SRV records, or name:8448 without
// any. TLS name and Host header are name in both cases.
func (v *Verifier) srvRoute(ctx context.Context, name, via string) (*route, error) {
	for _, service := range []string{srvService, srvServiceOlder} {
		if targets := v.lookupSRV(ctx, service, name); len(targets) > 0 {
			return newRoute(name, name, via+"srv _"+service+"._tcp", targets...), nil
		}
	}
	if err := ctx.Err(); err != nil {
		// The lookups may have failed only because time ran out; do not
		// cache a fallback that may be wrong.
		return nil, fail(ErrUnreachable, fmt.Sprintf("resolving %s: %v", name, err))
	}
	return newRoute(name, name, via+"default port", hostPort{name, federationPort}), nil
}

// lookupSRV returns valid targets of _service._tcp.name by ascending
// priority, then descending weight. Like net.Resolver it keeps the valid
// records of an answer that also held invalid ones.
func (v *Verifier) lookupSRV(ctx context.Context, service, name string) []hostPort {
	lctx, cancel := context.WithTimeout(ctx, v.cfg.ConnectTimeout)
	defer cancel()
	_, recs, _ := v.cfg.Resolver.LookupSRV(lctx, service, "tcp", name)
	recs = slices.DeleteFunc(slices.Clone(recs), func(r *net.SRV) bool {
		if r == nil || r.Port == 0 {
			return true
		}
		t := strings.TrimSuffix(r.Target, ".")
		return checkHostname(t) != "" // also drops "." (service not offered)
	})
	slices.SortStableFunc(recs, func(a, b *net.SRV) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(b.Weight, a.Weight))
	})
	var out []hostPort
	for _, r := range recs[:min(len(recs), maxTargets)] {
		out = append(out, hostPort{strings.TrimSuffix(r.Target, "."), r.Port})
	}
	return out
}

// wellKnown fetches https://host/.well-known/matrix/server through the
// guard and returns the delegated server name.
func (v *Verifier) wellKnown(ctx context.Context, host string) (serverName, error) {
	rt := newRoute(host, host, "well-known", hostPort{host, httpsPort})
	ctx, cancel := context.WithTimeout(withRoute(ctx, rt), v.cfg.RequestTimeout)
	defer cancel()
	u := &url.URL{Scheme: "https", Host: rt.key, Path: wellKnownPath}
	status, body, err := v.get(ctx, v.guarded, u, rt.host)
	if err != nil {
		return serverName{}, err
	}
	if status != 200 {
		return serverName{}, statusFailure(status)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil || doc == nil {
		return serverName{}, fail(ErrBadResponse, ".well-known is not a JSON object")
	}
	var delegated string
	if err := json.Unmarshal(doc["m.server"], &delegated); err != nil {
		return serverName{}, fail(ErrBadResponse, ".well-known has no string m.server")
	}
	d, err := parseServerName(delegated)
	if err != nil {
		return serverName{}, fail(ErrBadResponse, ".well-known m.server: "+err.Error())
	}
	return d, nil
}
