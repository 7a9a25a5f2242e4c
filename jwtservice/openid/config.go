package openid

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultCacheMaxTTL      = 5 * time.Minute
	DefaultConnectTimeout   = 3 * time.Second
	DefaultRequestTimeout   = 5 * time.Second
	DefaultMaxResponseBytes = 64 << 10
)

const userInfoPath = "/_matrix/federation/v1/openid/userinfo"

// Config holds the Verifier's knobs; zero values select the defaults.
type Config struct {
	// HomeserverURLs maps a server name to a base URL (e.g. "localhost" ->
	// "http://127.0.0.1:8008") used instead of federation discovery; such
	// servers may be on loopback or private addresses.
	HomeserverURLs map[string]string
	// InsecureSkipVerifyTLS turns off certificate checks, only for the
	// homeserver calls this package makes.
	InsecureSkipVerifyTLS bool
	// RootCAs verifies homeserver certificates; nil means the system roots.
	RootCAs *x509.CertPool
	// CacheMaxTTL caps how long a verified token is cached (default 5m).
	CacheMaxTTL time.Duration
	// ConnectTimeout bounds each DNS lookup, connect and TLS handshake
	// (default 3s).
	ConnectTimeout time.Duration
	// RequestTimeout bounds each HTTP exchange with a homeserver
	// (default 5s).
	RequestTimeout time.Duration
	// MaxResponseBytes caps userinfo and .well-known bodies (default 64 KiB).
	MaxResponseBytes int64
	// Resolver looks up addresses and SRV records; nil means
	// net.DefaultResolver.
	Resolver Resolver
	// Dial opens TCP connections; addr is always ip:port. nil means a
	// net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Now is the clock for cache expiry; nil means time.Now.
	Now func() time.Time
	// Metrics, if set, counts cache lookups and times userinfo checks.
	Metrics *Metrics

	// allowAddr replaces the SSRF guard's address policy. Only tests in
	// this package set it (to let test addresses count as public).
	allowAddr func(netip.Addr) bool
}

// withDefaults fills in the zero values.
func (c Config) withDefaults() Config {
	if c.CacheMaxTTL <= 0 {
		c.CacheMaxTTL = DefaultCacheMaxTTL
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.Dial == nil {
		c.Dial = (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.allowAddr == nil {
		c.allowAddr = publicAddr
	}
	return c
}

// userInfoURLs checks HomeserverURLs and returns each server's userinfo URL.
func userInfoURLs(m map[string]string) (map[string]*url.URL, error) {
	out := make(map[string]*url.URL, len(m))
	for name, raw := range m {
		if _, err := parseServerName(name); err != nil {
			return nil, fmt.Errorf("openid: config: HomeserverURLs key %q: %w", name, err)
		}
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("openid: config: HomeserverURLs[%q]: not a URL", name)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
			return nil, fmt.Errorf("openid: config: HomeserverURLs[%q]: want http(s)://host[:port][/path]", name)
		}
		u.Path = strings.TrimRight(u.Path, "/") + userInfoPath
		u.RawPath = ""
		out[name] = u
	}
	return out, nil
}
