package jwtservice

import (
	"strings"
	"sync"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/lkid"
)

// webhookStats counts the LiveKit webhooks the service received, for
// /healthz?detail=1: proof that LiveKit's webhook configuration reaches us.
// Nothing in it is secret; of room names only the doctor's probe rooms
// (lkid.ProbeRoomPrefix) are kept.
type webhookStats struct {
	mu        sync.Mutex
	received  int64
	lastAt    time.Time
	refused   int64
	refusedAt time.Time
	probe     string
	probeAt   time.Time
}

// webhookDetail is webhookStats on the wire; times are RFC 3339 in UTC.
type webhookDetail struct {
	Received      int64      `json:"received"`
	LastAt        *time.Time `json:"last_at,omitempty"`
	Refused       int64      `json:"refused"`
	LastRefusedAt *time.Time `json:"last_refused_at,omitempty"`
	LastProbe     string     `json:"last_probe,omitempty"`
	LastProbeAt   *time.Time `json:"last_probe_at,omitempty"`
}

func (s *webhookStats) ok(room string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received++
	s.lastAt = at
	if strings.HasPrefix(room, lkid.ProbeRoomPrefix) && len(room) <= 128 {
		s.probe, s.probeAt = room, at
	}
}

func (s *webhookStats) refuse(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refused++
	s.refusedAt = at
}

func (s *webhookStats) detail() *webhookDetail {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := &webhookDetail{Received: s.received, Refused: s.refused, LastProbe: s.probe,
		LastAt: utcOrNil(s.lastAt), LastRefusedAt: utcOrNil(s.refusedAt), LastProbeAt: utcOrNil(s.probeAt)}
	return d
}

func utcOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
