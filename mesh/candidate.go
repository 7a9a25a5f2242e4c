package mesh

import (
	"fmt"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

const candidatePrefix = "candidate:"

// ParseCandidate parses an ICE candidate attribute, with or without the
// "candidate:" prefix, with pion's parser. It refuses empty, overlong or
// control-character input before parsing. Any address parses: which
// addresses to use is the ICE agent's policy, not the codec's.
func ParseCandidate(attr string) (ice.Candidate, error) {
	if attr == "" || attr == candidatePrefix {
		return nil, fmt.Errorf("%w: empty candidate", ErrMalformed)
	}
	if len(attr) > MaxCandidateBytes {
		return nil, fmt.Errorf("%w: candidate is %d bytes, limit %d", ErrTooLarge, len(attr), MaxCandidateBytes)
	}
	if hasControl(attr) {
		return nil, fmt.Errorf("%w: control character in candidate", ErrMalformed)
	}
	c, err := ice.UnmarshalCandidate(attr)
	if err != nil {
		return nil, fmt.Errorf("%w: candidate: %v", ErrMalformed, err)
	}
	return c, nil
}

// Rebuild parses a received candidate and rebuilds it, as pion writes it,
// for its media line, ready for PeerConnection.AddICECandidate. An
// end-of-candidates marker gives an init with an empty candidate. An empty
// sdpMid (the SDK's default) is left out so the line index decides.
func (c Candidate) Rebuild() (webrtc.ICECandidateInit, error) {
	if err := c.check(); err != nil {
		return webrtc.ICECandidateInit{}, err
	}
	idx := c.SDPMLineIndex
	init := webrtc.ICECandidateInit{SDPMLineIndex: &idx}
	if c.SDPMid != "" {
		mid := c.SDPMid
		init.SDPMid = &mid
	}
	if c.EndOfCandidates() {
		return init, nil
	}
	parsed, err := ParseCandidate(c.Candidate)
	if err != nil {
		return webrtc.ICECandidateInit{}, err
	}
	init.Candidate = candidatePrefix + parsed.Marshal()
	return init, nil
}

// CandidateFromInit turns a local candidate (webrtc.ICECandidate.ToJSON)
// into the wire form, refusing one the receiver could not parse. An empty
// candidate is the end-of-candidates marker.
func CandidateFromInit(init webrtc.ICECandidateInit) (Candidate, error) {
	c := Candidate{Candidate: init.Candidate}
	if init.SDPMid != nil {
		c.SDPMid = *init.SDPMid
	}
	if init.SDPMLineIndex != nil {
		c.SDPMLineIndex = *init.SDPMLineIndex
	}
	if err := c.check(); err != nil {
		return Candidate{}, err
	}
	if !c.EndOfCandidates() {
		parsed, err := ParseCandidate(c.Candidate)
		if err != nil {
			return Candidate{}, err
		}
		c.Candidate = candidatePrefix + parsed.Marshal() // the prefixed form browsers send

	}
	return c, nil
}
