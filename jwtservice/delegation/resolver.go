package delegation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

const wellKnownClientPath = "/.well-known/matrix/client"

// ResolverConfig holds the Resolver's knobs; the zero value gives the
// defaults.
type ResolverConfig struct {
	// Overrides maps server names to CS-API base URLs, used instead of
	// discovery (LIVEKIT_CS_API_URL_OVERRIDES); the caller validates them.
	Overrides map[string]string
	// CacheTTL is how long a discovered URL is reused. Default 4 h.
	CacheTTL time.Duration
	// MaxEntries bounds the cache. Default 10,000.
	MaxEntries int
	// RequestTimeout bounds one discovery. Default 10 s.
	RequestTimeout time.Duration
	// MaxBodyBytes bounds the .well-known document. Default 64 KiB.
	MaxBodyBytes int64
	// Now is the clock for cache expiry. Default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Resolver finds the client-server API base URL of a homeserver: an
// override first, then the cache, then
// GET https://<server>/.well-known/matrix/client ("m.homeserver"."base_url").
// It is safe for concurrent use; concurrent discoveries of one name share a
// request.
type Resolver struct {
	cfg   ResolverConfig
	hc    *http.Client
	group singleflight.Group

	mu    sync.Mutex
	cache map[string]cacheEntry
}

type cacheEntry struct {
	url     string
	expires time.Time
}

// NewResolver builds a Resolver. hc carries the .well-known requests (give
// it the SSRF-guarded client); redirects are never followed. nil means a
// plain http.Client.
func NewResolver(cfg ResolverConfig, hc *http.Client) *Resolver {
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 4 * time.Hour
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 10_000
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = maxResponseBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	overrides := make(map[string]string, len(cfg.Overrides))
	for k, v := range cfg.Overrides {
		overrides[k] = strings.TrimRight(v, "/")
	}
	cfg.Overrides = overrides
	return &Resolver{cfg: cfg, hc: noRedirects(hc), cache: make(map[string]cacheEntry)}
}

// Resolve returns serverName's CS-API base URL without a trailing slash.
// Every failure wraps ErrCSAPIUnresolvable.
func (r *Resolver) Resolve(ctx context.Context, serverName string) (string, error) {
	if u, ok := r.cfg.Overrides[serverName]; ok && u != "" {
		return u, nil
	}
	if !validServerName(serverName) {
		return "", fmt.Errorf("%w: invalid server name", ErrCSAPIUnresolvable)
	}
	if u, ok := r.cached(serverName); ok {
		return u, nil
	}
	// The discovery outlives a caller that gives up, bounded by its own
	// timeout, so that callers sharing it are not failed by that one.
	ch := r.group.DoChan(serverName, func() (any, error) {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.RequestTimeout)
		defer cancel()
		start := r.cfg.Now()
		u, err := r.discover(dctx, serverName)
		if err != nil {
			r.cfg.Logger.Warn("delegation: CS-API discovery failed", "server", serverName, "err", err)
			return "", err
		}
		r.store(serverName, u, start.Add(r.cfg.CacheTTL))
		return u, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return "", res.Err
		}
		return res.Val.(string), nil
	case <-ctx.Done():
		return "", fmt.Errorf("%w: %w", ErrCSAPIUnresolvable, ctx.Err())
	}
}

// discover fetches and parses the server's .well-known/matrix/client.
func (r *Resolver) discover(ctx context.Context, serverName string) (string, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: "+format, append([]any{ErrCSAPIUnresolvable, serverName}, args...)...)
	}
	u := &url.URL{Scheme: "https", Host: serverName, Path: wellKnownClientPath}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fail("request: %v", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.hc.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return "", fail("%v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fail("HTTP status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.cfg.MaxBodyBytes+1))
	if err != nil {
		return "", fail("reading body: %v", err)
	}
	if int64(len(body)) > r.cfg.MaxBodyBytes {
		return "", fail("document larger than %d bytes", r.cfg.MaxBodyBytes)
	}
	base, err := parseWellKnown(body)
	if err != nil {
		return "", fail("%v", err)
	}
	return base, nil
}

// parseWellKnown extracts and checks m.homeserver.base_url.
func parseWellKnown(body []byte) (string, error) {
	var doc struct {
		Homeserver *struct {
			BaseURL *string `json:"base_url"`
		} `json:"m.homeserver"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("malformed document: %v", err)
	}
	if doc.Homeserver == nil || doc.Homeserver.BaseURL == nil || *doc.Homeserver.BaseURL == "" {
		return "", fmt.Errorf("no m.homeserver.base_url")
	}
	base := strings.TrimRight(*doc.Homeserver.BaseURL, "/")
	if _, err := parseBaseURL(base); err != nil {
		return "", fmt.Errorf("m.homeserver.base_url: %v", err)
	}
	return base, nil
}

// validServerName accepts host[:port] characters only: letters, digits,
// '.', '-', ':' and IPv6 brackets, at most 255 bytes. Anything that could
// change the URL (/, @, ?, #, %) is refused before any request.
func validServerName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '-', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	u, err := url.Parse("https://" + s)
	return err == nil && u.Host == s && u.Hostname() != ""
}

func (r *Resolver) cached(name string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.cache[name]
	if !ok {
		return "", false
	}
	if !r.cfg.Now().Before(e.expires) {
		delete(r.cache, name)
		return "", false
	}
	return e.url, true
}

// store caches u; when full it drops expired entries, then arbitrary ones.
func (r *Resolver) store(name, u string, expires time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.cache[name]; !ok && len(r.cache) >= r.cfg.MaxEntries {
		now := r.cfg.Now()
		for k, e := range r.cache {
			if !now.Before(e.expires) {
				delete(r.cache, k)
			}
		}
		for k := range r.cache {
			if len(r.cache) < r.cfg.MaxEntries {
				break
			}
			delete(r.cache, k)
		}
	}
	r.cache[name] = cacheEntry{url: u, expires: expires}
}
