package openid

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"strconv"
	"strings"
)

// hostPort is one place to connect to: a hostname or IP literal (no
// brackets) and a port.
type hostPort struct {
	host string
	port uint16
}

func (hp hostPort) String() string { return net.JoinHostPort(hp.host, strconv.Itoa(int(hp.port))) }

// route says how to reach a discovered homeserver: where to connect (SRV
// may give several targets, tried in order), which name the TLS certificate
// must carry (also the SNI unless it is an IP) and which Host header to send.
// Routes are immutable once made.
type route struct {
	// key is the host of the request URL, a name under .invalid derived
	// from tlsName and targets. The transport pools connections by it, so a
	// connection is reused only for the route it was dialled and verified
	// for, and the dialer checks that it matches the route in the context.
	key     string
	tlsName string
	host    string
	targets []hostPort
	via     string // how it was found, for logs
}

func newRoute(tlsName, hostHeader, via string, targets ...hostPort) *route {
	h := sha256.New()
	h.Write([]byte(tlsName))
	for _, t := range targets {
		h.Write([]byte{0})
		h.Write([]byte(t.String()))
	}
	sum := h.Sum(nil)
	return &route{
		key:     "r" + hex.EncodeToString(sum[:16]) + ".invalid",
		tlsName: tlsName,
		host:    hostHeader,
		targets: targets,
		via:     via,
	}
}

func (r *route) targetList() string {
	s := make([]string, len(r.targets))
	for i, t := range r.targets {
		s[i] = t.String()
	}
	return strings.Join(s, ",")
}

type routeCtxKey struct{}

func withRoute(ctx context.Context, r *route) context.Context {
	return context.WithValue(ctx, routeCtxKey{}, r)
}

func routeFrom(ctx context.Context) (*route, bool) {
	r, ok := ctx.Value(routeCtxKey{}).(*route)
	return r, ok && r != nil
}
