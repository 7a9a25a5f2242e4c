package openid

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count OpenID cache use and time the homeserver's userinfo
// answers. A nil *Metrics counts nothing.
type Metrics struct {
	hits, misses prometheus.Counter
	userinfo     prometheus.Histogram
	failures     *prometheus.CounterVec
}

// failureReasons are the values reason() gives.
var failureReasons = []string{"invalid_server_name", "forbidden_address", "rejected", "bad_response", "unreachable", "other"}

// NewMetrics registers the verifier's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_openid_cache_lookups_total",
		Help: "OpenID token verifications answered from the cache (hit) or sent to the homeserver (miss).",
	}, []string{"result"})
	m := &Metrics{
		hits: lookups.WithLabelValues("hit"), misses: lookups.WithLabelValues("miss"),
		userinfo: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchboard_openid_userinfo_duration_seconds",
			Help:    "Time the homeserver took to answer an OpenID userinfo check (discovery included), whatever the answer.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_openid_userinfo_failures_total",
			Help: "OpenID userinfo checks that did not verify the token, by reason (rejected: the homeserver said no).",
		}, []string{"reason"}),
	}
	reg.MustRegister(lookups, m.userinfo, m.failures)
	for _, r := range failureReasons {
		m.failures.WithLabelValues(r)
	}
	return m
}

func (m *Metrics) lookup(hit bool) {
	switch {
	case m == nil:
	case hit:
		m.hits.Inc()
	default:
		m.misses.Inc()
	}
}

func (m *Metrics) userInfoDone(took time.Duration, err error) {
	if m == nil {
		return
	}
	m.userinfo.Observe(took.Seconds())
	if err != nil {
		m.failures.WithLabelValues(reason(err)).Inc()
	}
}
