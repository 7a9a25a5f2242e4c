package main

import (
	"errors"
	"net"
	"testing"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// The pion pieces of the tests' independent call peers (mesh and 1:1),
// written from the wire format of the reference, importing nothing from
// mesh/.

// loopbackPionAPI is a pion API with the default codecs that gathers on
// 127.0.0.1 only, without mDNS (tests use loopback addresses only).
func loopbackPionAPI(t *testing.T) *webrtc.API {
	t.Helper()
	var s webrtc.SettingEngine
	s.SetIncludeLoopbackCandidate(true)
	s.SetIPFilter(func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) })
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s))
}

// addWireCandidates adds the candidates of a call event's "candidates"
// list (JSON decoded) to pc, skipping end-of-candidates markers.
func addWireCandidates(pc *webrtc.PeerConnection, list any) error {
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
