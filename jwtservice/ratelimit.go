package jwtservice

import (
	"net/http"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/httpserve"
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

type limiter struct {
	cfg     RateLimit
	clients *httpserve.Limiter
}

func newLimiter(cfg RateLimit, now func() time.Time) *limiter {
	if cfg.Client == nil {
		var peerOnly *httpserve.ClientAddr
		cfg.Client = peerOnly.Of
	}
	return &limiter{cfg: cfg, clients: httpserve.NewLimiter(cfg.Rate, cfg.Burst, now)}
}

// allow reports whether the client of r may make a request now.
func (l *limiter) allow(r *http.Request) bool {
	if l == nil || l.cfg.Rate <= 0 {
		return true
	}
	return l.clients.Allow(l.cfg.Client(r))
}
