package openid

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestGuardedClient: discovered hosts that resolve to refused addresses are
// refused before any dial; configured homeservers are reached; redirects are
// not followed.
func TestGuardedClient(t *testing.T) {
	var mu sync.Mutex
	var dialled []string
	hits := 0
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer target.Close()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	}))
	defer hs.Close()

	c := GuardedClient(Config{
		HomeserverURLs: map[string]string{"localhost": hs.URL},
		Resolver: &fakeResolver{ips: map[string][]string{
			"internal.example": {"10.0.0.1"}, "metadata.example": {"169.254.169.254"}, "loop.example": {"127.0.0.1"},
		}},
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dialled = append(dialled, addr)
			mu.Unlock()
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	})
	for _, u := range []string{"http://internal.example/", "https://metadata.example/", "http://loop.example:8008/", "http://127.0.0.1:1/", "http://[::1]:1/"} {
		_, err := c.Get(u)
		if err == nil || !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("%s: %v, want ErrForbiddenAddress", u, err)
		}
	}
	mu.Lock()
	if len(dialled) != 0 {
		t.Fatalf("dialled %v for refused hosts", dialled)
	}
	mu.Unlock()

	res, err := c.Get(hs.URL + "/.well-known/matrix/client")
	if err != nil {
		t.Fatalf("configured homeserver: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound || hits != 0 {
		t.Fatalf("redirect followed: status %d, target hits %d", res.StatusCode, hits)
	}
	c.CloseIdleConnections()
}
