package delegation

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count the delegated delayed leaves' restarts and sends by
// outcome. A nil *Metrics counts nothing.
type Metrics struct {
	restarts, sends map[outcome]prometheus.Counter
}

var outcomes = []outcome{outcomeOK, outcomeGone, outcomeRetry, outcomeFailed}

// NewMetrics registers the delegation metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	restarts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_delegation_restarts_total",
		Help: "Restarts of delegated delayed leaves (MSC4140) on the users' homeservers, by outcome: ok, gone (already sent, cancelled or fired), retry (a retryable failure: 429, 5xx, network), failed (cannot succeed).",
	}, []string{"outcome"})
	sends := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_delegation_sends_total",
		Help: "Delegated delayed leaves sent after their participant left LiveKit, by outcome (as for restarts).",
	}, []string{"outcome"})
	reg.MustRegister(restarts, sends)
	m := &Metrics{restarts: map[outcome]prometheus.Counter{}, sends: map[outcome]prometheus.Counter{}}
	for _, o := range outcomes {
		m.restarts[o] = restarts.WithLabelValues(o.String())
		m.sends[o] = sends.WithLabelValues(o.String())
	}
	return m
}

func (m *Metrics) answered(op op, o outcome) {
	if m == nil {
		return
	}
	if _, known := m.restarts[o]; !known {
		o = outcomeFailed
	}
	if op == opRestart {
		m.restarts[o].Inc()
	} else {
		m.sends[o].Inc()
	}
}
