package main

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/switchboard-rtc/switchboard/internal/secret"
)

// getMetrics asks h for /metrics with token ("" sends none).
func getMetrics(h http.Handler, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.RemoteAddr = "127.0.0.1:5000"
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestMetricsEndpointAuth: with metrics.token set /metrics needs it
// (none or a wrong one: 401); without one it is open; the answer parses
// as the Prometheus text format and holds the packages' metrics.
func TestMetricsEndpointAuth(t *testing.T) {
	mp := newMetricsParts(true)
	logger := slog.New(slog.DiscardHandler)
	guarded := mp.handler(MetricsConfig{Enabled: true, Token: secret.Value(testMetricsToken)}, nil, logger)
	for _, token := range []string{"", "wrong-" + testMetricsToken} {
		if rec := getMetrics(guarded, token); rec.Code != http.StatusUnauthorized {
			t.Errorf("token %q: %d, want 401", token, rec.Code)
		}
	}
	for name, rec := range map[string]*httptest.ResponseRecorder{
		"right token":  getMetrics(guarded, testMetricsToken),
		"no token set": getMetrics(mp.handler(MetricsConfig{Enabled: true}, nil, logger), ""),
	} {
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d", name, rec.Code)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(rec.Body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, want := range []string{"switchboard_http_requests_total", "go_goroutines", "process_cpu_seconds_total"} {
			if fams[want] == nil {
				t.Errorf("%s: %s not exposed", name, want)
			}
		}
	}
	// Beside the public routes, /metrics is the metrics handler's and the
	// rest the public handler's.
	public := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	both := withMetrics(public, guarded)
	if rec := getMetrics(both, testMetricsToken); rec.Code != http.StatusOK {
		t.Errorf("/metrics beside the public routes: %d", rec.Code)
	}
	rec := httptest.NewRecorder()
	both.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/sfu/get", nil))
	if rec.Code != http.StatusTeapot {
		t.Errorf("/sfu/get beside /metrics: %d", rec.Code)
	}
}

// TestMetricsConfigChecked: check-config refuses a weak metrics token and
// a metrics.bind that is http.bind, and warns when metrics are on the
// public listener without a token.
func TestMetricsConfigChecked(t *testing.T) {
	load := func(extra map[string]string) ([]string, error) {
		env := minimalEnv()
		env["SWITCHBOARD_METRICS_ENABLED"] = "true"
		for k, v := range extra {
			env[k] = v
		}
		_, warnings, err := loadConfig("", envOf(env))
		return warnings, err
	}
	warnings, err := load(nil)
	if err != nil || !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, "metrics.token") }) {
		t.Errorf("public without a token: %v, warnings %q", err, warnings)
	}
	for _, extra := range []map[string]string{
		{"SWITCHBOARD_METRICS_TOKEN": testMetricsToken},
		{"SWITCHBOARD_METRICS_BIND": "127.0.0.1:9464"},
	} {
		if warnings, err := load(extra); err != nil || len(warnings) != 0 {
			t.Errorf("%v: %v, warnings %q", extra, err, warnings)
		}
	}
	_, err = load(map[string]string{"SWITCHBOARD_METRICS_TOKEN": "short", "SWITCHBOARD_METRICS_BIND": ":8080"})
	var ce *configError
	var keys []string
	for _, e := range unjoin(err) {
		if errors.As(e, &ce) {
			keys = append(keys, ce.Key)
		}
	}
	if !slices.Contains(keys, "metrics.token") || !slices.Contains(keys, "metrics.bind") || strings.Contains(err.Error(), "short") {
		t.Errorf("weak token on http.bind: %v", err)
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
