package livekit

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestMetricsCounters: each hook counts into its own pre-resolved series,
// and a nil *Metrics (tests, metrics off) counts nothing without failing.
func TestMetricsCounters(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	m.frameIn()
	m.frameIn()
	m.undecrypted(true)
	m.frameOut()
	m.frameDropped()
	m.enforced(actionRemoveParticipant, nil)
	m.enforced(actionDeleteRoom, errors.New("livekit down"))
	for name, c := range map[string]struct {
		got  prometheus.Counter
		want float64
	}{
		"in": {m.framesIn, 2}, "no key": {m.noKey, 1}, "failed": {m.authFailed, 0}, "out": {m.framesOut, 1},
		"dropped": {m.dropped, 1}, "removed": {m.actions[actionRemoveParticipant][true], 1},
		"delete failed": {m.actions[actionDeleteRoom][false], 1}, "deleted": {m.actions[actionDeleteRoom][true], 0},
	} {
		if v := testutil.ToFloat64(c.got); v != c.want {
			t.Errorf("%s: %v, want %v", name, v, c.want)
		}
	}
	var off *Metrics
	off.frameIn()
	off.undecrypted(false)
	off.frameOut()
	off.frameDropped()
	off.enforced(actionDeleteRoom, nil)
}

// BenchmarkFrameCounter is what metrics add to a received frame: one
// counter increment (BENCHMARKS.md compares it with the frame's other
// costs). off is metrics disabled.
func BenchmarkFrameCounter(b *testing.B) {
	b.Run("on", func(b *testing.B) {
		m := NewMetrics(prometheus.NewRegistry())
		b.ReportAllocs()
		for b.Loop() {
			m.frameIn()
		}
	})
	b.Run("off", func(b *testing.B) {
		var m *Metrics
		b.ReportAllocs()
		for b.Loop() {
			m.frameIn()
		}
	})
}
