package httpserve

import (
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/secret"
)

// fakeNow is a clock the test moves.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeNow) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeNow) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestBearerAuthLimitsFailures(t *testing.T) {
	const token = "0123456789abcdefghijklmnopqrstuvwxyz"
	clock := &fakeNow{t: time.Unix(1_000_000, 0)}
	clients, err := NewClientAddr([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	auth := newBearerAuth(secret.Value(token), clients, slog.New(slog.DiscardHandler), clock.now)
	addr := serveTest(t, auth.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})), bodyTimeout)

	get := func(client, authz string) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/admin/v1/calls", nil)
		req.Header.Set("X-Forwarded-For", client)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	code := func(client, authz string) int { return get(client, authz).StatusCode }

	for i := range 3 * failureBurst { // right tokens never count
		if c := code("198.51.100.1", "Bearer "+token); c != 200 {
			t.Fatalf("right token, request %d: %d", i, c)
		}
	}
	for i, authz := range []string{"", token, "Bearer", "Bearer " + token + "x", "bearer " + token} {
		if c := code("198.51.100.2", authz); c != 401 {
			t.Errorf("Authorization %q (attempt %d): %d, want 401", authz, i, c)
		}
	}
	for range failureBurst - 5 {
		code("198.51.100.2", "Bearer wrong")
	}
	res := get("198.51.100.2", "Bearer wrong")
	if res.StatusCode != 429 || res.Header.Get("Retry-After") != "10" {
		t.Fatalf("attempt %d: %d Retry-After %q, want 429 after 10 s", failureBurst+1, res.StatusCode, res.Header.Get("Retry-After"))
	}
	if c := code("198.51.100.2", "Bearer "+token); c != 429 {
		t.Fatalf("locked-out client with the right token: %d, want 429 (no guess is judged while locked out)", c)
	}
	if c := code("198.51.100.3", "Bearer "+token); c != 200 {
		t.Fatalf("another client: %d", c)
	}
	clock.add(failureEvery)
	if c := code("198.51.100.2", "Bearer "+token); c != 200 {
		t.Fatalf("after %v: %d", failureEvery, c)
	}
	if c := code("198.51.100.2", "Bearer wrong"); c != 401 {
		t.Fatalf("one more attempt after %v: %d", failureEvery, c)
	}
	if c := code("198.51.100.2", "Bearer wrong"); c != 429 {
		t.Fatalf("and then locked again: %d", c)
	}
}

func TestBearerAuthWithoutToken(t *testing.T) {
	auth := NewBearerAuth("", nil, slog.New(slog.DiscardHandler))
	addr := serveTest(t, auth.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})), bodyTimeout)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/", nil)
	req.Header.Set("Authorization", "Bearer ")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("empty token accepted: %d", res.StatusCode)
	}
}
