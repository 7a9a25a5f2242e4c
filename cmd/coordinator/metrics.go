package main

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard-rtc/switchboard/e2ee"
	"github.com/switchboard-rtc/switchboard/internal/httpserve"
	"github.com/switchboard-rtc/switchboard/jwtservice"
	"github.com/switchboard-rtc/switchboard/jwtservice/delegation"
	"github.com/switchboard-rtc/switchboard/jwtservice/openid"
	lklive "github.com/switchboard-rtc/switchboard/livekit"
	"github.com/switchboard-rtc/switchboard/membership"
	"github.com/switchboard-rtc/switchboard/mesh"
)

// metricsParts are this process's one registry and every package's
// metrics in it. With metrics off every field is nil, and the packages
// count nothing.
type metricsParts struct {
	reg        *prometheus.Registry
	jwt        *jwtservice.Metrics
	openid     *openid.Metrics
	delegation *delegation.Metrics
	seats      *membership.Metrics
	e2ee       *e2ee.Metrics
	livekit    *lklive.Metrics
	mesh       *mesh.Metrics
}

// newMetricsParts builds the registry with the Go runtime's and the
// process's collectors and every package's metrics; nothing when off.
func newMetricsParts(enabled bool) *metricsParts {
	if !enabled {
		return &metricsParts{}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &metricsParts{
		reg: reg, jwt: jwtservice.NewMetrics(reg), openid: openid.NewMetrics(reg),
		delegation: delegation.NewMetrics(reg), seats: membership.NewMetrics(reg), e2ee: e2ee.NewMetrics(reg),
		livekit: lklive.NewMetrics(reg), mesh: mesh.NewMetrics(reg),
	}
}

// handler serves the registry in the exposition format, behind the bearer
// token when one is set.
func (m *metricsParts) handler(cfg MetricsConfig, clients *httpserve.ClientAddr, logger *slog.Logger) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorLog: slogPrinter{logger}})
	if cfg.Token.IsZero() {
		return h
	}
	return httpserve.NewBearerAuth(cfg.Token, clients, logger).Wrap(h)
}

// slogPrinter is promhttp's error log.
type slogPrinter struct{ logger *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.logger.Warn("metrics", "error", v) }

// withMetrics serves /metrics beside main's routes on one listener.
func withMetrics(main, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics)
	mux.Handle("/", main)
	return mux
}
