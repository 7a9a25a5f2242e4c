package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
)

// runner lets this program use the shared test helpers (internal/testenv,
// internal/testenv/callsim), which report through testing.TB, outside go
// test: Fatal ends the calling goroutine after logging, Cleanup functions
// run last first once the body is done. Only the methods below are used by
// those helpers; the embedded nil TB is there for the interface's
// unexported method.
type runner struct {
	testing.TB
	ctx context.Context

	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

// run calls body on its own goroutine (Fatal may end it), then cancels the
// context and runs the cleanups, as go test does; it reports whether
// nothing failed.
func run(body func(t testing.TB)) bool {
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{ctx: ctx}
	done := make(chan struct{})
	go func() {
		defer close(done)
		body(r)
	}()
	<-done
	cancel()
	r.mu.Lock()
	cleanups := slices.Clone(r.cleanups)
	r.mu.Unlock()
	for _, f := range slices.Backward(cleanups) {
		f()
	}
	return !r.Failed()
}

func (r *runner) Helper()                  {}
func (r *runner) Name() string             { return "keydist" }
func (r *runner) Context() context.Context { return r.ctx }

func (r *runner) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

func (r *runner) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *runner) Logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

func (r *runner) Errorf(format string, args ...any) {
	r.Logf("error: "+format, args...)
	r.mu.Lock()
	r.failed = true
	r.mu.Unlock()
}

func (r *runner) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *runner) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }
