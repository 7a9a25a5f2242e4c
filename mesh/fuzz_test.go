package mesh

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

var sentinels = []error{ErrMalformed, ErrTooLarge, ErrUnsupported, ErrInvalid}

// checkSentinel fails unless err wraps exactly one package sentinel.
func checkSentinel(t *testing.T, err error) {
	t.Helper()
	n := 0
	for _, s := range sentinels {
		if errors.Is(err, s) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("error wraps %d sentinels: %v", n, err)
	}
}

// fuzzDecode decodes content as kind (an index into the kinds) of prefix;
// what decodes and encodes must decode again and encode identically.
func fuzzDecode(t *testing.T, prefix string, kind uint8, content []byte) {
	k := Kind(kind%uint8(len(kindNames)-1)) + KindInvite
	s, err := Decode(prefix+k.String(), content)
	if err != nil {
		checkSentinel(t, err)
		return
	}
	typ, out, err := Encode(s)
	if err != nil {
		checkSentinel(t, err)
		return // e.g. version 0 without a party id, or a reason we do not send
	}
	s2, err := Decode(typ, out)
	if err != nil {
		t.Fatalf("our own encoding does not decode: %v\n%s", err, out)
	}
	_, out2, err := Encode(s2)
	if err != nil || !bytes.Equal(out, out2) {
		t.Fatalf("re-encoding differs (%v):\n%s\n%s", err, out, out2)
	}
}

func addExamples(f *testing.F, prefix string) {
	for name, typ := range exampleTypes(f) {
		if !strings.HasPrefix(typ, prefix) {
			continue
		}
		_, k, err := ParseEventType(typ)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(k-KindInvite), readExample(f, name))
	}
}

func FuzzDecodeGroup(f *testing.F) {
	addExamples(f, GroupPrefix)
	f.Fuzz(func(t *testing.T, kind uint8, content []byte) { fuzzDecode(t, GroupPrefix, kind, content) })
}

func FuzzDecodeRoom(f *testing.F) {
	addExamples(f, RoomPrefix)
	f.Add(uint8(KindAssertedIdentity-KindInvite), []byte(`{"call_id":"c","version":0,"asserted_identity":{"id":"@a:b"}}`))
	f.Fuzz(func(t *testing.T, kind uint8, content []byte) { fuzzDecode(t, RoomPrefix, kind, content) })
}

// A candidate that parses rebuilds to one that parses to the same text.
func FuzzCandidate(f *testing.F) {
	for _, s := range []string{
		"candidate:842163049 1 udp 1677729535 127.0.0.1 50000 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag aB3d network-cost 999",
		"candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host",
		"3 1 tcp 1 ::1 9 typ host tcptype passive",
		"candidate:4 1 udp 1 abc.local 9 typ host",
		"candidate:5 1 udp 1 127.0.0.1 9 typ relay raddr 127.0.0.2 rport 7",
	} {
		f.Add(s, "0", uint16(0))
	}
	f.Fuzz(func(t *testing.T, attr, mid string, idx uint16) {
		init, err := Candidate{Candidate: attr, SDPMid: mid, SDPMLineIndex: idx}.Rebuild()
		if err != nil {
			checkSentinel(t, err)
			return
		}
		if attr == "" {
			return
		}
		c, err := ParseCandidate(init.Candidate)
		if err != nil {
			t.Fatalf("rebuilt %q does not parse: %v", init.Candidate, err)
		}
		if again := candidatePrefix + c.Marshal(); again != init.Candidate {
			t.Fatalf("rebuild not stable: %q then %q", init.Candidate, again)
		}
	})
}

func FuzzSDP(f *testing.F) {
	inv := mustDecode(f, "group_invite.json").Body.(*Invite)
	f.Add(inv.Offer.SDP)
	f.Add(mustDecode(f, "group_answer.json").Body.(*Answer).Answer.SDP)
	f.Add("v=0\r\n")
	f.Fuzz(func(t *testing.T, sdp string) {
		if err := checkSDP(sdp); err != nil {
			checkSentinel(t, err)
		}
	})
}
