package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestTrickledBodyEndsWithinTenSeconds: a client that sends its headers at
// once and then its body one byte a second must lose the connection (or get
// an answer) about 10 s after the headers, on the token API and on the
// webhook alike, instead of holding it for the old 30 s read timeout. The
// guard is well under 30 s and well over 10 s.
func TestTrickledBodyEndsWithinTenSeconds(t *testing.T) {
	addr, _ := startServe(t, minimalEnv())
	const guard = 24 * time.Second
	paths := []string{"/sfu/get", "/get_token", "/sfu_webhook"}
	ended := make(chan error, len(paths))
	for _, path := range paths {
		go func() { ended <- trickleBody(addr, path, guard+5*time.Second) }()
	}
	deadline := time.After(guard)
	for range paths {
		select {
		case err := <-ended:
			if err != nil {
				t.Fatal(err)
			}
		case <-deadline:
			t.Fatalf("a trickled request body was still being read %v after its headers", guard)
		}
	}
}

// trickleBody sends a POST to path whose body comes one byte a second and
// returns when the server answers or closes the connection, or after limit.
func trickleBody(addr, path string, limit time.Duration) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(limit))
	if _, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: switchboard\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", path); err != nil {
		return err
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	// An answer (a 400 for a body cut short) or EOF both end the request.
	if res, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
		res.Body.Close()
	}
	return nil
}
