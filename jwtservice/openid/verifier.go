package openid

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

const (
	maxCachedTokens = 100_000
	maxTokenBytes   = 4096
	maxNameInError  = 64
)

// Token is an OpenID token as a client presents it.
type Token struct {
	AccessToken string
	ServerName  string
	// ExpiresIn is the lifetime the client reports; it only shortens
	// caching (it cannot extend it past CacheMaxTTL).
	ExpiresIn time.Duration
}

// Verifier checks Matrix OpenID tokens against the user's homeserver. It is
// safe for concurrent use. New starts no goroutines; Verify may leave a
// shared homeserver request running after its caller gave up, bounded by the
// timeouts; Close ends those and the pooled connections.
type Verifier struct {
	logger     *slog.Logger
	cfg        Config
	configured map[string]*url.URL // server name -> userinfo URL

	dialer    *dialer
	guarded   *http.Client // discovered homeservers, through the SSRF guard
	direct    *http.Client // configured homeservers
	transport [2]*http.Transport

	tokens    *ttlCache[tokenKey, string]
	routes    *ttlCache[string, *route]
	flights   singleflight.Group // verifications, by token key
	resolving singleflight.Group // discoveries, by server name

	mu        sync.Mutex // orders inflight.Add against Close
	closed    atomic.Bool
	inflight  sync.WaitGroup // shared calls in progress
	closing   context.Context
	cancelAll context.CancelFunc
}

// tokenKey is SHA-256 of server name, NUL, access token.
type tokenKey [sha256.Size]byte

// New returns a Verifier. logger may be nil (nothing is logged).
func New(logger *slog.Logger, cfg Config) (*Verifier, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	configured, err := userInfoURLs(cfg.HomeserverURLs)
	if err != nil {
		return nil, err
	}
	closing, cancel := context.WithCancel(context.Background())
	v := &Verifier{
		logger:     logger,
		cfg:        cfg,
		configured: configured,
		tokens:     newTTLCache[tokenKey, string](maxCachedTokens, cfg.CacheMaxTTL),
		routes:     newTTLCache[string, *route](maxResolutions, resolveFailTTL),
		closing:    closing,
		cancelAll:  cancel,
	}
	v.dialer = &dialer{
		resolver: cfg.Resolver,
		dial:     cfg.Dial,
		allow:    cfg.allowAddr,
		timeout:  cfg.ConnectTimeout,
		closing:  closing,
		tls: &tls.Config{
			MinVersion:         tls.VersionTLS12,
			RootCAs:            cfg.RootCAs,
			InsecureSkipVerify: cfg.InsecureSkipVerifyTLS, //nolint:gosec // operator's explicit choice
			NextProtos:         []string{"http/1.1"},
		},
	}
	v.guarded, v.transport[0] = newClient(v.dialer, cfg, true)
	v.direct, v.transport[1] = newClient(v.dialer, cfg, false)
	return v, nil
}

func (v *Verifier) now() time.Time { return v.cfg.Now() }

// Verify returns the user id (the homeserver's "sub") the token belongs to.
// Errors wrap one of the package's sentinels; see the package doc.
func (v *Verifier) Verify(ctx context.Context, tok Token) (string, error) {
	if v.closed.Load() {
		return "", fmt.Errorf("openid: verify: %w", net.ErrClosed)
	}
	sn, err := parseServerName(tok.ServerName)
	if err != nil {
		name := tok.ServerName[:min(len(tok.ServerName), maxNameInError)]
		v.logger.Info("openid: verification failed", "reason", reason(err), "server", name, "err", err.Error())
		return "", fmt.Errorf("openid: verify %q: %w", name, err)
	}
	if tok.AccessToken == "" || len(tok.AccessToken) > maxTokenBytes {
		err := fail(ErrRejected, "empty or oversized access token")
		v.logger.Info("openid: verification failed", "reason", reason(err), "server", sn.raw, "err", err.Error())
		return "", fmt.Errorf("openid: verify %s: %w", sn.raw, err)
	}
	key := makeTokenKey(sn.raw, tok.AccessToken)
	sub, ok := v.tokens.get(key, v.now())
	v.cfg.Metrics.lookup(ok)
	if ok {
		return sub, nil
	}
	return v.verifyMiss(ctx, sn, tok, key)
}

// verifyMiss joins or starts the shared homeserver request for key and
// waits for it or for ctx.
func (v *Verifier) verifyMiss(ctx context.Context, sn serverName, tok Token, key tokenKey) (string, error) {
	if err := context.Cause(ctx); err != nil {
		return "", fmt.Errorf("openid: verify %s: %w: %w", sn.raw, ErrUnreachable, err)
	}
	v.logger.Debug("openid: cache miss", "server", sn.raw)
	ch := v.flights.DoChan(string(key[:]), func() (any, error) {
		return v.verifyShared(ctx, sn, tok, key)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return "", fmt.Errorf("openid: verify %s: %w", sn.raw, res.Err)
		}
		return res.Val.(string), nil
	case <-ctx.Done():
		return "", fmt.Errorf("openid: verify %s: %w: %w", sn.raw, ErrUnreachable, context.Cause(ctx))
	}
}

