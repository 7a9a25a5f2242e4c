package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/switchboard-rtc/switchboard/internal/httpserve"
	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
	"github.com/switchboard-rtc/switchboard/internal/sfuhealth"
	"github.com/switchboard-rtc/switchboard/jwtservice"
	lklive "github.com/switchboard-rtc/switchboard/livekit"
	"github.com/switchboard-rtc/switchboard/membership"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	path := fs.String("config", "", "configuration file (optional when the environment configures everything)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, warnings, err := loadConfig(configPath(*path, getenv), getenv)
	if err != nil {
		return err
	}
	logger := newLogger(cfg.Log, stderr)
	for _, w := range warnings {
		logger.Warn(w)
	}
	// The live heap is a few MiB, so the default GOGC=100 collects after
	// every few thousand requests; 400 trades a few MiB for about 20% more
	// throughput (BENCHMARKS.md). An operator's GOGC still wins.
	if getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}

	// The first SIGINT/SIGTERM starts a clean shutdown; once it has begun the
	// default handling is restored, so a second one ends the process at once.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop)

	return serve(ctx, cfg, logger)
}

// serve wires the components and runs them until ctx ends. It returns only
// after every component's goroutines have ended. extra routes go to the
// bot's event router, unread (tests).
func serve(ctx context.Context, cfg *Config, logger *slog.Logger, extra ...matrixbot.Route) error {
	logStartup(cfg, logger)

	var runs []func(context.Context) error
	// One registry for the process; the packages count into it (nil: off).
	mp := newMetricsParts(cfg.Metrics.Enabled)
	var state stateSources
	// The admin API gets a listener of its own (admin.bind, loopback by
	// default) and is never served on the public one.
	admin := http.NewServeMux()
	var auth jwtservice.Authorizer
	var bp *botParts
	if cfg.botEnabled() {
		var err error
		if bp, err = newBotParts(ctx, cfg, logger, mp, extra...); err != nil {
			return err
		}
		defer bp.close()
		runs = append(runs, bp.runs()...)
		admin.Handle("GET /admin/v1/events", bp.router.AdminHandler())
		if cfg.Matrix.RequireRoomMembership {
			auth = roomAuthorizer{bp.roster}
		}
	}

	rs := roomService(cfg)
	// Set once the JWT service exists, before anything runs.
	var ensureRoom func(context.Context, string) error
	// The one SFU health signal: /healthz?detail=1 and the call supervisor
	// read it.
	sfu := sfuhealth.New(logger.With("component", "sfuhealth"), sfuhealth.Config{Interval: cfg.LiveKit.HealthInterval}, rs)
	defer sfu.Close()
	runs = append(runs, sfu.Run)
	status := newStatusPage(cfg, sfu) // GET /admin/: its sources are set as they are made
	if bp != nil {
		// The one place that decides which calls we take part in.
		notes := newRoomNotifier(logger.With("component", "notices"), bp.bot)
		runs = append(runs, notes.Run)
		eng, err := newLiveKitEngine(cfg, logger, bp, sfu, func(ctx context.Context, room string) error {
			return ensureRoom(ctx, room)
		})
		if err != nil {
			return err
		}
		defer eng.Close()
		// After livekit: a call on a mesh focus is the mesh engine's.
		meshEng, meshFeed, err := newMeshEngine(logger, bp, bp.ice.Current)
		if err != nil {
			return err
		}
		defer meshEng.Close()
		sup := newSupervisor(cfg, logger, bp, membership.NewClientWriter(bp.bot.Client), notes, eng, meshEng)
		defer sup.Close()
		status.bp, status.sup, status.lk, status.mesh = bp, sup, eng, meshEng
		runs = append(runs, eng.Run, meshEng.Run, meshFeed, sup.Run)
		state = stateSources{members: bp.tracker, seats: sup, keys: bp.keys, livekit: eng, mesh: meshEng, direct: bp.directView}
		if cfg.Calls.Commands {
			run, err := newCommands(cfg, logger, bp, sup)
			if err != nil {
				return err
			}
			runs = append(runs, run)
		}
		admin.Handle("/admin/", membership.AdminHandlerWithKeys(bp.tracker, sup, keyReport{bp.keys}))
		admin.Handle("GET /admin/v1/supervisor", sup.AdminHandler())
		admin.Handle("GET /admin/v1/media", mediaAdmin(eng))
		admin.Handle("GET /admin/v1/mesh", meshAdmin(meshEng, bp.directView))
		admin.Handle("GET /admin/v1/recordings", recordingsAdmin(cfg.Calls.RecordDir, engineCalls{eng, meshEng}))
	}
	var sinks []jwtservice.WebhookSink
	// Both are set once the JWT service exists, before anything runs.
	var forgetRoom func(string)
	var observe lklive.RoomObserver
	deps := jwtservice.Deps{Authorizer: auth, SFU: sfu, Metrics: mp.jwt}
	if bp != nil && cfg.LiveKit.EnforceMembership {
		names := lklive.NewRoomNames(0)
		deps.Names = names
		// The enforcer's listings also serve the delegated leaves: one
		// poller of LiveKit, not two.
		e := newEnforcer(cfg, logger, rs, bp, names, func(name string) { forgetRoom(name) },
			lklive.ObserverFunc(func(room string, ids []string, at time.Time) { observe.ObserveRoom(room, ids, at) }))
		defer e.Close()
		status.enforcer = e
		sinks = append(sinks, e)
		runs = append(runs, e.Run)
	}
	// One notion of "the client" for every per-client limit.
	clients, err := httpserve.NewClientAddr(cfg.HTTP.TrustedProxies)
	if err != nil {
		return fmt.Errorf("http.trusted_proxies: %w", err)
	}
	deps.Webhooks = sinks
	jwt, err := newJWTParts(cfg, logger, rs, deps, clients, mp)
	if err != nil {
		return err
	}
	defer jwt.close()
	forgetRoom, ensureRoom = jwt.service.ForgetRoom, jwt.service.EnsureRoom
	observe, status.delayed = jwt.delayed, jwt.delayed
	runs = append(runs, jwt.delayed.Run)
	jwt.serveAdmin(admin)

	public := jwt.service.Handler()
	if mp.reg != nil {
		mp.reg.MustRegister(newStateCollector(state))
		mlog := logger.With("component", "metrics")
		metrics := mp.handler(cfg.Metrics, clients, mlog)
		if cfg.Metrics.Bind == "" {
			public = withMetrics(public, metrics)
		} else {
			msrv, err := httpserve.Listen("metrics", cfg.Metrics.Bind, metrics, mlog)
			if err != nil {
				return err
			}
			defer msrv.Close()
			runs = append(runs, msrv.Run)
		}
	}
	srv, err := httpserve.Listen("http server", cfg.HTTP.Bind, public, logger.With("component", "http"))
	if err != nil {
		return err
	}
	defer srv.Close()
	runs = append(runs, srv.Run)
	if !cfg.Admin.Token.IsZero() {
		alog := logger.With("component", "admin")
		guard := httpserve.NewBearerAuth(cfg.Admin.Token, clients, alog)
		h, err := status.handler(guard, admin)
		if err != nil {
			return err
		}
		asrv, err := httpserve.Listen("admin API", cfg.Admin.Bind, h, alog)
		if err != nil {
			return err
		}
		defer asrv.Close()
		runs = append(runs, asrv.Run)
	}

	g, gctx := errgroup.WithContext(ctx)
	for _, run := range runs {
		g.Go(func() error { return run(gctx) })
	}
	err = g.Wait()
	logger.Info("switchboard stopped")
	return err
}

