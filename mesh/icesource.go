package mesh

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// TURN is what a homeserver's /voip/turnServer hands a client: TURN URIs,
// short-lived credentials, and how long (TTL) they last.
type TURN struct {
	URIs               []string
	Username, Password string
	TTL                time.Duration
}

// Bounds of the TURN refresh: credentials are fetched again at 90% of their
// ttl, but not more often than minTURNRefresh; a failed fetch is retried
// after turnRetry (doubling, at most maxTURNRetry).
const (
	minTURNRefresh = 30 * time.Second
	turnRetry      = 30 * time.Second
	maxTURNRetry   = 10 * time.Minute
	maxTURNURIs    = 16
)

// ICESource is the one source of ICE settings of the calls we carry
// (mesh group calls and 1:1 calls): the configured base with the
// homeserver's TURN servers merged in while their credentials last. Current
// may be called from any goroutine; Run keeps the TURN credentials fresh.
type ICESource struct {
	base  ICEConfig
	fetch func(ctx context.Context) (TURN, error)
	log   *slog.Logger
	now   func() time.Time

	mu      sync.Mutex
	turn    []webrtc.ICEServer
	expires time.Time
}

// NewICESource returns a source of base plus, when fetch is set, the TURN
// servers it gives. It starts nothing.
func NewICESource(base ICEConfig, fetch func(ctx context.Context) (TURN, error), log *slog.Logger) *ICESource {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ICESource{base: base, fetch: fetch, log: log, now: time.Now}
}

// Current is the ICE settings for a new peer connection: a copy of the
// base with the homeserver's TURN servers added if their credentials have
// not expired.
func (s *ICESource) Current() ICEConfig {
	c := s.base
	c.Servers = nil
	c.NAT1To1IPs = slices.Clone(s.base.NAT1To1IPs)
	add := func(servers []webrtc.ICEServer) {
		for _, v := range servers {
			v.URLs = slices.Clone(v.URLs) // a peer may not change ours
			c.Servers = append(c.Servers, v)
		}
	}
	add(s.base.Servers)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.turn) > 0 && s.now().Before(s.expires) {
		add(s.turn)
	}
	return c
}

// Run fetches the homeserver's TURN servers and fetches them again before
// their ttl ends, until ctx ends. Without fetch it returns at once.
func (s *ICESource) Run(ctx context.Context) error {
	if s.fetch == nil {
		return nil
	}
	retry := turnRetry
	for {
		wait := retry
		t, err := s.fetch(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			s.log.Warn("mesh: TURN servers from the homeserver not fetched; retrying", "err", err, "in", retry)
			retry = min(2*retry, maxTURNRetry)
		default:
			retry = turnRetry
			wait = s.set(t)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
	}
}

// set stores t and says when to fetch again.
func (s *ICESource) set(t TURN) time.Duration {
	uris := t.URIs[:min(len(t.URIs), maxTURNURIs)]
	var servers []webrtc.ICEServer
	if len(uris) > 0 && t.TTL > 0 {
		servers = []webrtc.ICEServer{{URLs: slices.Clone(uris), Username: t.Username, Credential: t.Password}}
	}
	s.mu.Lock()
	s.turn, s.expires = servers, s.now().Add(t.TTL)
	s.mu.Unlock()
	s.log.Info("mesh: TURN servers from the homeserver", "uris", len(uris), "ttl", t.TTL)
	if servers == nil {
		return maxTURNRetry // none configured there: ask again now and then
	}
	return TURNRefresh(t.TTL)
}

// TURNRefresh is how long after a fetch the TURN credentials of ttl are
// fetched again: at 90% of ttl, never sooner than 30 s (a homeserver
// without TURN answers ttl 0 or none).
func TURNRefresh(ttl time.Duration) time.Duration {
	return max(ttl*9/10, minTURNRefresh)
}
