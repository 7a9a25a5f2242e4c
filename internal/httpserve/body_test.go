package httpserve

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serveTest runs h behind listen with the given body timeout until the test ends.
func serveTest(t *testing.T, h http.Handler, body time.Duration) string {
	t.Helper()
	s, err := listen("test server", "127.0.0.1:0", h, slog.New(slog.DiscardHandler), body)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return s.Addr().String()
}

// TestBodyDeadlineEndsTrickle: a body that does not arrive within the body
// timeout fails the handler's read, and the client's request ends.
func TestBodyDeadlineEndsTrickle(t *testing.T) {
	readErr := make(chan error, 1)
	addr := serveTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
		w.WriteHeader(http.StatusBadRequest)
	}), 200*time.Millisecond)

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Headers promise 10 bytes; one comes, the rest never does.
	fmt.Fprint(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{")
	select {
	case err := <-readErr:
		if err == nil {
			t.Fatal("the handler read a body that never arrived")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the handler's read did not end")
	}
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	if res, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil && res.StatusCode != http.StatusBadRequest {
		t.Fatalf("answer %d", res.StatusCode)
	}
}

// TestBodyDeadlineLiftedAfterBody: once its body is read, a handler may
// work past the body timeout without its request being cancelled (net/http
// cancels it when a read on the connection times out).
func TestBodyDeadlineLiftedAfterBody(t *testing.T) {
	const body = 100 * time.Millisecond
	addr := serveTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		select {
		case <-r.Context().Done():
			w.WriteHeader(http.StatusServiceUnavailable)
		case <-time.After(5 * body):
			_, _ = w.Write(b)
		}
	}), body)
	for range 2 { // the second request reuses the connection
		res, err := http.Post("http://"+addr+"/", "text/plain", strings.NewReader("hello"))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || string(got) != "hello" {
			t.Fatalf("answer %d %q: the request was cancelled after its body was read", res.StatusCode, got)
		}
	}
}
