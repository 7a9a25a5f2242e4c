package openid

import (
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
)

// answer is a canned HTTP response.
type answer struct {
	status   int
	body     string
	location string
}

// discovery is a test world of fake public names (192.0.2.0/24, allowed by
// testAllow) whose every address leads to one TLS homeserver on loopback.
type discovery struct {
	hs  *homeserver
	res *fakeResolver
	rec *recordingDial
	cfg Config
}

// tokenFor is an access token the discovery homeserver accepts for a
// server (so is the same with "/anything" appended); its userinfo answers
// "@alice:<server>".
func tokenFor(server string) string { return "secret-for-" + server }

func newDiscovery(t *testing.T, wellKnown map[string]answer) *discovery {
	t.Helper()
	cert, pool := testCert(t)
	hs := newHomeserver(t, &cert, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == wellKnownPath {
			a, ok := wellKnown[r.Host]
			if !ok {
				http.NotFound(w, r)
				return
			}
			if a.location != "" {
				w.Header().Set("Location", a.location)
			}
			w.WriteHeader(a.status)
			_, _ = w.Write([]byte(a.body))
			return
		}
		tok := r.URL.Query().Get("access_token")
		server, ok := strings.CutPrefix(tok, "secret-for-")
		server, _, _ = strings.Cut(server, "/")
		if r.URL.Path != userInfoPath || !ok {
			http.Error(w, `{"errcode":"M_UNKNOWN_TOKEN"}`, http.StatusUnauthorized)
			return
		}
		writeSub(w, "@alice:"+server)
	})
	d := &discovery{
		hs: hs,
		res: &fakeResolver{ips: map[string][]string{
			"origin.test": {"192.0.2.1"},
			"deleg.test":  {"192.0.2.2"},
			"t1.test":     {"192.0.2.3"},
			"t2.test":     {"192.0.2.4"},
		}, srv: map[string][]*net.SRV{}},
		rec: &recordingDial{routes: map[string]string{"*": hs.Listener.Addr().String()}, refuse: map[string]bool{}},
	}
	d.cfg = Config{
		Resolver:       d.res,
		Dial:           d.rec.Dial,
		RootCAs:        pool,
		ConnectTimeout: 2 * time.Second,
		RequestTimeout: 2 * time.Second,
		allowAddr:      testAllow,
	}
	return d
}

func wk(server string) answer { return answer{status: 200, body: `{"m.server":"` + server + `"}`} }

