// Package openid verifies Matrix OpenID tokens: it asks the user's homeserver
// (GET /_matrix/federation/v1/openid/userinfo) who the token belongs to and
// returns the homeserver's "sub" after checking that it names a user of that
// very server.
//
// # Finding the homeserver
//
// Server names listed in Config.HomeserverURLs are called at the configured
// base URL; they may be on loopback or private addresses. Every other name is
// resolved with the federation algorithm ("Resolving server names" in the
// server-server API): IP literal, explicit port, /.well-known/matrix/server,
// SRV _matrix-fed._tcp then _matrix._tcp, then port 8448. Resolutions are
// cached per server name (1 h after a valid .well-known or when none is
// needed, 2 min when the .well-known failed), at most 10,000 names.
//
// # SSRF guard
//
// Connections to discovered destinations go through a dialer that resolves
// the host itself and refuses, before any connect, loopback, private, link-local,
// multicast, unspecified, CGNAT, documentation and other reserved addresses
// (also in IPv4-mapped, NAT64 and 6to4 form). It then dials the checked IP,
// so DNS rebinding between check and connect is impossible. If any address of
// a host is refused the whole host is refused. Redirects are never followed,
// for userinfo or .well-known (the spec allows following them for
// .well-known; we do not, because the target would escape the guard and,
// for userinfo, receive the token).
//
// # Caching, sharing and bounds
//
// A verified token is cached until min(now+ExpiresIn, now+CacheMaxTTL),
// keyed by SHA-256 of server name and token (the raw token is never a map
// key). At most 100,000 tokens are cached; expired entries are swept on
// insert at least once per CacheMaxTTL, and when the cache is full arbitrary
// entries are evicted, so memory stays bounded: about 120 bytes per entry
// with a typical user id (at most about 400 with a 255-byte one), so 12 MB
// (worst case 40 MB) at the cap. Failures are not cached. Concurrent verifications
// of the same token share one homeserver request, which runs on a context
// detached from the callers' (so one caller giving up does not fail the
// others) and bounded by RequestTimeout for configured homeservers, or by
// 2×RequestTimeout+2×ConnectTimeout for discovered ones (discovery, then
// userinfo; each HTTP exchange alone is bounded by RequestTimeout).
//
// # Errors and logging
//
// Verify wraps exactly one of the sentinel errors (ErrInvalidServerName,
// ErrForbiddenAddress, ErrRejected, ErrBadResponse, ErrUnreachable), or
// net.ErrClosed after Close. When the caller's context ends first the error
// wraps both ErrUnreachable and the context's error. Error texts and log
// lines name the server, never the request URL, and never contain the
// access token.
package openid
