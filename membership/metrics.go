package membership

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count the restarts of our own seats' delayed leaves. A nil
// *Metrics counts nothing. (The calls, members and seats are gauges read
// when scraped: cmd/coordinator asks the tracker and the supervisor.)
type Metrics struct {
	restarts map[Dialect]map[string]prometheus.Counter // dialect -> outcome
}

// SeatDialects are the dialects our seats are written in, the values of
// the dialect label of seat metrics.
var SeatDialects = []Dialect{DialectFamedly, DialectMatrixRTC}

// NewMetrics registers the seat writer's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_seat_delayed_leave_restarts_total",
		Help: "Restarts of the delayed leaves (MSC4140) of our own call memberships, by dialect and outcome: ok, gone (it had fired or was dropped; rescheduled), failed.",
	}, []string{"dialect", "outcome"})
	reg.MustRegister(vec)
	m := &Metrics{restarts: map[Dialect]map[string]prometheus.Counter{}}
	for _, d := range SeatDialects {
		m.restarts[d] = map[string]prometheus.Counter{}
		for _, o := range []string{"ok", "gone", "failed"} {
			m.restarts[d][o] = vec.WithLabelValues(d.String(), o)
		}
	}
	return m
}

func (m *Metrics) restarted(d Dialect, err error) {
	if m == nil || m.restarts[d] == nil {
		return
	}
	switch {
	case err == nil:
		m.restarts[d]["ok"].Inc()
	case errors.Is(err, ErrDelayGone):
		m.restarts[d]["gone"].Inc()
	default:
		m.restarts[d]["failed"].Inc()
	}
}
