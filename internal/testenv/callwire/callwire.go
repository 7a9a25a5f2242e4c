// Package callwire holds the independent call peers of the tests and
// benches, cmd/coordinator's and bench/mesh's: a Famedly mesh device (Peer,
// group call to-device events) and a 1:1 caller (DMCaller, m.call.* room
// events), each with pion connections (Voice). They speak the wire format
// of famedly-voip.md §4 themselves and import nothing from mesh/ (the
// package they test), so a codec bug there cannot hide in both sides.
package callwire

import (
	"errors"
	"net"
	"strings"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// LoopbackAPI is a pion API with the default codecs that gathers on
// 127.0.0.1 only, without mDNS (tests use loopback addresses only).
func LoopbackAPI() (*webrtc.API, error) { return loopbackAPI(nil) }

// loopbackAPI is LoopbackAPI, gathering on mux's socket when mux is set.
func loopbackAPI(mux ice.UDPMux) (*webrtc.API, error) {
	var s webrtc.SettingEngine
	if mux != nil {
		s.SetICEUDPMux(mux)
	}
	s.SetIncludeLoopbackCandidate(true)
	s.SetIPFilter(func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) })
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s)), nil
}

// AddCandidates adds the candidates of a call event's "candidates" list
// (JSON decoded) to pc, skipping end-of-candidates markers.
func AddCandidates(pc *webrtc.PeerConnection, list any) error {
	entries, _ := list.([]any)
	var errs error
	for _, x := range entries {
		e, _ := x.(map[string]any)
		cand, _ := e["candidate"].(string)
		if cand == "" {
			continue
		}
		mid, _ := e["sdpMid"].(string)
		idx := uint16(0)
		if f, ok := e["sdpMLineIndex"].(float64); ok {
			idx = uint16(f)
		}
		errs = errors.Join(errs, pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: cand, SDPMid: &mid, SDPMLineIndex: &idx}))
	}
	return errs
}

// splitCandidates takes the candidate lines out of a description and
// returns them as a candidates event's entries (one bundled media line).
func splitCandidates(sdp string) (string, []any) {
	var kept []string
	var cands []any
	for _, line := range strings.Split(sdp, "\r\n") {
		switch {
		case strings.HasPrefix(line, "a=candidate:"):
			cands = append(cands, map[string]any{"candidate": line[2:], "sdpMid": "0", "sdpMLineIndex": 0})
		case line == "a=end-of-candidates":
		default:
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "\r\n"), cands
}

// iceUfrag is a description's first ice-ufrag ("" when none).
func iceUfrag(sdp string) string {
	for _, line := range strings.Split(sdp, "\r\n") {
		if u, ok := strings.CutPrefix(line, "a=ice-ufrag:"); ok {
			return u
		}
	}
	return ""
}
