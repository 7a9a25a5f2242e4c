package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
)

// startServe runs `coordinator serve` in-process with env and returns the
// address it listens on and a channel with run's result.
func startServe(t *testing.T, env map[string]string) (addr string, done <-chan error) {
	t.Helper()
	return startServeCtx(t, t.Context(), env)
}

// startServeCtx is startServe until ctx ends.
func startServeCtx(t *testing.T, ctx context.Context, env map[string]string) (addr string, done <-chan error) {
	t.Helper()
	return startServeWith(t, env, func(stderr io.Writer) error {
		return run(ctx, []string{"coordinator", "serve"}, envOf(env), io.Discard, stderr)
	})
}

// startServeWith is startServeCtx with serveLog running the coordinator
// (its log to stderr) on env.
func startServeWith(t *testing.T, env map[string]string, serveLog func(stderr io.Writer) error) (addr string, done <-chan error) {
	t.Helper()
	env["LIVEKIT_JWT_BIND"] = "127.0.0.1:0"
	env["SWITCHBOARD_ADMIN_BIND"] = "127.0.0.1:0"
	env["SWITCHBOARD_LOG_FORMAT"] = "json"
	pr, pw := io.Pipe()
	result := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		err := serveLog(pw)
		pw.Close()
		result <- err
	}()
	// The test's context ends before cleanups run: wait for serve to stop,
	// so no test leaves a running coordinator to the next.
	t.Cleanup(func() {
		select {
		case <-finished:
		case <-time.After(30 * time.Second): // a hang guard: leaving calls may take 2 × matrix.request_timeout
			t.Error("serve did not stop within 30 s of its context ending")
		}
	})
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		var ll listenLog
		for sc.Scan() {
			if addr, ok := ll.line(sc.Bytes()); ok {
				addrc <- addr
			}
		}
		close(addrc)
	}()
	select {
	case addr, ok := <-addrc:
		if !ok {
			t.Fatalf("serve exited before listening: %v", <-result)
		}
		return addr, result
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start listening")
	}
	return "", nil
}

// TestServeStopsOnSIGTERM is the lifecycle contract: a real SIGTERM makes
// serve return, cleanly, with no goroutine left behind. (How long it takes
// is a measurement, in README's Running section, not a test: 30 s here only
// catches a hang.)
func TestServeStopsOnSIGTERM(t *testing.T) {
	leakcheck.Check(t)
	addr, done := startServe(t, minimalEnv())

	for _, method := range []string{http.MethodGet, http.MethodHead} {
		req, _ := http.NewRequestWithContext(t.Context(), method, "http://"+addr+"/healthz", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s /healthz = %d", method, res.StatusCode)
		}
	}
	http.DefaultClient.CloseIdleConnections()

	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve still running 30 s after SIGTERM")
	}
}

func TestServeRefusesBadConfig(t *testing.T) {
	env := minimalEnv()
	delete(env, "LIVEKIT_URL")
	err := run(t.Context(), []string{"coordinator", "serve"}, envOf(env), io.Discard, io.Discard)
	if err == nil {
		t.Fatal("serve started without LIVEKIT_URL")
	}
}
