package mesh

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count the mesh engine's and 1:1 calls' frames and the 1:1
// invites by outcome. A nil *Metrics counts nothing; the counters are
// resolved once, so a frame costs one atomic add. (Calls by state are
// gauges read when scraped: cmd/coordinator asks Engine.Calls and
// Direct.Calls.)
type Metrics struct {
	framesIn, framesOut, failed prometheus.Counter
	invites                     map[DirectOutcome]prometheus.Counter
}

// DirectOutcome is what became of a 1:1 invite to the bot.
type DirectOutcome string

// The outcomes of 1:1 invites (invites for another device, and repeats,
// are not counted).
const (
	OutcomeAnswered        DirectOutcome = "answered"
	OutcomeRejectedBusy    DirectOutcome = "rejected_busy"     // beyond calls.direct_max
	OutcomeRejectedByMode  DirectOutcome = "rejected_by_mode"  // calls.direct is reject
	OutcomeIgnored         DirectOutcome = "ignored"           // calls.direct is ignore
	OutcomeNotDirectRoom   DirectOutcome = "not_direct_room"   // left to the room's others
	OutcomeRoomCheckFailed DirectOutcome = "room_check_failed" // the members could not be read
	OutcomeRangOut         DirectOutcome = "rang_out"          // too many under way
	OutcomeFailed          DirectOutcome = "failed"            // the call or feature could not start
)

// DirectOutcomes are every DirectOutcome.
var DirectOutcomes = []DirectOutcome{OutcomeAnswered, OutcomeRejectedBusy, OutcomeRejectedByMode, OutcomeIgnored,
	OutcomeNotDirectRoom, OutcomeRoomCheckFailed, OutcomeRangOut, OutcomeFailed}

// NewMetrics registers the mesh engine's and 1:1 calls' metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		framesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_mesh_frames_in_total",
			Help: "Media frames received from mesh and 1:1 call peers (SRTP-decrypted) and handed to the features.",
		}),
		framesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_mesh_frames_out_total",
			Help: "Media frames sent to mesh and 1:1 call peers (one per peer of the output's audience).",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_mesh_frames_failed_total",
			Help: "Frames that could not be sent to a mesh or 1:1 call peer (its call ended or the send failed).",
		}),
		invites: map[DirectOutcome]prometheus.Counter{},
	}
	invites := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_direct_invites_total",
		Help: "1:1 call invites to the bot, by outcome.",
	}, []string{"outcome"})
	for _, o := range DirectOutcomes {
		m.invites[o] = invites.WithLabelValues(string(o))
	}
	reg.MustRegister(m.framesIn, m.framesOut, m.failed, invites)
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

func (m *Metrics) directInvite(o DirectOutcome) {
	if m != nil {
		m.invites[o].Inc()
	}
}
