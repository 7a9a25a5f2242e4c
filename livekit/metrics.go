package livekit

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Enforcement actions, the action label's values.
const (
	actionRemoveParticipant = "remove_participant"
	actionDeleteRoom        = "delete_room"
)

// Metrics count the LiveKit engine's frames and the enforcer's actions. A
// nil *Metrics counts nothing. The per-frame counters are resolved here
// once, so a frame costs one atomic add. (The engine's calls by state are a
// gauge read when scraped: cmd/coordinator asks Engine.Calls.)
type Metrics struct {
	framesIn, noKey, authFailed, framesOut, dropped prometheus.Counter
	actions                                         map[string]map[bool]prometheus.Counter // action -> ok
}

// NewMetrics registers the engine's and the enforcer's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	in := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "switchboard_livekit_frames_in_total",
		Help: "Media frames the LiveKit engine received, decrypted and handed to the features.",
	})
	undecrypted := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_livekit_frame_decrypt_failures_total",
		Help: "Received frames dropped undecrypted, by cause: no_key (before its key came), failed (did not authenticate or malformed).",
	}, []string{"cause"})
	out := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "switchboard_livekit_frames_out_total",
		Help: "Media frames the LiveKit engine encrypted and sent.",
	})
	dropped := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "switchboard_livekit_frames_dropped_total",
		Help: "Frames features gave the LiveKit engine that it could not send (not published yet, no key, encryption or send failed).",
	})
	actions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_enforcement_actions_total",
		Help: "Enforcement against LiveKit, by action (remove_participant: no valid Matrix membership; delete_room: no member left) and outcome (ok, failed).",
	}, []string{"action", "outcome"})
	reg.MustRegister(in, undecrypted, out, dropped, actions)
	m := &Metrics{
		framesIn: in, noKey: undecrypted.WithLabelValues("no_key"), authFailed: undecrypted.WithLabelValues("failed"),
		framesOut: out, dropped: dropped, actions: map[string]map[bool]prometheus.Counter{},
	}
	for _, a := range []string{actionRemoveParticipant, actionDeleteRoom} {
		m.actions[a] = map[bool]prometheus.Counter{
			true: actions.WithLabelValues(a, "ok"), false: actions.WithLabelValues(a, "failed"),
		}
	}
	return m
}

func (m *Metrics) frameIn() {
	if m != nil {
		m.framesIn.Inc()
	}
}

func (m *Metrics) undecrypted(noKey bool) {
	switch {
	case m == nil:
	case noKey:
		m.noKey.Inc()
	default:
		m.authFailed.Inc()
	}
}

func (m *Metrics) frameOut() {
	if m != nil {
		m.framesOut.Inc()
	}
}

func (m *Metrics) frameDropped() {
	if m != nil {
		m.dropped.Inc()
	}
}

func (m *Metrics) enforced(action string, err error) {
	if m != nil {
		m.actions[action][err == nil].Inc()
	}
}
