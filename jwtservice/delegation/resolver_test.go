package delegation

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// wellKnownServer is a TLS homeserver serving .well-known/matrix/client;
// its server name is its 127.0.0.1:port.
type wellKnownServer struct {
	srv  *httptest.Server
	name string
	hits atomic.Int32
	mu   sync.Mutex
	body string
	code int
}

func newWellKnownServer(t *testing.T, body string) *wellKnownServer {
	t.Helper()
	w := &wellKnownServer{body: body, code: 200}
	w.srv = httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != wellKnownClientPath || r.Method != http.MethodGet {
			http.NotFound(rw, r)
			return
		}
		w.hits.Add(1)
		w.mu.Lock()
		body, code := w.body, w.code
		w.mu.Unlock()
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(code)
		_, _ = rw.Write([]byte(body))
	}))
	t.Cleanup(w.srv.Close)
	w.name = strings.TrimPrefix(w.srv.URL, "https://")
	return w
}

func (w *wellKnownServer) set(code int, body string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.code, w.body = code, body
}

func TestResolverOrder(t *testing.T) {
	wk := newWellKnownServer(t, `{"m.homeserver":{"base_url":"https://discovered.example/"}}`)
	clock := newFakeClock()
	r := NewResolver(ResolverConfig{
		Overrides: map[string]string{"overridden.example": "http://127.0.0.1:8008/"},
		Now:       clock.Now,
	}, wk.srv.Client())
	ctx := context.Background()

	// Override: no request at all.
	if u, err := r.Resolve(ctx, "overridden.example"); err != nil || u != "http://127.0.0.1:8008" {
		t.Errorf("override: %q, %v", u, err)
	}
	// Discovery, then the cache even when the document changes.
	for i := range 3 {
		u, err := r.Resolve(ctx, wk.name)
		if err != nil || u != "https://discovered.example" {
			t.Fatalf("discovery %d: %q, %v", i, u, err)
		}
	}
	wk.set(200, `{"m.homeserver":{"base_url":"https://changed.example"}}`)
	clock.Set(epoch.Add(4*time.Hour - time.Second))
	if u, _ := r.Resolve(ctx, wk.name); u != "https://discovered.example" || wk.hits.Load() != 1 {
		t.Errorf("cached: %q after %d requests", u, wk.hits.Load())
	}
	// Expired after 4 h.
	clock.Set(epoch.Add(4 * time.Hour))
	if u, _ := r.Resolve(ctx, wk.name); u != "https://changed.example" || wk.hits.Load() != 2 {
		t.Errorf("after expiry: %q after %d requests", u, wk.hits.Load())
	}

	// An override beats a cached discovery of the same name.
	r2 := NewResolver(ResolverConfig{Overrides: map[string]string{wk.name: "https://override.example"}, Now: clock.Now}, wk.srv.Client())
	if u, err := r2.Resolve(ctx, wk.name); err != nil || u != "https://override.example" || wk.hits.Load() != 2 {
		t.Errorf("override over discovery: %q, %v, %d requests", u, err, wk.hits.Load())
	}
}

