package jwtservice

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit limits token requests per client address. Zero Rate means off.
type RateLimit struct {
	Rate  float64 // requests per second
	Burst int
	// Client names the client of a request, e.g. from X-Forwarded-For when
	// a trusted reverse proxy (which makes every client look like itself)
	// sent it; nil takes the connection's peer address.
	Client func(r *http.Request) string
}

// maxLimiters bounds the per-address table; idle entries are swept first.
const maxLimiters = 100_000

type limiter struct {
	cfg RateLimit
	now func() time.Time

	mu      sync.Mutex
	clients map[string]*rate.Limiter
}

func newLimiter(cfg RateLimit, now func() time.Time) *limiter {
	return &limiter{cfg: cfg, now: now, clients: map[string]*rate.Limiter{}}
}

// allow reports whether the client of r may make a request now.
func (l *limiter) allow(r *http.Request) bool {
	if l == nil || l.cfg.Rate <= 0 {
		return true
	}
	key := l.clientKey(r)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.clients[key]
	if !ok {
		if len(l.clients) >= maxLimiters {
			l.sweep(now)
		}
		lim = rate.NewLimiter(rate.Limit(l.cfg.Rate), l.cfg.Burst)
		l.clients[key] = lim
	}
	return lim.AllowN(now, 1)
}

// sweep drops limiters that are full again (their clients are idle); if
// that frees nothing the table is reset rather than grown without bound.
func (l *limiter) sweep(now time.Time) {
	for k, lim := range l.clients {
		if lim.TokensAt(now) >= float64(l.cfg.Burst) {
			delete(l.clients, k)
		}
	}
	if len(l.clients) >= maxLimiters {
		clear(l.clients)
	}
}

func (l *limiter) clientKey(r *http.Request) string {
	if l.cfg.Client != nil {
		return l.cfg.Client(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
