package openid

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
)

// localVerifier returns a Verifier for "localhost" served by handle (nil:
// a valid userinfo) on a fake clock.
func localVerifier(t *testing.T, handle http.HandlerFunc, cfg Config) (*Verifier, *homeserver, *fakeClock) {
	t.Helper()
	if handle == nil {
		handle = func(w http.ResponseWriter, _ *http.Request) { writeSub(w, "@alice:localhost") }
	}
	hs := newHomeserver(t, nil, handle)
	clock := newFakeClock()
	cfg.HomeserverURLs = map[string]string{"localhost": hs.URL}
	cfg.Now = clock.Now
	return newVerifier(t, nil, cfg), hs, clock
}

func TestCacheHit(t *testing.T) {
	leakcheck.Check(t)
	v, hs, _ := localVerifier(t, nil, Config{})
	tok := Token{AccessToken: "abc", ServerName: "localhost", ExpiresIn: time.Hour}
	for range 3 {
		if sub, err := v.Verify(t.Context(), tok); err != nil || sub != "@alice:localhost" {
			t.Fatalf("Verify = %q, %v", sub, err)
		}
	}
	if n := hs.count.Load(); n != 1 {
		t.Fatalf("homeserver got %d requests; want 1", n)
	}
	tok.AccessToken = "other"
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	if n := hs.count.Load(); n != 2 {
		t.Fatalf("another token: homeserver got %d requests; want 2", n)
	}
}

func TestCacheExpiry(t *testing.T) {
	for _, tc := range []struct {
		name      string
		expiresIn time.Duration
		maxTTL    time.Duration
		want      time.Duration
	}{
		{"expires_in", 30 * time.Second, 0, 30 * time.Second},
		{"capped by CacheMaxTTL", time.Hour, 0, DefaultCacheMaxTTL},
		{"custom CacheMaxTTL", time.Hour, time.Minute, time.Minute},
		{"no expires_in", 0, 0, DefaultCacheMaxTTL},
		{"negative expires_in", -time.Second, 0, DefaultCacheMaxTTL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			v, hs, clock := localVerifier(t, nil, Config{CacheMaxTTL: tc.maxTTL})
			tok := Token{AccessToken: "abc", ServerName: "localhost", ExpiresIn: tc.expiresIn}
			verify := func(wantRequests int64) {
				t.Helper()
				if _, err := v.Verify(t.Context(), tok); err != nil {
					t.Fatal(err)
				}
				if n := hs.count.Load(); n != wantRequests {
					t.Fatalf("homeserver got %d requests; want %d", n, wantRequests)
				}
			}
			verify(1)
			clock.Advance(tc.want - time.Second)
			verify(1)
			clock.Advance(time.Second)
			verify(2)
		})
	}
}

func TestFailureNotCached(t *testing.T) {
	leakcheck.Check(t)
	var calls atomic.Int64
	v, hs, _ := localVerifier(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "try later", http.StatusBadGateway)
			return
		}
		writeSub(w, "@alice:localhost")
	}, Config{})
	tok := Token{AccessToken: "abc", ServerName: "localhost"}
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("first Verify = %v; want ErrUnreachable", err)
	}
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("second Verify = %v; want success", err)
	}
	if n := hs.count.Load(); n != 2 {
		t.Fatalf("homeserver got %d requests; want 2", n)
	}
}

func TestConcurrentVerificationsShareOneRequest(t *testing.T) {
	leakcheck.Check(t)
	release := make(chan struct{})
	v, hs, _ := localVerifier(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		writeSub(w, "@alice:localhost")
	}, Config{})
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			sub, err := v.Verify(context.Background(), Token{AccessToken: "new", ServerName: "localhost"})
			if err == nil && sub != "@alice:localhost" {
				err = errors.New("wrong sub " + sub)
			}
			errs <- err
		})
	}
	for hs.count.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let the others queue up behind the first
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if c := hs.count.Load(); c != 1 {
		t.Fatalf("homeserver got %d requests; want 1", c)
	}
}

