package testenv

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// HoldServicePort takes this instance's lock on SWB_SERVICE_PORT (where
// LiveKit sends its webhooks and Synapse's transports point) until the test
// ends, so tests of different packages, which go test runs in parallel,
// take turns serving there. Take it before listening: the cleanups that
// stop the server then run before the lock is released.
func (e *Env) HoldServicePort(t testing.TB) {
	t.Helper()
	path := filepath.Join(filepath.Dir(e.File), "service-port.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("service port lock: %v", err)
	}
	deadline := time.Now().Add(5 * time.Minute) // hang guard: another test holds it
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			t.Fatalf("service port lock %s: %v", path, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	})
}