func TestResolverFailures(t *testing.T) {
	cases := []struct {
		name string
		code int
		body string
	}{
		{"empty base_url", 200, `{"m.homeserver":{"base_url":""}}`},
		{"null base_url", 200, `{"m.homeserver":{"base_url":null}}`},
		{"missing base_url", 200, `{"m.homeserver":{}}`},
		{"missing m.homeserver", 200, `{"m.identity_server":{"base_url":"https://id.example"}}`},
		{"base_url not a string", 200, `{"m.homeserver":{"base_url":42}}`},
		{"base_url relative", 200, `{"m.homeserver":{"base_url":"/matrix"}}`},
		{"base_url javascript", 200, `{"m.homeserver":{"base_url":"javascript:alert(1)"}}`},
		{"base_url with credentials", 200, `{"m.homeserver":{"base_url":"https://u:p@hs.example"}}`},
		{"not JSON", 200, `<html>`},
		{"JSON array", 200, `[]`},
		{"null", 200, `null`},
		{"404", 404, `{"m.homeserver":{"base_url":"https://hs.example"}}`},
		{"500", 500, `{"m.homeserver":{"base_url":"https://hs.example"}}`},
		{"oversized", 200, `{"m.homeserver":{"base_url":"https://hs.example"}` + strings.Repeat(" ", maxResponseBytes) + `}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wk := newWellKnownServer(t, tc.body)
			wk.set(tc.code, tc.body)
			r := NewResolver(ResolverConfig{}, wk.srv.Client())
			u, err := r.Resolve(context.Background(), wk.name)
			if !errors.Is(err, ErrCSAPIUnresolvable) {
				t.Fatalf("got %q, %v; want ErrCSAPIUnresolvable", u, err)
			}
			// Failures are not cached.
			_, _ = r.Resolve(context.Background(), wk.name)
			if n := wk.hits.Load(); n != 2 {
				t.Errorf("%d requests, want 2", n)
			}
		})
	}
}

func TestResolverJustUnderSizeLimit(t *testing.T) {
	doc := `{"m.homeserver":{"base_url":"https://hs.example"}}`
	wk := newWellKnownServer(t, doc+strings.Repeat(" ", maxResponseBytes-len(doc)))
	if u, err := NewResolver(ResolverConfig{}, wk.srv.Client()).Resolve(context.Background(), wk.name); err != nil || u != "https://hs.example" {
		t.Errorf("%q, %v", u, err)
	}
}

func TestResolverDoesNotFollowRedirects(t *testing.T) {
	var targetHits atomic.Int32
	target := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		targetHits.Add(1)
		_, _ = w.Write([]byte(`{"m.homeserver":{"base_url":"https://evil.example"}}`))
	}))
	defer target.Close()
	src := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+wellKnownClientPath, http.StatusFound)
	}))
	defer src.Close()
	hc := src.Client()
	hc.CheckRedirect = nil // the resolver must not rely on the caller's setting
	r := NewResolver(ResolverConfig{}, hc)
	_, err := r.Resolve(context.Background(), strings.TrimPrefix(src.URL, "https://"))
	if !errors.Is(err, ErrCSAPIUnresolvable) || targetHits.Load() != 0 {
		t.Errorf("err %v, redirect target hit %d times", err, targetHits.Load())
	}
	if hc.CheckRedirect != nil {
		t.Error("the caller's client was modified")
	}
}

func TestResolverRefusesBadServerNames(t *testing.T) {
	var hits atomic.Int32
	hc := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		hits.Add(1)
		return nil, errors.New("no network in this test")
	})}
	r := NewResolver(ResolverConfig{}, hc)
	for _, name := range []string{"", "evil.example/path", "user@evil.example", "evil.example?q", "evil.example#f",
		"evil.example%2F", "a b", "evil.example\n", strings.Repeat("a", 256), ":8448", "[::1", "ex ample.org"} {
		if _, err := r.Resolve(context.Background(), name); !errors.Is(err, ErrCSAPIUnresolvable) {
			t.Errorf("%q: %v", name, err)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("%d requests for invalid names", hits.Load())
	}
	for _, name := range []string{"example.org", "example.org:8448", "127.0.0.1", "[::1]:8448"} {
		if !validServerName(name) {
			t.Errorf("%q refused", name)
		}
	}
}

func TestResolverCallerCancellation(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		_, _ = w.Write([]byte(`{"m.homeserver":{"base_url":"https://hs.example"}}`))
	}))
	defer srv.Close()
	defer close(release)
	r := NewResolver(ResolverConfig{}, srv.Client())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := r.Resolve(ctx, strings.TrimPrefix(srv.URL, "https://")); !errors.Is(err, ErrCSAPIUnresolvable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v", err)
	}
}

func TestResolverCacheBounded(t *testing.T) {
	clock := newFakeClock()
	r := NewResolver(ResolverConfig{MaxEntries: 3, Now: clock.Now}, nil)
	for i, name := range []string{"a", "b", "c", "d", "e"} {
		r.store(name, "https://"+name, clock.Now().Add(time.Duration(i+1)*time.Hour))
		if len(r.cache) > 3 {
			t.Fatalf("cache holds %d entries", len(r.cache))
		}
	}
	if _, ok := r.cached("e"); !ok {
		t.Error("newest entry missing")
	}
	clock.Set(epoch.Add(10 * time.Hour))
	r.store("f", "https://f", clock.Now().Add(time.Hour))
	if len(r.cache) != 1 {
		t.Errorf("expired entries kept: %d", len(r.cache))
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
