package matrixbot

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"maunium.net/go/mautrix"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
)

// TestSyncResumesOnceServerAnswers (#9 defect 12): during a homeserver
// outage the retry wait grows (here to an hour), yet once the server
// answers again the sync resumes at the next probe, not after the wait;
// every failed sync request is reported as KindSyncFailed with its error.
func TestSyncResumesOnceServerAnswers(t *testing.T) {
	hs, r := hourBackoffBot(t, 20*time.Millisecond)

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

// TestSyncResumesWhenServerBackBeforeProbe (#9 defect 12): the sync failed
// because the server was unreachable (a gateway's 502) and it is back
// before the first probe: that probe's answer is enough to retry now.
func TestSyncResumesWhenServerBackBeforeProbe(t *testing.T) {
	hs, r := hourBackoffBot(t, 20*time.Millisecond)
	hs.sync502.Store(1)
	r.next(t, 30*time.Second, "a failed sync", func(e Event) bool { return e.Kind == KindSyncFailed })
	r.next(t, 30*time.Second, "a sync after it (not after the hour's retry wait)", syncDone)
}

// TestSyncBackoffWhileServerAnswers (#9 defect 12): a sync that fails on
// a homeserver that answers (HTTP 500, /versions fine) is not retried
// early: the probes find nothing changed and the full retry wait applies.
func TestSyncBackoffWhileServerAnswers(t *testing.T) {
	hs, r := hourBackoffBot(t, 10*time.Millisecond)
	hs.syncErr.Store(true)
	r.next(t, 30*time.Second, "a failed sync", func(e Event) bool { return e.Kind == KindSyncFailed })
	hits, probes := hs.syncHits.Load(), hs.probes.Load()
	waitUntil(t, 30*time.Second, "probes", func() bool { return hs.probes.Load() >= probes+5 })
	if n := hs.syncHits.Load(); n != hits {
		t.Fatalf("%d sync retries while the server answered throughout, want none before the retry wait ends", n-hits)
	}
}

func TestUnreachable(t *testing.T) {
	status := func(code int) error {
		return mautrix.HTTPError{Response: &http.Response{StatusCode: code}, Message: "x"}
	}
	for err, want := range map[error]bool{
		mautrix.HTTPError{Message: "request error", WrappedError: errors.New("connection refused")}: true,
		status(502): true, status(503): true, status(504): true,
		status(500): false, status(429): false, status(404): false,
		errors.New("database is locked"): false,
	} {
		if got := unreachable(err); got != want {
			t.Errorf("unreachable(%v) = %v, want %v", err, got, want)
		}
	}
}

// hourBackoffBot runs a bot on a fake homeserver with a retry wait of an
// hour and the given probe interval, past its first sync.
func hourBackoffBot(t *testing.T, probe time.Duration) (*fakeHS, *running) {
	t.Helper()
	leakcheck.Check(t)
	hs := newFakeHS(t)
	cfg := hs.config(t)
	cfg.Backoff = Backoff{Initial: time.Hour, Max: time.Hour}
	cfg.ProbeInterval = probe
	r := start(t, newBot(t, nil, cfg))
	r.next(t, 30*time.Second, "first sync", syncDone)
	return hs, r
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
