package mesh

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// The homeserver's TURN servers are merged into the base while their
// credentials last; the base is never changed; a failed fetch is retried.
func TestICESource(t *testing.T) {
	base := ICEConfig{Servers: []webrtc.ICEServer{{URLs: []string{"stun:stun.example.org"}}}, PortMin: 1000, PortMax: 2000}
	fetched := make(chan struct{}, 4)
	answers := []error{errors.New("homeserver down"), nil}
	s := NewICESource(base, func(ctx context.Context) (TURN, error) {
		defer func() { fetched <- struct{}{} }()
		err := answers[0]
		answers = answers[1:]
		return TURN{URIs: []string{"turn:turn.example.org?transport=udp"}, Username: "u", Password: "p", TTL: time.Hour}, err
	}, nil)
	now := time.Unix(1_800_000_000, 0)
	s.now = func() time.Time { return now }
	if c := s.Current(); len(c.Servers) != 1 || c.PortMin != 1000 {
		t.Fatalf("before any fetch: %+v", c)
	}
	// Run's retry waits 30 s; drive the fetches through set directly
	// after the first (failed) one.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	<-fetched
	cancel()
	<-done
	if c := s.Current(); len(c.Servers) != 1 {
		t.Fatalf("after a failed fetch: %+v", c.Servers)
	}
	if wait := s.set(TURN{URIs: []string{"turn:turn.example.org?transport=udp"}, Username: "u", Password: "p", TTL: time.Hour}); wait != 54*time.Minute {
		t.Errorf("refresh after %v, want 54m", wait)
	}
	c := s.Current()
	if len(c.Servers) != 2 || c.Servers[1].Username != "u" || c.Servers[1].Credential != "p" ||
		!slices.Equal(c.Servers[1].URLs, []string{"turn:turn.example.org?transport=udp"}) {
		t.Fatalf("merged servers %+v", c.Servers)
	}
	c.Servers[0].URLs[0] = "changed"
	if s.Current().Servers[0].URLs[0] == "changed" {
		t.Error("Current shares the base's slices")
	}
	now = now.Add(time.Hour)
	if c := s.Current(); len(c.Servers) != 1 {
		t.Errorf("expired TURN credentials still given: %+v", c.Servers)
	}
	if wait := s.set(TURN{}); wait != maxTURNRetry || len(s.Current().Servers) != 1 {
		t.Errorf("no TURN at the homeserver: refresh after %v, servers %+v", wait, s.Current().Servers)
	}
}

func TestTURNRefresh(t *testing.T) {
	for ttl, want := range map[time.Duration]time.Duration{
		0: 30 * time.Second, 10 * time.Second: 30 * time.Second, 24 * time.Hour: 24 * time.Hour * 9 / 10,
	} {
		if got := TURNRefresh(ttl); got != want {
			t.Errorf("ttl %v: refresh after %v, want %v", ttl, got, want)
		}
	}
}
