package livekit

import (
	"cmp"
	"slices"
	"sync/atomic"
	"time"

	"github.com/switchboard-rtc/switchboard/media"
)

// Participant states shown in the admin view.
const (
	StateConnecting   = "connecting"
	StateConnected    = "connected"
	StateReconnecting = "reconnecting"
	StateError        = "error"
)

// CallSnapshot is one carried call for the admin view (JSON-friendly).
type CallSnapshot struct {
	Room        string    `json:"room"`
	CallID      string    `json:"call_id"`
	Application string    `json:"application,omitempty"`
	Focus       string    `json:"focus"`
	State       string    `json:"state"`
	Error       string    `json:"error,omitempty"`
	Since       time.Time `json:"since"`
	LiveKitRoom string    `json:"livekit_room,omitempty"`
	Identity    string    `json:"identity,omitempty"` // ours in the LiveKit room
	// KeyIndex is the index we encrypt with; absent before our key came.
	KeyIndex *int `json:"key_index,omitempty"`
	// Features names the running features, the set's and one-offs.
	Features     []string              `json:"features,omitempty"`
	Participants []ParticipantSnapshot `json:"participants"`
	Outputs      []OutputSnapshot      `json:"outputs"`
	// FeatureStats are the counters of the features that report some
	// (media.StatsReporter), by feature name.
	FeatureStats map[string]map[string]any `json:"feature_stats,omitempty"`
}

// ParticipantSnapshot is a remote participant whose tracks we received.
type ParticipantSnapshot struct {
	Identity string `json:"identity"`
	UserID   string `json:"user_id,omitempty"`
	DeviceID string `json:"device_id,omitempty"`
	FrameStats
	Tracks []TrackSnapshot `json:"tracks"`
}

// FrameStats counts one participant's or track's received frames.
type FrameStats struct {
	FramesIn uint64 `json:"frames_in"` // decrypted and handed to features
	// DecryptFailures: frames whose key did not authenticate or that were
	// malformed; NoKey: frames that came before their key (dropped).
	DecryptFailures uint64 `json:"decrypt_failures"`
	NoKey           uint64 `json:"no_key"`
	ServerInjected  uint64 `json:"server_injected"` // SIF frames skipped
	Incomplete      uint64 `json:"incomplete"`      // video frames lost in transit
}

// TrackSnapshot is one subscribed remote track.
type TrackSnapshot struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Codec     string `json:"codec"`
	Encrypted bool   `json:"encrypted"`
	Active    bool   `json:"active"`
	FrameStats
}

// OutputSnapshot is one stream we publish.
type OutputSnapshot struct {
	Name      string   `json:"name"`
	Kind      string   `json:"kind"`
	Codec     string   `json:"codec"`
	Audience  []string `json:"audience,omitempty"`
	TrackSID  string   `json:"track_sid,omitempty"`
	FramesOut uint64   `json:"frames_out"`
	Dropped   uint64   `json:"dropped"` // not sent: no key yet, not published, or encryption failed
}

// frameCounters are a track's counters, written by its reader goroutine.
type frameCounters struct {
	in, failed, noKey, sif, incomplete atomic.Uint64
}

func (c *frameCounters) stats() FrameStats {
	return FrameStats{FramesIn: c.in.Load(), DecryptFailures: c.failed.Load(), NoKey: c.noKey.Load(),
		ServerInjected: c.sif.Load(), Incomplete: c.incomplete.Load()}
}

func (s *FrameStats) add(o FrameStats) {
	s.FramesIn += o.FramesIn
	s.DecryptFailures += o.DecryptFailures
	s.NoKey += o.NoKey
	s.ServerInjected += o.ServerInjected
	s.Incomplete += o.Incomplete
}

// trackState is a subscribed track as the snapshot shows it; the counters
// outlive the track so a participant's totals never go down.
type trackState struct {
	identity  string
	src       media.Source
	encrypted bool
	active    atomic.Bool
	counters  frameCounters
}

// peerState is a remote participant seen in the call.
type peerState struct {
	identity, userID, deviceID string
	tracks                     []*trackState
}

// maxEndedTracks bounds the ended tracks a participant keeps for its
// totals: a client that republishes in a loop must not grow memory.
const maxEndedTracks = 16

func (p *peerState) addTrack(t *trackState) {
	p.tracks = append(p.tracks, t)
	if len(p.tracks) <= maxEndedTracks {
		return
	}
	for i, old := range p.tracks {
		if !old.active.Load() {
			p.tracks = slices.Delete(p.tracks, i, i+1)
			return
		}
	}
}

func (p *peerState) snapshot() ParticipantSnapshot {
	out := ParticipantSnapshot{Identity: p.identity, UserID: p.userID, DeviceID: p.deviceID, Tracks: []TrackSnapshot{}}
	for _, t := range p.tracks {
		st := t.counters.stats()
		out.FrameStats.add(st)
		out.Tracks = append(out.Tracks, TrackSnapshot{ID: t.src.ID, Kind: t.src.Kind.String(), Codec: string(t.src.Codec),
			Encrypted: t.encrypted, Active: t.active.Load(), FrameStats: st})
	}
	return out
}

func sortPeers(ps []ParticipantSnapshot) {
	slices.SortFunc(ps, func(a, b ParticipantSnapshot) int { return cmp.Compare(a.Identity, b.Identity) })
}
