package mesh

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count the mesh engine's frames. A nil *Metrics counts nothing;
// the counters are resolved once, so a frame costs one atomic add. (The
// engine's calls by state are a gauge read when scraped: cmd/coordinator
// asks Engine.Calls.)
type Metrics struct {
	framesIn, framesOut, failed prometheus.Counter
}

// NewMetrics registers the mesh engine's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		framesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_mesh_frames_in_total",
			Help: "Media frames the mesh engine received from peers (SRTP-decrypted) and handed to the features.",
		}),
		framesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_mesh_frames_out_total",
			Help: "Media frames the mesh engine sent to peers (one per peer of the output's audience).",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_mesh_frames_failed_total",
			Help: "Frames the mesh engine could not send to a peer (its call ended or the send failed).",
		}),
	}
	reg.MustRegister(m.framesIn, m.framesOut, m.failed)
	return m
}

func (m *Metrics) frameIn() {
	if m != nil {
		m.framesIn.Inc()
	}
}

func (m *Metrics) frameOut(ok bool) {
	switch {
	case m == nil:
	case ok:
		m.framesOut.Inc()
	default:
		m.failed.Inc()
	}
}