// logStartup says what runs where; it never logs a secret.
func logStartup(cfg *Config, logger *slog.Logger) {
	logger.Info("switchboard starting",
		"version", versionString(),
		"bind", cfg.HTTP.Bind,
		"livekit_url", cfg.LiveKit.URL,
		"livekit_key", cfg.LiveKit.Key,
		"full_access_homeservers", cfg.LiveKit.FullAccessHomeservers,
		"insecure_skip_verify_tls", cfg.LiveKit.InsecureSkipVerifyTLS,
		"sanity_check_interval", cfg.LiveKit.SanityCheckInterval,
	)
	if cfg.LiveKit.InsecureSkipVerifyTLS {
		logger.Warn("TLS verification of homeserver calls is OFF (LIVEKIT_INSECURE_SKIP_VERIFY_TLS); use only for testing")
	}
	if cfg.botEnabled() {
		logger.Info("matrix bot configured", "homeserver", cfg.Matrix.HomeserverURL, "user_id", cfg.Matrix.Bot.UserID,
			"data_dir", cfg.DataDir)
	}
	if !cfg.Admin.Token.IsZero() {
		logger.Info("admin API configured", "admin_bind", cfg.Admin.Bind)
	}
	if m := cfg.Metrics; m.Enabled {
		logger.Info("metrics configured", "metrics_bind", cmp.Or(m.Bind, cfg.HTTP.Bind), "metrics_token", !m.Token.IsZero())
	}
}
