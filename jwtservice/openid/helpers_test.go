package openid

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/logbuf"
)

// fakeResolver answers from maps and fails everything else as "not found".
type fakeResolver struct {
	mu   sync.Mutex
	ips  map[string][]string   // host -> addresses
	srv  map[string][]*net.SRV // "_service._proto.name" -> records
	asks []string              // every query, in order
}

func (r *fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asks = append(r.asks, "ip "+host)
	addrs, ok := r.ips[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]net.IPAddr, len(addrs))
	for i, a := range addrs {
		out[i] = net.IPAddr{IP: net.ParseIP(a)}
	}
	return out, nil
}

func (r *fakeResolver) LookupSRV(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := "_" + service + "._" + proto + "." + name
	r.asks = append(r.asks, "srv "+q)
	recs, ok := r.srv[q]
	if !ok {
		return "", nil, &net.DNSError{Err: "no such host", Name: q, IsNotFound: true}
	}
	out := make([]*net.SRV, len(recs))
	for i, rec := range recs {
		c := *rec
		out[i] = &c
	}
	return q, out, nil
}

func (r *fakeResolver) queries() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.asks)
}

// recordingDial records every dial. It connects only to loopback
// addresses (httptest servers) and to addresses in routes, which map
// fake public addresses to a loopback listener; everything else fails
// without touching the network.
type recordingDial struct {
	mu       sync.Mutex
	attempts []string
	routes   map[string]string // "192.0.2.1:443" -> "127.0.0.1:port"; "*" matches any
	refuse   map[string]bool   // fail these as connection refused
}

func (d *recordingDial) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.attempts = append(d.attempts, addr)
	target, ok := d.routes[addr]
	if !ok && !d.refuse[addr] {
		target, ok = d.routes["*"]
	}
	refused := d.refuse[addr]
	d.mu.Unlock()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, errors.New("test dial: not ip:port: " + addr)
	}
	if refused {
		return nil, errors.New("test dial: connection refused")
	}
	if !ok {
		if !ap.Addr().IsLoopback() {
			return nil, errors.New("test dial: no route to " + addr)
		}
		target = addr
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, target)
}

func (d *recordingDial) dials() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.attempts)
}

// testAllow is the address policy of tests: the production policy, except
// that 192.0.2.0/24 (documentation, refused in production) is public.
func testAllow(a netip.Addr) bool {
	return netip.MustParsePrefix("192.0.2.0/24").Contains(a.Unmap()) || publicAddr(a)
}

func testLogger(buf *logbuf.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testCert makes a self-signed certificate for the test names and
// addresses, and a pool that trusts it.
func testCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "openid test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"*.test", "localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("192.0.2.9"), net.ParseIP("192.0.2.5")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// hit is one request a test homeserver saw.
type hit struct {
	Host, Path, SNI, Token string
}

// homeserver is a test server that records requests and answers with
// handle (by default: userinfo with "@alice:<Host header>").
type homeserver struct {
	*httptest.Server
	mu     sync.Mutex
	hits   []hit
	count  atomic.Int64
	handle http.HandlerFunc
}

func newHomeserver(t testing.TB, cert *tls.Certificate, handle http.HandlerFunc) *homeserver {
	t.Helper()
	hs := &homeserver{handle: handle}
	if hs.handle == nil {
		hs.handle = func(w http.ResponseWriter, r *http.Request) { writeSub(w, "@alice:"+r.Host) }
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := hit{Host: r.Host, Path: r.URL.Path, Token: r.URL.Query().Get("access_token")}
		if r.TLS != nil {
			h.SNI = r.TLS.ServerName
		}
		hs.mu.Lock()
		hs.hits = append(hs.hits, h)
		hs.mu.Unlock()
		hs.count.Add(1)
		hs.handle(w, r)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // hostile tests make it complain
	if cert != nil {
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
		srv.StartTLS()
	} else {
		srv.Start()
	}
	hs.Server = srv
	t.Cleanup(srv.Close)
	return hs
}

func (hs *homeserver) requests() []hit {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return slices.Clone(hs.hits)
}

func writeSub(w http.ResponseWriter, sub string) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"sub": sub})
}

// newVerifier builds a Verifier that is closed at cleanup.
func newVerifier(t testing.TB, logger *slog.Logger, cfg Config) *Verifier {
	t.Helper()
	v, err := New(logger, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return v
}

// mustNotLeak fails if s contains the token.
func mustNotLeak(t testing.TB, what, s, token string) {
	t.Helper()
	if strings.Contains(s, token) {
		t.Errorf("%s contains the access token: %s", what, s)
	}
}
