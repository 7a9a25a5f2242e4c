package leakcheck

import (
	"testing"
	"time"
)

// fakeT records errors instead of failing, so the checker itself can be tested.
type fakeT struct {
	testing.TB
	cleanups []func()
	errors   int
}

func (f *fakeT) Helper()               {}
func (f *fakeT) Cleanup(fn func())     { f.cleanups = append(f.cleanups, fn) }
func (f *fakeT) Errorf(string, ...any) { f.errors++ }
func (f *fakeT) runCleanups() {
	for _, c := range f.cleanups {
		c()
	}
}

func TestCheckFindsLeakAndAcceptsFinished(t *testing.T) {
	stop := make(chan struct{})
	leaky := &fakeT{TB: t}
	Check(leaky)
	go func() { <-stop }()
	start := time.Now()
	leaky.runCleanups()
	close(stop)
	if leaky.errors != 1 {
		t.Fatalf("leak not reported")
	}
	if time.Since(start) < settle {
		t.Fatalf("did not wait for goroutines to settle")
	}

	clean := &fakeT{TB: t}
	Check(clean)
	done := make(chan struct{})
	go func() { time.Sleep(50 * time.Millisecond); close(done) }()
	clean.runCleanups()
	<-done
	if clean.errors != 0 {
		t.Fatalf("finished goroutine reported as leak")
	}
}