func TestDiscovery(t *testing.T) {
	for _, tc := range []struct {
		name      string
		server    string
		wellKnown map[string]answer
		srv       map[string][]*net.SRV
		refuse    []string
		wantDials []string
		wantSNI   string
		wantHost  string
	}{
		{
			name:      "well-known with port",
			server:    "origin.test",
			wellKnown: map[string]answer{"origin.test": wk("deleg.test:8443")},
			wantDials: []string{"192.0.2.1:443", "192.0.2.2:8443"},
			wantSNI:   "deleg.test", wantHost: "deleg.test:8443",
		},
		{
			name:      "well-known then SRV by priority and weight",
			server:    "origin.test",
			wellKnown: map[string]answer{"origin.test": wk("deleg.test")},
			srv: map[string][]*net.SRV{"_matrix-fed._tcp.deleg.test": {
				{Target: "t2.test.", Port: 8449, Priority: 20, Weight: 100},
				{Target: "t2.test.", Port: 8450, Priority: 10, Weight: 1},
				{Target: "t1.test.", Port: 8448, Priority: 10, Weight: 5},
			}},
			wantDials: []string{"192.0.2.1:443", "192.0.2.3:8448"},
			wantSNI:   "deleg.test", wantHost: "deleg.test",
		},
		{
			name:      "well-known then deprecated SRV",
			server:    "origin.test",
			wellKnown: map[string]answer{"origin.test": wk("deleg.test")},
			srv:       map[string][]*net.SRV{"_matrix._tcp.deleg.test": {{Target: "t1.test", Port: 8500}}},
			wantDials: []string{"192.0.2.1:443", "192.0.2.3:8500"},
			wantSNI:   "deleg.test", wantHost: "deleg.test",
		},
		{
			name:      "well-known then port 8448",
			server:    "origin.test",
			wellKnown: map[string]answer{"origin.test": wk("deleg.test")},
			wantDials: []string{"192.0.2.1:443", "192.0.2.2:8448"},
			wantSNI:   "deleg.test", wantHost: "deleg.test",
		},
		{
			name:      "well-known IP literal with port",
			server:    "origin.test",
			wellKnown: map[string]answer{"origin.test": wk("192.0.2.9:8449")},
			wantDials: []string{"192.0.2.1:443", "192.0.2.9:8449"},
			wantSNI:   "", wantHost: "192.0.2.9:8449",
		},
		{
			name:      "well-known IP literal",
			server:    "origin.test",
			wellKnown: map[string]answer{"origin.test": wk("192.0.2.9")},
			wantDials: []string{"192.0.2.1:443", "192.0.2.9:8448"},
			wantSNI:   "", wantHost: "192.0.2.9",
		},
		{
			name:      "no well-known, SRV on the server name",
			server:    "origin.test",
			srv:       map[string][]*net.SRV{"_matrix-fed._tcp.origin.test": {{Target: "t1.test", Port: 8448}}},
			wantDials: []string{"192.0.2.1:443", "192.0.2.3:8448"},
			wantSNI:   "origin.test", wantHost: "origin.test",
		},
		{
			name:      "no well-known, no SRV",
			server:    "origin.test",
			wantDials: []string{"192.0.2.1:443", "192.0.2.1:8448"},
			wantSNI:   "origin.test", wantHost: "origin.test",
		},
		{
			name:      "explicit port skips well-known",
			server:    "origin.test:8500",
			wantDials: []string{"192.0.2.1:8500"},
			wantSNI:   "origin.test", wantHost: "origin.test:8500",
		},
		{
			name:      "IP literal",
			server:    "192.0.2.5",
			wantDials: []string{"192.0.2.5:8448"},
			wantSNI:   "", wantHost: "192.0.2.5",
		},
		{
			name:      "next SRV target when the first refuses",
			server:    "origin.test",
			wellKnown: map[string]answer{"origin.test": wk("deleg.test")},
			srv: map[string][]*net.SRV{"_matrix-fed._tcp.deleg.test": {
				{Target: "t2.test", Port: 8449, Priority: 20},
				{Target: "t1.test", Port: 8448, Priority: 10},
			}},
			refuse:    []string{"192.0.2.3:8448"},
			wantDials: []string{"192.0.2.1:443", "192.0.2.3:8448", "192.0.2.4:8449"},
			wantSNI:   "deleg.test", wantHost: "deleg.test",
		},
		{
			name:      "well-known redirect is not followed",
			server:    "origin.test",
			wellKnown: map[string]answer{"origin.test": {status: 302, location: "https://deleg.test/.well-known/matrix/server"}},
			wantDials: []string{"192.0.2.1:443", "192.0.2.1:8448"},
			wantSNI:   "origin.test", wantHost: "origin.test",
		},
		{
			name:      "malformed well-known",
			server:    "origin.test",
			wellKnown: map[string]answer{"origin.test": {status: 200, body: `{"m.server": 7}`}},
			wantDials: []string{"192.0.2.1:443", "192.0.2.1:8448"},
			wantSNI:   "origin.test", wantHost: "origin.test",
		},
		{
			name:      "well-known delegating to a bad name",
			server:    "origin.test",
			wellKnown: map[string]answer{"origin.test": wk("evil.test/x")},
			wantDials: []string{"192.0.2.1:443", "192.0.2.1:8448"},
			wantSNI:   "origin.test", wantHost: "origin.test",
		},
		{
			name:      "well-known unreachable",
			server:    "origin.test",
			refuse:    []string{"192.0.2.1:443"},
			wantDials: []string{"192.0.2.1:443", "192.0.2.1:8448"},
			wantSNI:   "origin.test", wantHost: "origin.test",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			d := newDiscovery(t, tc.wellKnown)
			for k, v := range tc.srv {
				d.res.srv[k] = v
			}
			for _, a := range tc.refuse {
				d.rec.refuse[a] = true
			}
			v := newVerifier(t, nil, d.cfg)
			sub, err := v.Verify(t.Context(), Token{AccessToken: tokenFor(tc.server), ServerName: tc.server})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if want := "@alice:" + tc.server; sub != want {
				t.Errorf("sub = %q; want %q", sub, want)
			}
			if got := d.rec.dials(); !slices.Equal(got, tc.wantDials) {
				t.Errorf("dials = %v; want %v", got, tc.wantDials)
			}
			hits := d.hs.requests()
			last := hits[len(hits)-1]
			if last.Path != userInfoPath || last.SNI != tc.wantSNI || last.Host != tc.wantHost {
				t.Errorf("userinfo request = %+v; want SNI %q, Host %q", last, tc.wantSNI, tc.wantHost)
			}
			for _, h := range hits {
				if h.Path == wellKnownPath && (h.Host != "origin.test" || h.SNI != "origin.test") {
					t.Errorf("well-known request = %+v; want Host and SNI origin.test", h)
				}
				if h.Path != userInfoPath && h.Token != "" {
					t.Errorf("token sent to %s", h.Path)
				}
			}
		})
	}
}

