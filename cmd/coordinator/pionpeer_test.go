package main

import (
	"testing"

	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/internal/testenv/callwire"
)

// The pion pieces of the tests' independent call peers (mesh and 1:1),
// written from the wire format of the reference, importing nothing from
// mesh/.

// loopbackPionAPI is callwire's loopback-only pion API.
func loopbackPionAPI(t *testing.T) *webrtc.API {
	t.Helper()
	api, err := callwire.LoopbackAPI()
	if err != nil {
		t.Fatal(err)
	}
	return api
}

// addWireCandidates adds a call event's candidates list to pc.
func addWireCandidates(pc *webrtc.PeerConnection, list any) error {
	return callwire.AddCandidates(pc, list)
}
