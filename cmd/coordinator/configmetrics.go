package main

import (
	"net"

	"github.com/switchboard-rtc/switchboard/internal/secret"
)

// MetricsConfig is the Prometheus endpoint, /metrics.
type MetricsConfig struct {
	Enabled   bool         `yaml:"enabled" doc:"Serve Prometheus metrics at /metrics (README: Operations, Metrics)."`
	Bind      string       `yaml:"bind" doc:"Listen address of /metrics, host:port. Empty: /metrics is served on http.bind, the public listener (set a token then)."`
	Token     secret.Value `yaml:"token" doc:"Bearer token /metrics requires (Prometheus' authorization credentials), at least 32 characters of which at least 8 different. Empty: no token is asked for."`
	TokenFile string       `yaml:"token_file" doc:"File holding the metrics token."`
}

// validateMetrics checks the metrics listener and the strength of its
// token (never echoing the token).
func (c *Config) validateMetrics(bad func(key, format string, args ...any)) {
	m := &c.Metrics
	if !m.Enabled {
		return
	}
	if m.Bind != "" {
		if err := checkBind(m.Bind); err != nil {
			bad("metrics.bind", "%v", err)
		} else if _, port, _ := net.SplitHostPort(m.Bind); port != "0" &&
			(m.Bind == c.HTTP.Bind || m.Bind == c.Admin.Bind && !c.Admin.Token.IsZero()) {
			bad("metrics.bind", "%q is already another listener's; leave it empty to serve /metrics on http.bind", m.Bind)
		}
	}
	if !m.Token.IsZero() {
		checkToken("metrics.token", m.Token, bad)
	}
}

// metricsWarnings are the metrics settings that work but expose more than
// an operator may mean to.
func (c *Config) metricsWarnings() []string {
	if c.Metrics.Enabled && c.Metrics.Bind == "" && c.Metrics.Token.IsZero() {
		return []string{"metrics are served on the public listener (http.bind) without a token: set metrics.token or metrics.bind"}
	}
	return nil
}
