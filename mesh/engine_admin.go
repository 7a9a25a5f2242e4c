package mesh

import (
	"cmp"
	"fmt"
	"slices"
)

// CallSnapshot describes a carried call for the admin view.
type CallSnapshot struct {
	Room     string         `json:"room_id"`
	CallID   string         `json:"call_id"`
	State    string         `json:"state"`
	Session  string         `json:"session_id,omitempty"` // our membershipID
	Peers    []PeerSnapshot `json:"peers"`
	Features []string       `json:"features"`
	// FeatureStats are the counters of the features that report some
	// (media.StatsReporter), by feature name.
	FeatureStats map[string]map[string]any `json:"feature_stats,omitempty"`
}

// PeerSnapshot describes one peer of a call.
type PeerSnapshot struct {
	Participant string          `json:"participant"` // userId:deviceId
	Session     string          `json:"session_id"`
	Calls       bool            `json:"we_call"`
	State       string          `json:"state"` // connecting, connected, ended
	Tracks      []TrackSnapshot `json:"tracks"`
}

// TrackSnapshot describes a remote track of a peer.
type TrackSnapshot struct {
	ID       string `json:"id"`
	StreamID string `json:"stream_id"`
	Kind     string `json:"kind"`
	Codec    string `json:"codec"`
	Frames   uint64 `json:"frames"`
}

func (c *meshCall) snapshot() CallSnapshot {
	s := CallSnapshot{Room: string(c.key.Room), CallID: c.key.CallID}
	s.Features, s.FeatureStats = c.feats.Report()
	c.mu.Lock()
	connected := 0
	for _, pe := range c.peers {
		ps := PeerSnapshot{Participant: pe.remote.Key(), Session: pe.remote.SessionID, Calls: pe.placed,
			State: "connecting"}
		pe.mu.Lock()
		ended := pe.ended
		pe.mu.Unlock()
		switch {
		case ended:
			ps.State = "ended"
		case pe.peer.Connected():
			ps.State = "connected"
			connected++
		}
		s.Peers = append(s.Peers, ps)
	}
	s.Session = c.shownSession
	c.mu.Unlock()
	c.media.mu.Lock()
	for _, src := range c.media.sources {
		for i := range s.Peers {
			if s.Peers[i].Participant == src.src.Participant {
				s.Peers[i].Tracks = append(s.Peers[i].Tracks, TrackSnapshot{ID: src.src.ID, StreamID: src.stream,
					Kind: src.src.Kind.String(), Codec: string(src.src.Codec), Frames: src.frames.Load()})
			}
		}
	}
	c.media.mu.Unlock()
	slices.SortFunc(s.Peers, func(a, b PeerSnapshot) int { return cmp.Compare(a.Participant, b.Participant) })
	switch {
	case s.Session == "":
		s.State = "waiting for our membership"
	case len(s.Peers) == 0:
		s.State = "alone"
	case connected == len(s.Peers):
		s.State = fmt.Sprintf("connected %d/%d peers", connected, len(s.Peers))
	default:
		s.State = fmt.Sprintf("connecting %d/%d peers", connected, len(s.Peers))
	}
	return s
}