func TestCallerGivingUpDoesNotCancelOthers(t *testing.T) {
	leakcheck.Check(t)
	release := make(chan struct{})
	v, hs, _ := localVerifier(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		writeSub(w, "@alice:localhost")
	}, Config{})
	tok := Token{AccessToken: "abc", ServerName: "localhost"}

	impatient, cancel := context.WithCancel(context.Background())
	impatientErr := make(chan error, 1)
	go func() {
		_, err := v.Verify(impatient, tok)
		impatientErr <- err
	}()
	for hs.count.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	patientErr := make(chan error, 1)
	go func() {
		_, err := v.Verify(context.Background(), tok)
		patientErr <- err
	}()
	cancel()
	if err := <-impatientErr; !errors.Is(err, ErrUnreachable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("impatient caller: %v; want ErrUnreachable and context.Canceled", err)
	}
	close(release)
	if err := <-patientErr; err != nil {
		t.Fatalf("patient caller: %v", err)
	}
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	if n := hs.count.Load(); n != 1 {
		t.Fatalf("homeserver got %d requests; want 1", n)
	}
}

func TestCloseEndsSharedRequests(t *testing.T) {
	leakcheck.Check(t)
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) }) // runs before the server's Close
	v, hs, _ := localVerifier(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stuck:
		case <-r.Context().Done():
		}
	}, Config{RequestTimeout: time.Minute})
	errc := make(chan error, 1)
	go func() {
		_, err := v.Verify(context.Background(), Token{AccessToken: "abc", ServerName: "localhost"})
		errc <- err
	}()
	for hs.count.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	if err := v.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if took := time.Since(start); took > 30*time.Second { // a hang guard: without the cancel it takes the minute
		t.Errorf("Close took %v", took)
	}
	if err := <-errc; err == nil {
		t.Fatal("Verify succeeded across Close")
	}
	if err := v.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close = %v; want net.ErrClosed", err)
	}
	if _, err := v.Verify(t.Context(), Token{AccessToken: "abc", ServerName: "localhost"}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Verify after Close = %v; want net.ErrClosed", err)
	}
}

func TestConnectionsReused(t *testing.T) {
	leakcheck.Check(t)
	hs := newHomeserver(t, nil, func(w http.ResponseWriter, r *http.Request) {
		writeSub(w, "@alice:localhost")
	})
	rec := &recordingDial{}
	v := newVerifier(t, nil, Config{HomeserverURLs: map[string]string{"localhost": hs.URL}, Dial: rec.Dial})
	for i := range 20 {
		if _, err := v.Verify(t.Context(), Token{AccessToken: "tok" + strings.Repeat("x", i), ServerName: "localhost"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := rec.dials(); len(got) != 1 {
		t.Fatalf("%d dials for 20 sequential verifications; want 1 (keep-alive)", len(got))
	}
}

func TestTokenNotAskedFor(t *testing.T) {
	leakcheck.Check(t)
	v, hs, _ := localVerifier(t, nil, Config{})
	for _, tok := range []string{"", strings.Repeat("x", maxTokenBytes+1)} {
		if _, err := v.Verify(t.Context(), Token{AccessToken: tok, ServerName: "localhost"}); !errors.Is(err, ErrRejected) {
			t.Errorf("token of %d bytes: %v; want ErrRejected", len(tok), err)
		}
	}
	if _, err := v.Verify(t.Context(), Token{AccessToken: "abc", ServerName: "local host"}); !errors.Is(err, ErrInvalidServerName) {
		t.Errorf("bad server name: %v; want ErrInvalidServerName", err)
	}
	if n := hs.count.Load(); n != 0 {
		t.Fatalf("homeserver got %d requests", n)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for _, urls := range []map[string]string{
		{"evil.com/x": "http://127.0.0.1:8008"},
		{"localhost": "ftp://127.0.0.1"},
		{"localhost": "127.0.0.1:8008"},
		{"localhost": "http://"},
		{"localhost": "http://u:p@127.0.0.1"},
		{"localhost": "http://127.0.0.1/?x=1"},
		{"localhost": "http://127.0.0.1/#x"},
		{"localhost": "http://[::1"},
	} {
		if v, err := New(nil, Config{HomeserverURLs: urls}); err == nil {
			_ = v.Close()
			t.Errorf("New accepted %v", urls)
		}
	}
	v, err := New(nil, Config{HomeserverURLs: map[string]string{"localhost": "http://127.0.0.1:8008/synapse/"}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if got, want := v.configured["localhost"].String(), "http://127.0.0.1:8008/synapse"+userInfoPath; got != want {
		t.Errorf("userinfo URL = %s; want %s", got, want)
	}
}
