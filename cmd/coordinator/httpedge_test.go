package main

import (
	"bufio"
	"fmt"
	"maps"
	"net"
	"net/http"
	"strings"
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

// TestRateLimitPerClientBehindProxy: behind a reverse proxy listed in
// http.trusted_proxies, each client named by X-Forwarded-For has its own
// rate limit; a direct client's X-Forwarded-For is ignored, and so is every
// entry left of the rightmost one a trusted proxy did not add.
func TestRateLimitPerClientBehindProxy(t *testing.T) {
	env := minimalEnv()
	env["SWITCHBOARD_HTTP_RATE_LIMIT"] = "0.001" // one request, then nothing for the test's life
	env["SWITCHBOARD_HTTP_RATE_BURST"] = "1"
	env["SWITCHBOARD_HTTP_TRUSTED_PROXIES"] = "127.0.0.2/32"
	addr, _ := startServe(t, env)
	proxy, direct := clientFrom("127.0.0.2"), clientFrom("127.0.0.1")

	for i, c := range []struct {
		from    *http.Client
		xff     string
		limited bool
	}{
		{proxy, "198.51.100.7", false},
		{proxy, "198.51.100.7", true},                // the same client again
		{proxy, "198.51.100.8", false},               // another client of the proxy
		{proxy, "198.51.100.7, 127.0.0.2", true},     // a trusted hop is skipped
		{proxy, "198.51.100.7, 198.51.100.9", false}, // the client's own claim is not believed
		{direct, "198.51.100.10", false},
		{direct, "198.51.100.11", true}, // not a proxy: its header is ignored
	} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+addr+"/sfu/get", strings.NewReader("{}"))
		req.Header.Set("X-Forwarded-For", c.xff)
		res, err := c.from.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if limited := res.StatusCode == http.StatusTooManyRequests; limited != c.limited {
			t.Errorf("request %d (X-Forwarded-For %q): HTTP %d, want limited=%v", i, c.xff, res.StatusCode, c.limited)
		}
	}
}

// clientFrom is an HTTP client whose connections come from the loopback
// address ip.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// TestTrustedProxiesChecked: check-config names every bad entry.
func TestTrustedProxiesChecked(t *testing.T) {
	env := minimalEnv()
	env["SWITCHBOARD_HTTP_TRUSTED_PROXIES"] = "10.0.0.0/8, 172.16.0.1/12 proxy.example.org ::1"
	_, _, err := loadConfig("", envOf(env))
	for _, want := range []string{`http.trusted_proxies: "172.16.0.1/12" has host bits set`, `http.trusted_proxies: "proxy.example.org" is not a CIDR`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("no %q in %v", want, err)
		}
	}
}

// TestAdminConfigChecks: check-config refuses weak admin tokens (without
// echoing them) and an admin listener shared with the public one.
func TestAdminConfigChecks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		wants []string
	}{
		{"short", map[string]string{"SWITCHBOARD_ADMIN_TOKEN": "admintoken"},
			[]string{"admin.token: too weak: 10 characters, need at least 32"}},
		{"monotonous", map[string]string{"SWITCHBOARD_ADMIN_TOKEN": strings.Repeat("ab12", 10)},
			[]string{"admin.token: too weak: only 4 different characters, need at least 8"}},
		{"shared listener", map[string]string{"SWITCHBOARD_ADMIN_TOKEN": testAdminToken, "SWITCHBOARD_ADMIN_BIND": ":8080"},
			[]string{`admin.bind: ":8080" is http.bind too`}},
		{"bad bind", map[string]string{"SWITCHBOARD_ADMIN_BIND": "localhost"},
			[]string{`admin.bind: "localhost" is not host:port`}},
	} {
		env := minimalEnv()
		maps.Copy(env, tc.env)
		_, _, err := loadConfig("", envOf(env))
		for _, want := range tc.wants {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: no %q in %v", tc.name, want, err)
			}
		}
		if tok := tc.env["SWITCHBOARD_ADMIN_TOKEN"]; err != nil && tok != "" && strings.Contains(err.Error(), tok) {
			t.Errorf("%s: the error shows the token: %v", tc.name, err)
		}
	}
	env := minimalEnv()
	env["SWITCHBOARD_ADMIN_TOKEN"] = testAdminToken
	if cfg, _, err := loadConfig("", envOf(env)); err != nil || cfg.Admin.Bind != "127.0.0.1:8081" {
		t.Fatalf("strong token refused or admin.bind not on loopback by default: %v", err)
	}
}
