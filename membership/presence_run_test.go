package membership

import (
	"context"
	"runtime"
	"strings"
	"testing"
)

// startedBy counts the goroutines fn started that are still there.
func startedBy(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "created by "+fn+" in goroutine")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// TestPresenceRunWaitsForItsGoroutines: when Run returns, no goroutine it
// started is left; checked at once, not after leakcheck's settle time (Run
// used to return while its Close watcher had not yet run). Its seats'
// goroutines are waited for; Close needs no goroutine of its own.
func TestPresenceRunWaitsForItsGoroutines(t *testing.T) {
	tr, clock, _ := startTracker(t)
	ready := make(chan struct{})
	close(ready)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for i := range 200 {
		p := NewPresence(nil, PresenceConfig{}, newFakeWriter(), tr, allRooms{}, ready, clock)
		if err := p.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if n := startedBy("github.com/switchboard-rtc/switchboard/membership.(*Presence).Run"); n > 0 {
			t.Fatalf("run %d: %d goroutine(s) of Run still running after it returned", i, n)
		}
	}
}

// TestPresenceClose: Close stops a running Run and one not yet started, and
// may be called again.
func TestPresenceClose(t *testing.T) {
	tr, clock, _ := startTracker(t)
	ready := make(chan struct{})
	close(ready)
	early := NewPresence(nil, PresenceConfig{}, newFakeWriter(), tr, allRooms{}, ready, clock)
	_ = early.Close()
	if err := early.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	p := NewPresence(nil, PresenceConfig{}, newFakeWriter(), tr, allRooms{}, ready, clock)
	done := make(chan error, 1)
	go func() { done <- p.Run(t.Context()) }()
	_ = p.Close()
	_ = p.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
