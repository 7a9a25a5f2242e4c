package matrixbot

import (
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
)

// TestSyncResumesOnceServerAnswers (#9 defect 12): during a homeserver
// outage the retry wait grows (here to an hour), yet once the server
// answers again the sync resumes at the next probe, not after the wait;
// every failed sync request is reported as KindSyncFailed with its error.
func TestSyncResumesOnceServerAnswers(t *testing.T) {
	leakcheck.Check(t)
	hs := newFakeHS(t)
	cfg := hs.config(t)
	cfg.Backoff = Backoff{Initial: time.Hour, Max: time.Hour}
	cfg.ProbeInterval = 20 * time.Millisecond
	r := start(t, newBot(t, nil, cfg))
	r.next(t, 30*time.Second, "first sync", syncDone)

	hs.down.Store(true)
	failed := r.next(t, 30*time.Second, "a failed sync", func(e Event) bool { return e.Kind == KindSyncFailed })
	if failed.Err == nil {
		t.Error("KindSyncFailed without Err")
	}
	probes := hs.probes.Load()
	waitUntil(t, 30*time.Second, "probes while the server is down", func() bool { return hs.probes.Load() >= probes+2 })

	hs.down.Store(false)
	failures := 1
	r.next(t, 30*time.Second, "a sync after the outage (not after the hour's retry wait)", func(e Event) bool {
		if e.Kind == KindSyncFailed {
			failures++
		}
		return e.Kind == KindSyncDone
	})
	if failures != 1 {
		t.Errorf("%d KindSyncFailed for one failed sync request", failures)
	}
}

// waitUntil polls ok until it holds, failing the test after limit.
func waitUntil(t testing.TB, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
