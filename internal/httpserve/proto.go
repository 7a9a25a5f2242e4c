package httpserve

import (
	"net/http"
	"net/netip"
	"strings"
)

// HTTPS reports whether the client's request came over TLS: to us, or to
// a trusted proxy that says so in X-Forwarded-Proto (its last value, the
// one the proxy next to us wrote). Other peers' headers are not believed.
func (c *ClientAddr) HTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !c.trusts(canonical(peer.Addr())) {
		return false
	}
	values := r.Header.Values("X-Forwarded-Proto")
	if len(values) == 0 {
		return false
	}
	last := values[len(values)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	return strings.EqualFold(strings.TrimSpace(last), "https")
}
