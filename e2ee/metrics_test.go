package e2ee

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-rtc/switchboard/membership"
)

// TestMetricsLabels: sends count by dialect, kind and outcome, refusals by
// dialect and reason name; a nil *Metrics counts nothing.
func TestMetricsLabels(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	famedly := sessionKey{dialect: membership.DialectFamedly}
	m.sent(sendJob{session: famedly}, nil)
	m.sent(sendJob{session: famedly, request: true}, nil)
	m.sent(sendJob{session: sessionKey{dialect: membership.DialectMatrixRTC}}, errors.New("timeout"))
	m.accepted(membership.DialectMatrixRTC)
	m.refused(Refusal{Dialect: membership.DialectFamedly, Reason: ReasonDeviceMismatch})
	var off *Metrics
	off.sent(sendJob{}, nil)
	off.accepted(membership.DialectFamedly)
	off.refused(Refusal{})
	for i, c := range []struct {
		c    prometheus.Collector
		want float64
	}{
		{m.sends.WithLabelValues("famedly", "keys", "ok"), 1},
		{m.sends.WithLabelValues("famedly", "request", "ok"), 1},
		{m.sends.WithLabelValues("matrixrtc", "keys", "failed"), 1},
		{m.received.WithLabelValues("matrixrtc"), 1},
		{m.refusals.WithLabelValues("famedly", "device_mismatch"), 1},
		{m.refusals.WithLabelValues("famedly", "no_membership"), 0},
	} {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("case %d: %v, want %v", i, got, c.want)
		}
	}
}
