package e2ee

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-rtc/switchboard/membership"
)

// Metrics count the key exchange's sends, accepted keys and refusals. A
// nil *Metrics counts nothing. (Keys held are a gauge read when scraped:
// cmd/coordinator asks the KeyStore's Report.)
type Metrics struct {
	sends    *prometheus.CounterVec // dialect, kind, outcome
	received *prometheus.CounterVec // dialect
	refusals *prometheus.CounterVec // dialect, reason
}

// metricDialects are the dialects a key event can come in.
var metricDialects = []membership.Dialect{membership.DialectFamedly, membership.DialectMatrixRTC}

// NewMetrics registers the exchange's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_e2ee_key_sends_total",
			Help: "To-device requests carrying our media keys (kind keys) or Famedly key requests (kind request), by dialect and outcome (ok, failed). One request reaches every recipient device; Famedly keys go once per configured event type.",
		}, []string{"dialect", "kind", "outcome"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_e2ee_keys_received_total",
			Help: "Received key events accepted into the key store, by dialect.",
		}, []string{"dialect"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_e2ee_key_refusals_total",
			Help: "Received key events and key requests refused, by dialect and reason (malformed, plaintext, unknown_sender_device, device_mismatch, no_membership, hold_full).",
		}, []string{"dialect", "reason"}),
	}
	reg.MustRegister(m.sends, m.received, m.refusals)
	for _, d := range metricDialects {
		for _, o := range []string{"ok", "failed"} {
			m.sends.WithLabelValues(d.String(), "keys", o)
		}
		m.received.WithLabelValues(d.String())
		for _, r := range reasonNames[1:] {
			m.refusals.WithLabelValues(d.String(), r)
		}
	}
	m.sends.WithLabelValues(membership.DialectFamedly.String(), "request", "ok")
	return m
}

func (m *Metrics) sent(j sendJob, err error) {
	if m == nil {
		return
	}
	kind, outcome := "keys", "ok"
	if j.request {
		kind = "request"
	}
	if err != nil {
		outcome = "failed"
	}
	m.sends.WithLabelValues(j.session.dialect.String(), kind, outcome).Inc()
}

func (m *Metrics) accepted(d membership.Dialect) {
	if m != nil {
		m.received.WithLabelValues(d.String()).Inc()
	}
}

func (m *Metrics) refused(r Refusal) {
	if m != nil {
		m.refusals.WithLabelValues(r.Dialect.String(), r.Reason.String()).Inc()
	}
}
