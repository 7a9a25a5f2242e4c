package mesh

import (
	"errors"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
)

func TestParseCandidate(t *testing.T) {
	tests := []struct {
		attr, want string // want: pion's rebuilt form, without prefix
	}{
		{"candidate:842163049 1 udp 1677729535 127.0.0.1 50000 typ host", "842163049 1 udp 1677729535 127.0.0.1 50000 typ host"},
		{"842163049 1 udp 1677729535 127.0.0.1 50000 typ host", "842163049 1 udp 1677729535 127.0.0.1 50000 typ host"},
		{"candidate:1 1 UDP 2 ::1 9 typ host", "1 1 udp 2 ::1 9 typ host"},
		{"candidate:2 1 udp 1 127.0.0.1 9 typ srflx raddr 127.0.0.2 rport 8 generation 0",
			"2 1 udp 1 127.0.0.1 9 typ srflx raddr 127.0.0.2 rport 8 generation 0"},
		{"candidate:3 1 tcp 1 127.0.0.1 9 typ host tcptype passive", "3 1 tcp 1 127.0.0.1 9 typ host tcptype passive"},
		{"candidate:4 1 udp 1 4f2a3b1c-1111-2222-3333-444455556666.local 9 typ host",
			"4 1 udp 1 4f2a3b1c-1111-2222-3333-444455556666.local 9 typ host"},
		// Public addresses parse: address policy is the ICE agent's business.
		{"candidate:5 1 udp 1 203.0.113.7 9 typ relay raddr 198.51.100.1 rport 7", "5 1 udp 1 203.0.113.7 9 typ relay raddr 198.51.100.1 rport 7"},
	}
	for _, tt := range tests {
		c, err := ParseCandidate(tt.attr)
		if err != nil {
			t.Errorf("%q: %v", tt.attr, err)
			continue
		}
		if got := c.Marshal(); got != tt.want {
			t.Errorf("%q: rebuilt %q, want %q", tt.attr, got, tt.want)
		}
	}
}

func TestParseCandidateRefuses(t *testing.T) {
	tests := []struct {
		name, attr string
		want       error
	}{
		{"empty", "", ErrMalformed},
		{"prefix only", "candidate:", ErrMalformed},
		{"too long", "candidate:1 1 udp 2 127.0.0.1 9 typ host " + strings.Repeat("x", MaxCandidateBytes), ErrTooLarge},
		{"line break", "candidate:1 1 udp 2 127.0.0.1 9 typ host\r\na=ice-pwd:x", ErrMalformed},
		{"NUL", "candidate:1 1 udp 2 127.0.0.1\x00 9 typ host", ErrMalformed},
		{"no port", "candidate:1 1 udp 2 127.0.0.1", ErrMalformed},
		{"bad port", "candidate:1 1 udp 2 127.0.0.1 99999 typ host", ErrMalformed},
		{"bad address", "candidate:1 1 udp 2 not-an-ip 9 typ host", ErrMalformed},
		{"no typ", "candidate:1 1 udp 2 127.0.0.1 9 type host", ErrMalformed},
		{"unknown type", "candidate:1 1 udp 2 127.0.0.1 9 typ weird", ErrMalformed},
		{"bad priority", "candidate:1 1 udp x 127.0.0.1 9 typ host", ErrMalformed},
		{"bad tcptype", "candidate:1 1 tcp 2 127.0.0.1 9 typ host tcptype sideways", ErrMalformed},
	}
	for _, tt := range tests {
		if _, err := ParseCandidate(tt.attr); !errors.Is(err, tt.want) {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestRebuild(t *testing.T) {
	c := Candidate{Candidate: "842163049 1 udp 1677729535 127.0.0.1 50000 typ host generation 0", SDPMid: "1", SDPMLineIndex: 1}
	init, err := c.Rebuild()
	if err != nil {
		t.Fatal(err)
	}
	if init.Candidate != "candidate:842163049 1 udp 1677729535 127.0.0.1 50000 typ host generation 0" ||
		init.SDPMid == nil || *init.SDPMid != "1" || init.SDPMLineIndex == nil || *init.SDPMLineIndex != 1 {
		t.Errorf("got %+v", init)
	}
	// The SDK's default sdpMid "" is left out so the line index decides.
	init, err = Candidate{Candidate: "", SDPMLineIndex: 2}.Rebuild()
	if err != nil || init.SDPMid != nil || *init.SDPMLineIndex != 2 || init.Candidate != "" {
		t.Errorf("end of candidates: %+v %v", init, err)
	}
	if _, err := (Candidate{Candidate: "candidate:bogus"}).Rebuild(); !errors.Is(err, ErrMalformed) {
		t.Errorf("bogus: %v", err)
	}
	if _, err := (Candidate{Candidate: "", SDPMid: "0\n"}).Rebuild(); !errors.Is(err, ErrMalformed) {
		t.Errorf("mid with line break: %v", err)
	}
}

func TestCandidateFromInit(t *testing.T) {
	mid, idx := "0", uint16(0)
	c, err := CandidateFromInit(webrtc.ICECandidateInit{Candidate: "candidate:1 1 udp 2 127.0.0.1 9 typ host", SDPMid: &mid, SDPMLineIndex: &idx})
	if err != nil || c != (Candidate{Candidate: "candidate:1 1 udp 2 127.0.0.1 9 typ host", SDPMid: "0"}) {
		t.Errorf("got %+v %v", c, err)
	}
	if c, err := CandidateFromInit(webrtc.ICECandidateInit{}); err != nil || !c.EndOfCandidates() {
		t.Errorf("end of candidates: %+v %v", c, err)
	}
	if _, err := CandidateFromInit(webrtc.ICECandidateInit{Candidate: "candidate:x"}); !errors.Is(err, ErrMalformed) {
		t.Errorf("bogus: %v", err)
	}
}