// verifyShared asks the homeserver, caches a success and logs a failure.
// It runs once per key for all concurrent callers.
func (v *Verifier) verifyShared(ctx context.Context, sn serverName, tok Token, key tokenKey) (string, error) {
	timeout := v.cfg.RequestTimeout
	if _, ok := v.configured[sn.raw]; !ok {
		timeout += v.resolveTimeout()
	}
	sctx, done, err := v.startShared(ctx, timeout)
	if err != nil {
		return "", err
	}
	defer done()
	start, began := v.now(), time.Now()
	sub, err := v.userInfo(sctx, sn, tok.AccessToken)
	v.cfg.Metrics.userInfoDone(time.Since(began), err)
	if err != nil {
		err = redact(err, tok.AccessToken)
		level := slog.LevelWarn
		if errors.Is(err, ErrRejected) {
			level = slog.LevelInfo
		}
		v.logger.Log(sctx, level, "openid: verification failed", "reason", reason(err), "server", sn.raw, "err", err.Error())
		return "", err
	}
	ttl := v.cfg.CacheMaxTTL
	if tok.ExpiresIn > 0 {
		ttl = min(ttl, tok.ExpiresIn)
	}
	v.tokens.put(key, sub, start.Add(ttl), start)
	v.logger.Debug("openid: verified", "server", sn.raw, "user", sub)
	return sub, nil
}

// startShared returns a context for work shared by several callers: it
// keeps ctx's values but not its cancellation, ends after timeout or at
// Close, and is counted so that Close can wait for it.
func (v *Verifier) startShared(ctx context.Context, timeout time.Duration) (context.Context, func(), error) {
	v.mu.Lock()
	if v.closed.Load() {
		v.mu.Unlock()
		return nil, nil, net.ErrClosed
	}
	v.inflight.Add(1)
	v.mu.Unlock()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	stop := context.AfterFunc(v.closing, cancel)
	return sctx, func() {
		stop()
		cancel()
		v.inflight.Done()
	}, nil
}

// userInfo performs the userinfo exchange and checks its answer.
func (v *Verifier) userInfo(ctx context.Context, sn serverName, token string) (string, error) {
	client, host := v.direct, ""
	u, ok := v.configured[sn.raw]
	if ok {
		copied := *u
		u = &copied
	} else {
		rt, err := v.resolve(ctx, sn)
		if err != nil {
			return "", err
		}
		client, host = v.guarded, rt.host
		u = &url.URL{Scheme: "https", Host: rt.key, Path: userInfoPath}
		ctx = withRoute(ctx, rt)
	}
	u.RawQuery = url.Values{"access_token": {token}}.Encode()
	ctx, cancel := context.WithTimeout(ctx, v.cfg.RequestTimeout)
	defer cancel()
	status, body, err := v.get(ctx, client, u, host)
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		return "", statusFailure(status)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil || doc == nil {
		return "", fail(ErrBadResponse, "userinfo is not a JSON object")
	}
	var sub string
	if err := json.Unmarshal(doc["sub"], &sub); err != nil {
		return "", fail(ErrBadResponse, "userinfo has no string sub")
	}
	if err := checkUserID(sub, sn); err != nil {
		return "", err
	}
	return sub, nil
}

// Close ends shared requests in progress, waits for them and closes pooled
// connections; afterwards Verify fails with net.ErrClosed. It is safe to
// call more than once; calls after the first return net.ErrClosed.
func (v *Verifier) Close() error {
	v.mu.Lock()
	if v.closed.Load() {
		v.mu.Unlock()
		return net.ErrClosed
	}
	v.closed.Store(true)
	v.mu.Unlock()
	v.cancelAll()
	v.inflight.Wait()
	for _, t := range v.transport {
		t.CloseIdleConnections()
	}
	return nil
}

// makeTokenKey hashes without allocating for names and tokens that fit
// the stack buffer (all real ones).
func makeTokenKey(server, token string) tokenKey {
	var buf [512]byte
	if len(server)+1+len(token) <= len(buf) {
		n := copy(buf[:], server)
		buf[n] = 0
		n++
		n += copy(buf[n:], token)
		return sha256.Sum256(buf[:n])
	}
	h := sha256.New()
	h.Write([]byte(server))
	h.Write([]byte{0})
	h.Write([]byte(token))
	var k tokenKey
	h.Sum(k[:0])
	return k
}
