package openid

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/internal/logbuf"
)

const hostileToken = "HOSTILE-TOKEN-5c4b3a29"

func respond(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func hugeBody(chunked bool) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		const size = 10 << 20
		if !chunked {
			w.Header().Set("Content-Length", strconv.Itoa(size))
		}
		chunk := []byte(`{"sub":"` + strings.Repeat("a", 32<<10-8))
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := w.Write(chunk[:min(len(chunk), size-sent)]); err != nil {
				return
			}
			if chunked {
				http.NewResponseController(w).Flush()
			}
		}
	}
}

// checkFailure runs one verification against a configured homeserver and
// checks the error kind and that the token is in neither error nor log.
func checkFailure(t *testing.T, cfg Config, want error) time.Duration {
	t.Helper()
	var logs logbuf.Buffer
	v := newVerifier(t, testLogger(&logs), cfg)
	start := time.Now()
	sub, err := v.Verify(t.Context(), Token{AccessToken: hostileToken, ServerName: "localhost"})
	took := time.Since(start)
	if want == nil {
		if err != nil || sub != "@alice:localhost" {
			t.Fatalf("Verify = %q, %v; want @alice:localhost", sub, err)
		}
		return took
	}
	if !errors.Is(err, want) {
		t.Fatalf("Verify = %q, %v; want %v", sub, err, want)
	}
	mustNotLeak(t, "error", err.Error(), hostileToken)
	mustNotLeak(t, "log", logs.String(), hostileToken)
	if strings.Contains(err.Error(), "access_token") || strings.Contains(logs.String(), "access_token") {
		t.Errorf("error or log names the request URL:\n%v\n%s", err, logs.String())
	}
	if !strings.Contains(err.Error(), "localhost") {
		t.Errorf("error %q does not name the server", err)
	}
	if !strings.Contains(logs.String(), "reason="+reason(err)) {
		t.Errorf("log does not give the reason %s:\n%s", reason(err), logs.String())
	}
	return took
}

func TestHostileHomeserver(t *testing.T) {
	const limit = 64 << 10
	for _, tc := range []struct {
		name   string
		handle http.HandlerFunc
		want   error
	}{
		{"valid", respond(200, `{"sub":"@alice:localhost"}`), nil},
		{"401", respond(401, `{"errcode":"M_UNKNOWN_TOKEN"}`), ErrRejected},
		{"403", respond(403, `{}`), ErrRejected},
		{"404", respond(404, `not found`), ErrRejected},
		{"429", respond(429, `{"errcode":"M_LIMIT_EXCEEDED"}`), ErrUnreachable},
		{"500", respond(500, `oops`), ErrUnreachable},
		{"502", respond(502, ``), ErrUnreachable},
		{"204", respond(204, ``), ErrBadResponse},
		{"error body echoes the token", respond(401, hostileToken), ErrRejected},
		{"not JSON", respond(200, `<html>hello</html>`), ErrBadResponse},
		{"JSON array", respond(200, `["@alice:localhost"]`), ErrBadResponse},
		{"JSON null", respond(200, `null`), ErrBadResponse},
		{"empty body", respond(200, ``), ErrBadResponse},
		{"no sub", respond(200, `{"user_id":"@alice:localhost"}`), ErrBadResponse},
		{"sub in other letter case", respond(200, `{"Sub":"@alice:localhost"}`), ErrBadResponse},
		{"sub not a string", respond(200, `{"sub":7}`), ErrBadResponse},
		{"sub on another server", respond(200, `{"sub":"@alice:evil.org"}`), ErrBadResponse},
		{"sub with a port the name lacks", respond(200, `{"sub":"@alice:localhost:8448"}`), ErrBadResponse},
		{"empty localpart", respond(200, `{"sub":"@:localhost"}`), ErrBadResponse},
		{"newline in localpart", respond(200, `{"sub":"@al\nice:localhost"}`), ErrBadResponse},
		{"trailing data", respond(200, `{"sub":"@alice:localhost"} {}`), ErrBadResponse},
		{"just over the limit", respond(200, `{"sub":"@alice:localhost","pad":"`+strings.Repeat("x", limit)+`"}`), ErrBadResponse},
		{"10 MB with Content-Length", hugeBody(false), ErrBadResponse},
		{"10 MB chunked", hugeBody(true), ErrBadResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			hs := newHomeserver(t, nil, tc.handle)
			took := checkFailure(t, Config{HomeserverURLs: map[string]string{"localhost": hs.URL}}, tc.want)
			if took > 30*time.Second { // a hang guard, not a timing
				t.Errorf("took %v", took)
			}
		})
	}
}

// silentServer accepts TCP connections and never sends a byte.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

func TestSlowHomeserver(t *testing.T) {
	trickle := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		for {
			if _, err := w.Write([]byte(" ")); err != nil {
				return
			}
			http.NewResponseController(w).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	for _, tc := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"never answers", func(t *testing.T) string { return "http://" + silentServer(t) }},
		{"never completes TLS", func(t *testing.T) string { return "https://" + silentServer(t) }},
		{"trickles its body", func(t *testing.T) string { return newHomeserver(t, nil, trickle).URL }},
		{"refuses connections", func(t *testing.T) string {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			_ = ln.Close()
			return "http://" + addr
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			cfg := Config{
				HomeserverURLs: map[string]string{"localhost": tc.url(t)},
				ConnectTimeout: 300 * time.Millisecond,
				RequestTimeout: 300 * time.Millisecond,
			}
			// Without the timeouts the wait never ends; 30 s only catches that.
			if took := checkFailure(t, cfg, ErrUnreachable); took > 30*time.Second {
				t.Errorf("took %v; want about RequestTimeout", took)
			}
		})
	}
}

func TestConfiguredTLS(t *testing.T) {
	leakcheck.Check(t)
	cert, pool := testCert(t)
	hs := newHomeserver(t, &cert, nil) // answers @alice:<Host>, here localhost:port
	u := strings.Replace(hs.URL, "127.0.0.1", "localhost", 1)
	name := strings.TrimPrefix(u, "https://")
	urls := map[string]string{name: u}
	res := &fakeResolver{ips: map[string][]string{"localhost": {"127.0.0.1"}}}
	rec := &recordingDial{}

	v := newVerifier(t, nil, Config{HomeserverURLs: urls, Resolver: res, Dial: rec.Dial})
	if _, err := v.Verify(t.Context(), Token{AccessToken: "t", ServerName: name}); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("untrusted certificate: %v; want ErrUnreachable", err)
	}
	v = newVerifier(t, nil, Config{HomeserverURLs: urls, Resolver: res, Dial: rec.Dial, RootCAs: pool})
	if sub, err := v.Verify(t.Context(), Token{AccessToken: "t", ServerName: name}); err != nil || sub != "@alice:"+name {
		t.Fatalf("custom CA: %q, %v", sub, err)
	}
	v = newVerifier(t, nil, Config{HomeserverURLs: urls, Resolver: res, Dial: rec.Dial, InsecureSkipVerifyTLS: true})
	if _, err := v.Verify(t.Context(), Token{AccessToken: "t", ServerName: name}); err != nil {
		t.Fatalf("InsecureSkipVerifyTLS: %v", err)
	}
	for _, a := range rec.dials() {
		if a != hs.Listener.Addr().String() {
			t.Errorf("dialled %s", a)
		}
	}
}
