package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/switchboard-rtc/switchboard/jwtservice/delegation"
)

// delegationStoreDir is where delegated leaves are kept across restarts,
// or "" (with why) when they live in memory only. The data directory is
// created for the bot, which needs it; for the JWT service alone it is used
// only if it exists, so a drop-in for lk-jwt-service configured by the
// environment alone does not fail on the default /var/lib/switchboard.
func delegationStoreDir(cfg *Config) (dir, why string) {
	switch {
	case cfg.DataDir == "":
		return "", "data_dir is empty"
	case cfg.botEnabled():
		return cfg.DataDir, ""
	}
	if _, err := os.Stat(cfg.DataDir); errors.Is(err, fs.ErrNotExist) {
		return "", "data_dir " + cfg.DataDir + " does not exist"
	}
	return cfg.DataDir, ""
}

// delegationStoreNote is what check-config and the start log say when
// delegated leaves will not survive a restart; "" when they will.
func delegationStoreNote(cfg *Config) string {
	if _, why := delegationStoreDir(cfg); why != "" {
		return "delegated delayed leaves are kept in memory only (" + why +
			"): after a restart their participants are no longer watched, and a client that dies then stays in its call until its leave's delay ends"
	}
	return ""
}

// newDelegation builds the delayed-leave manager, with its store in the
// data directory when there is one. close releases the store.
func newDelegation(cfg *Config, logger *slog.Logger, hc *http.Client, rs *lksdk.RoomServiceClient,
	metrics *delegation.Metrics) (m *delegation.Manager, closeStore func(), err error) {
	dcfg := delegation.Config{
		SanityCheckInterval: cfg.LiveKit.SanityCheckInterval,
		ReconnectGrace:      cfg.LiveKit.DelegationGrace,
		RequestTimeout:      cfg.Matrix.RequestTimeout,
		MaxJobsPerUser:      cfg.LiveKit.DelegationMaxPerUser,
		Metrics:             metrics,
	}
	closeStore = func() {}
	if dir, _ := delegationStoreDir(cfg); dir != "" {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Matrix.RequestTimeout)
		st, err := delegation.OpenStore(ctx, dir)
		cancel()
		if err != nil {
			return nil, nil, fmt.Errorf("delegated leaves: %w", err)
		}
		dcfg.Store, closeStore = st, func() { _ = st.Close() }
	} else {
		logger.Warn(delegationStoreNote(cfg))
	}
	m, err = delegation.New(logger.With("component", "delegation"), dcfg, hc, rs)
	if err != nil {
		closeStore()
		return nil, nil, fmt.Errorf("delegation: %w", err)
	}
	return m, closeStore, nil
}

// serveAdmin adds the delegated leaves' view to the admin API:
// GET /admin/v1/delegations lists the jobs held and the leaves sent lately.
func (p *jwtParts) serveAdmin(mux *http.ServeMux) {
	mux.Handle("GET /admin/v1/delegations", delegation.AdminHandler(p.delayed))
}