func TestDiscoveryCertificateMustMatch(t *testing.T) {
	leakcheck.Check(t)
	d := newDiscovery(t, nil)
	d.cfg.RootCAs = x509.NewCertPool() // trusts nothing
	v := newVerifier(t, nil, d.cfg)
	_, err := v.Verify(t.Context(), Token{AccessToken: tokenFor("origin.test"), ServerName: "origin.test"})
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Verify with untrusted certificate: %v; want ErrUnreachable", err)
	}
	if n := d.hs.count.Load(); n != 0 {
		t.Fatalf("homeserver got %d requests over unverified TLS", n)
	}

	d.cfg.InsecureSkipVerifyTLS = true
	v = newVerifier(t, nil, d.cfg)
	if _, err := v.Verify(t.Context(), Token{AccessToken: tokenFor("origin.test"), ServerName: "origin.test"}); err != nil {
		t.Fatalf("Verify with InsecureSkipVerifyTLS: %v", err)
	}
}

func TestResolutionCached(t *testing.T) {
	for _, tc := range []struct {
		name      string
		wellKnown map[string]answer
		ttl       time.Duration
	}{
		{"valid well-known: 1h", map[string]answer{"origin.test": wk("deleg.test")}, resolveTTL},
		{"no well-known: 2min", nil, resolveFailTTL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			clock := newFakeClock()
			d := newDiscovery(t, tc.wellKnown)
			d.cfg.Now = clock.Now
			v := newVerifier(t, nil, d.cfg)
			wellKnowns := func() int {
				n := 0
				for _, h := range d.hs.requests() {
					if h.Path == wellKnownPath {
						n++
					}
				}
				return n
			}
			verify := func(suffix string, wantWellKnowns int) {
				t.Helper()
				tok := Token{AccessToken: tokenFor("origin.test") + "/" + suffix, ServerName: "origin.test"}
				if _, err := v.Verify(t.Context(), tok); err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if n := wellKnowns(); n != wantWellKnowns {
					t.Fatalf("after token %s: %d .well-known fetches; want %d", suffix, n, wantWellKnowns)
				}
			}
			verify("1", 1)
			verify("2", 1)
			clock.Advance(tc.ttl - time.Second)
			verify("3", 1)
			clock.Advance(2 * time.Second)
			verify("4", 2)
		})
	}
}
