package openid

import (
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/internal/logbuf"
)

// ssrfNames are server names that lead to internal addresses, directly or
// through DNS (answers in ssrfResolver).
func ssrfNames() []string {
	return []string{
		"lo.test", "ten.test", "meta.test", "v6lo.test", "mapped.test", "mixed.test", "srvlo.test",
		"127.0.0.1:8448", "127.0.0.1", "[::1]", "[::1]:8448", "10.0.0.1", "169.254.169.254",
		"[::ffff:127.0.0.1]", "[fe80::1]", "100.64.0.1", "0.0.0.0", "192.168.1.1:443", "[fd00::1]",
	}
}

func ssrfResolver() *fakeResolver {
	return &fakeResolver{
		ips: map[string][]string{
			"lo.test":       {"127.0.0.1"},
			"ten.test":      {"10.0.0.1"},
			"meta.test":     {"169.254.169.254"},
			"v6lo.test":     {"::1"},
			"mapped.test":   {"::ffff:127.0.0.1"},
			"mixed.test":    {"1.1.1.1", "10.1.2.3"},
			"internal.test": {"10.0.0.1"},
		},
		srv: map[string][]*net.SRV{
			"_matrix-fed._tcp.srvlo.test": {{Target: "lo.test.", Port: 8448}},
		},
	}
}

func TestSSRFRefusedBeforeDial(t *testing.T) {
	leakcheck.Check(t)
	const token = "SSRF-TOKEN-9f8e7d"
	var logs logbuf.Buffer
	rec := &recordingDial{}
	v := newVerifier(t, testLogger(&logs), Config{Resolver: ssrfResolver(), Dial: rec.Dial}) // production policy
	for _, name := range ssrfNames() {
		_, err := v.Verify(t.Context(), Token{AccessToken: token, ServerName: name})
		if !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("Verify(%s) = %v; want ErrForbiddenAddress", name, err)
			continue
		}
		mustNotLeak(t, "error", err.Error(), token)
	}
	if got := rec.dials(); len(got) != 0 {
		t.Errorf("dial attempts %v; want none", got)
	}
	mustNotLeak(t, "log", logs.String(), token)
	if !strings.Contains(logs.String(), "forbidden_address") {
		t.Errorf("log does not name the reason:\n%s", logs.String())
	}
}

func TestSSRFWellKnownDelegation(t *testing.T) {
	for _, delegated := range []string{
		"127.0.0.1:8448", "127.0.0.1", "[::1]", "[::1]:8448", "[::ffff:127.0.0.1]", "10.0.0.1",
		"169.254.169.254", "internal.test", "internal.test:8448", "srvlo.test",
	} {
		t.Run(delegated, func(t *testing.T) {
			leakcheck.Check(t)
			d := newDiscovery(t, map[string]answer{"origin.test": wk(delegated)})
			for k, v := range ssrfResolver().ips {
				d.res.ips[k] = v
			}
			d.res.srv["_matrix-fed._tcp.srvlo.test"] = []*net.SRV{{Target: "lo.test.", Port: 8448}}
			v := newVerifier(t, nil, d.cfg)
			_, err := v.Verify(t.Context(), Token{AccessToken: tokenFor("origin.test"), ServerName: "origin.test"})
			if !errors.Is(err, ErrForbiddenAddress) {
				t.Fatalf("Verify = %v; want ErrForbiddenAddress", err)
			}
			if got, want := d.rec.dials(), []string{"192.0.2.1:443"}; !slices.Equal(got, want) {
				t.Fatalf("dials = %v; want only the .well-known %v", got, want)
			}
			for _, h := range d.hs.requests() {
				if h.Token != "" {
					t.Fatalf("token sent in %+v", h)
				}
			}
		})
	}
}

func TestSSRFConfiguredNamesAllowed(t *testing.T) {
	leakcheck.Check(t)
	hs := newHomeserver(t, nil, func(w http.ResponseWriter, r *http.Request) {
		server, _ := strings.CutPrefix(r.URL.Query().Get("access_token"), "secret-for-")
		writeSub(w, "@alice:"+server)
	})
	urls := map[string]string{}
	for _, name := range ssrfNames() {
		urls[name] = hs.URL + "/"
	}
	rec := &recordingDial{}
	v := newVerifier(t, nil, Config{HomeserverURLs: urls, Resolver: ssrfResolver(), Dial: rec.Dial})
	for _, name := range ssrfNames() {
		sub, err := v.Verify(t.Context(), Token{AccessToken: tokenFor(name), ServerName: name})
		if err != nil || sub != "@alice:"+name {
			t.Errorf("Verify(%s) = %q, %v; want @alice:%s", name, sub, err, name)
		}
	}
	for _, a := range rec.dials() {
		if a != hs.Listener.Addr().String() {
			t.Errorf("dialled %s; want only the configured %s", a, hs.Listener.Addr())
		}
	}
	for _, h := range hs.requests() {
		if h.Path != userInfoPath {
			t.Errorf("configured homeserver got %+v; want only userinfo", h)
		}
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	for _, status := range []int{http.StatusFound, http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			leakcheck.Check(t)
			const token = "REDIRECT-TOKEN-1a2b3c"
			target := newHomeserver(t, nil, nil)
			origin := newHomeserver(t, nil, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target.URL+r.URL.RequestURI(), status)
			})
			var logs logbuf.Buffer
			v := newVerifier(t, testLogger(&logs), Config{HomeserverURLs: map[string]string{"localhost": origin.URL}})
			_, err := v.Verify(t.Context(), Token{AccessToken: token, ServerName: "localhost"})
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("Verify = %v; want ErrBadResponse", err)
			}
			if n := target.count.Load(); n != 0 {
				t.Fatalf("redirect target got %d requests", n)
			}
			mustNotLeak(t, "error", err.Error(), token)
			mustNotLeak(t, "log", logs.String(), token)
		})
	}
}
