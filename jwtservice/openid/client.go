package openid

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"strconv"
)

// GuardedClient returns an HTTP client for the service's other calls to
// homeservers (client-server API discovery and delayed-event management). It
// applies the Verifier's rules: hosts of the configured HomeserverURLs are
// dialled as they are; any other host is resolved here and refused (before
// any connect) when an address is loopback, private, link-local or otherwise
// not public. Redirects are never followed, and every phase has a timeout.
func GuardedClient(cfg Config) *http.Client {
	cfg = cfg.withDefaults()
	trusted := map[string]bool{}
	for _, raw := range cfg.HomeserverURLs {
		if u, err := url.Parse(raw); err == nil && u.Host != "" {
			trusted[u.Host] = true
			trusted[net.JoinHostPort(u.Hostname(), defaultPort(u))] = true
		}
	}
	d := &dialer{
		resolver: cfg.Resolver, dial: cfg.Dial, allow: cfg.allowAddr,
		timeout: cfg.ConnectTimeout, closing: context.Background(),
	}
	dial := func(ctx context.Context, _, addr string) (net.Conn, error) {
		host, portText, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		port, err := strconv.ParseUint(portText, 10, 16)
		if err != nil {
			return nil, fail(ErrInvalidServerName, "bad port in "+addr)
		}
		ctx, cancel := d.bound(ctx)
		defer cancel()
		return d.dialTargets(ctx, []hostPort{{host: host, port: uint16(port)}}, !trusted[addr])
	}
	tr := &http.Transport{
		DialContext:            dial,
		TLSClientConfig:        &tls.Config{RootCAs: cfg.RootCAs, InsecureSkipVerify: cfg.InsecureSkipVerifyTLS, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    cfg.ConnectTimeout,
		ResponseHeaderTimeout:  cfg.RequestTimeout,
		MaxIdleConnsPerHost:    16,
		IdleConnTimeout:        90e9,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       cfg.RequestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func defaultPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}
