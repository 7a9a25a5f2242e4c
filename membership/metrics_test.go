package membership

import (
	"errors"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestMetricsRestartOutcomes: a restart counts as ok, gone (ErrDelayGone,
// wrapped too) or failed under its dialect; other dialects and a nil
// *Metrics count nothing.
func TestMetricsRestartOutcomes(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	m.restarted(DialectMatrixRTC, nil)
	m.restarted(DialectMatrixRTC, fmt.Errorf("restart: %w", ErrDelayGone))
	m.restarted(DialectFamedly, errors.New("homeserver down"))
	m.restarted(DialectRTCSticky, nil)
	var off *Metrics
	off.restarted(DialectFamedly, nil)
	for _, c := range []struct {
		d       Dialect
		outcome string
		want    float64
	}{
		{DialectMatrixRTC, "ok", 1}, {DialectMatrixRTC, "gone", 1}, {DialectMatrixRTC, "failed", 0},
		{DialectFamedly, "failed", 1}, {DialectFamedly, "ok", 0},
	} {
		if got := testutil.ToFloat64(m.restarts[c.d][c.outcome]); got != c.want {
			t.Errorf("%v %s: %v, want %v", c.d, c.outcome, got, c.want)
		}
	}
}
