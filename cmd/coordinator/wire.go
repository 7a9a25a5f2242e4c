package main

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/switchboard-rtc/switchboard/internal/httpserve"
	"github.com/switchboard-rtc/switchboard/jwtservice"
	"github.com/switchboard-rtc/switchboard/jwtservice/delegation"
	"github.com/switchboard-rtc/switchboard/jwtservice/openid"
)

// jwtParts are the components of the livekit_service_url. delayed has a
// Run loop; the others are passive.
type jwtParts struct {
	verifier *openid.Verifier
	delayed  *delegation.Manager
	service  *jwtservice.Service

	closeStore func() // closes the delegated leaves' database, after delayed
}

// close releases what newJWTParts opened.
func (p *jwtParts) close() {
	_ = p.verifier.Close()
	_ = p.delayed.Close()
	p.closeStore()
}

// newJWTParts builds the OpenID verifier and the token service from the
// validated configuration. Nothing is started.
// deps brings the authorizer, webhook sinks and room namer; the rest of
// the service's collaborators are made here.
func newJWTParts(cfg *Config, logger *slog.Logger, rs *lksdk.RoomServiceClient, deps jwtservice.Deps,
	clients *httpserve.ClientAddr, mp *metricsParts) (*jwtParts, error) {
	ocfg, err := openIDConfig(cfg)
	if err != nil {
		return nil, err
	}
	ocfg.Metrics = mp.openid
	verifier, err := openid.New(logger.With("component", "openid"), ocfg)
	if err != nil {
		return nil, fmt.Errorf("openid verifier: %w", err)
	}
	// Delegated delayed leaves call the users' homeservers: through the same
	// SSRF rules as the OpenID checks.
	hc := openid.GuardedClient(ocfg)
	delayed, closeStore, err := newDelegation(cfg, logger, hc, rs, mp.delegation)
	if err != nil {
		_ = verifier.Close()
		return nil, err
	}
	csapi := delegation.NewResolver(delegation.ResolverConfig{
		Overrides: cfg.Matrix.HomeserverURLs, RequestTimeout: cfg.Matrix.RequestTimeout,
		Logger: logger.With("component", "csapi"),
	}, hc)
	deps.Verifier, deps.Rooms, deps.CSAPI, deps.DelayedLeaves = verifier, rs, csapi, delayed
	svc, err := jwtservice.New(logger.With("component", "jwtservice"), jwtservice.Config{
		LiveKitURL:            cfg.LiveKit.URL,
		APIKey:                cfg.LiveKit.Key,
		APISecret:             cfg.LiveKit.Secret,
		TokenTTL:              cfg.LiveKit.TokenTTL,
		FullAccessHomeservers: cfg.LiveKit.FullAccessHomeservers,
		RateLimit:             jwtservice.RateLimit{Rate: cfg.HTTP.RateLimit, Burst: cfg.HTTP.RateBurst, Client: clients.Of},
	}, deps)
	if err != nil {
		_ = verifier.Close()
		_ = delayed.Close()
		closeStore()
		return nil, err
	}
	return &jwtParts{verifier: verifier, delayed: delayed, closeStore: closeStore, service: svc}, nil
}

// openIDConfig is how we call other homeservers (OpenID checks) and any
// other server a user names: the SSRF rules of package openid.
func openIDConfig(cfg *Config) (openid.Config, error) {
	ocfg := openid.Config{
		HomeserverURLs:        cfg.Matrix.HomeserverURLs,
		InsecureSkipVerifyTLS: cfg.LiveKit.InsecureSkipVerifyTLS,
		CacheMaxTTL:           cfg.Matrix.OpenIDCacheTTL,
		RequestTimeout:        cfg.Matrix.RequestTimeout,
	}
	if cfg.Matrix.CAFile != "" {
		pem, err := os.ReadFile(cfg.Matrix.CAFile)
		if err != nil {
			return ocfg, fmt.Errorf("matrix.ca_file: %w", err)
		}
		ocfg.RootCAs = x509.NewCertPool()
		if !ocfg.RootCAs.AppendCertsFromPEM(pem) {
			return ocfg, fmt.Errorf("matrix.ca_file: no PEM certificate in %s", cfg.Matrix.CAFile)
		}
	}
	return ocfg, nil
}

// roomService is the LiveKit server API client (RoomService).
func roomService(cfg *Config) *lksdk.RoomServiceClient {
	apiURL := cfg.LiveKit.APIURL
	if apiURL == "" {
		apiURL = cfg.LiveKit.URL
	}
	return lksdk.NewRoomServiceClient(apiURL, cfg.LiveKit.Key, cfg.LiveKit.Secret.Reveal())
}
