package mesh

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/switchboard-rtc/switchboard/internal/golden"
)

// Every reference-shaped example decodes, and encodes back to exactly the
// same bytes: our output has the reference's fields, types and order.
func TestDecodeEncodeExamples(t *testing.T) {
	for name, typ := range exampleTypes(t) {
		t.Run(name, func(t *testing.T) {
			in := readExample(t, name)
			s, err := Decode(typ, in)
			if err != nil {
				t.Fatal(err)
			}
			gotType, out, err := Encode(s)
			if err != nil {
				t.Fatal(err)
			}
			if gotType != typ {
				t.Errorf("type %q, want %q", gotType, typ)
			}
			if want := golden.Compact(t, in); !bytes.Equal(out, want) {
				t.Errorf("round trip:\n got %s\nwant %s", out, want)
			}
		})
	}
}

func TestDecodeGroupInvite(t *testing.T) {
	s := mustDecode(t, "group_invite.json")
	inv, ok := s.Body.(*Invite)
	if !ok || s.Kind() != KindInvite || s.Dialect != Group {
		t.Fatalf("got %s %T", s.Dialect, s.Body)
	}
	want := Envelope{SenderSessionID: "gor1Gt5BCIlyrxjyHnaEJQ==", DestSessionID: "bobMembershipID", RoomID: "!roomid:example.org"}
	if *s.Group != want {
		t.Errorf("envelope %+v, want %+v", *s.Group, want)
	}
	if s.Call != (Call{CallID: "1754560000123aB3dE5fG7hJ9kL1m", PartyID: "gor1Gt5BCIlyrxjyHnaEJQ==", Version: 1}) {
		t.Errorf("call %+v", s.Call)
	}
	if inv.Lifetime != 60000 || inv.Invitee != "@bob:example.org" || inv.InviteeDeviceID != "BOBDEV" ||
		inv.DeviceID != "ALICEDEV" || inv.Offer.Type != SDPOffer || inv.Capabilities == nil {
		t.Errorf("invite %+v", inv)
	}
	if got := inv.Metadata["stream-id"]; got != (StreamInfo{Purpose: PurposeUserMedia}) || len(inv.Metadata) != 1 {
		t.Errorf("metadata %+v", inv.Metadata)
	}
}

func TestDecodeCandidatesKeepsEndOfCandidates(t *testing.T) {
	s := mustDecode(t, "group_candidates.json")
	cs := s.Body.(*Candidates).Candidates
	if len(cs) != 2 || cs[0].EndOfCandidates() || !cs[1].EndOfCandidates() || cs[1].SDPMid != "0" {
		t.Fatalf("candidates %+v", cs)
	}
}

// What legacy and sloppy clients send, and the SDK accepts.
func TestDecodeTolerates(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		edit  func(m map[string]any)
		check func(t *testing.T, s Signal)
	}{
		{"integer version 1", "room_hangup.json", func(m map[string]any) { m["version"] = 1 },
			func(t *testing.T, s Signal) { wantEq(t, s.Call.Version, 1) }},
		{"integer version 0 without party", "room_hangup.json", func(m map[string]any) { m["version"] = 0; delete(m, "party_id") },
			func(t *testing.T, s Signal) { wantEq(t, s.Call.Version, 0) }},
		{"null as absent", "room_hangup.json", func(m map[string]any) { m["reason"] = nil },
			func(t *testing.T, s Signal) { wantEq(t, s.Body.(*Hangup).Reason, Reason("")) }},
		{"unknown reason kept", "room_hangup.json", func(m map[string]any) { m["reason"] = "userHangup" },
			func(t *testing.T, s Signal) { wantEq(t, s.Body.(*Hangup).Reason.Normalized(), ReasonUserHangup) }},
		{"candidate defaults", "room_candidates.json", func(m map[string]any) {
			m["candidates"] = []any{map[string]any{"candidate": "candidate:1 1 udp 2 127.0.0.1 9 typ host"}}
		}, func(t *testing.T, s Signal) {
			wantEq(t, s.Body.(*Candidates).Candidates[0], Candidate{Candidate: "candidate:1 1 udp 2 127.0.0.1 9 typ host"})
		}},
		{"fractional line index rounded", "room_candidates.json", func(m map[string]any) {
			m["candidates"] = []any{map[string]any{"candidate": "", "sdpMLineIndex": 1.6}}
		}, func(t *testing.T, s Signal) { wantEq(t, s.Body.(*Candidates).Candidates[0].SDPMLineIndex, uint16(2)) }},
		{"metadata mute flags default false", "room_sdp_stream_metadata_changed.json", func(m map[string]any) {
			m[metadataKey] = map[string]any{"s": map[string]any{"purpose": "m.screenshare"}}
		}, func(t *testing.T, s Signal) {
			wantEq(t, s.Body.(*StreamMetadataChanged).Metadata["s"], StreamInfo{Purpose: PurposeScreenshare})
		}},
		{"invite without metadata or capabilities", "room_invite.json", func(m map[string]any) {
			delete(m, metadataKey)
			delete(m, "capabilities")
		}, func(t *testing.T, s Signal) {
			inv := s.Body.(*Invite)
			if inv.Metadata != nil || inv.Capabilities != nil {
				t.Errorf("got %+v", inv)
			}
		}},
		{"group event without dest_session_id", "group_hangup.json", func(m map[string]any) { delete(m, "dest_session_id") },
			func(t *testing.T, s Signal) { wantEq(t, s.Group.DestSessionID, "") }},
		{"unknown fields ignored", "group_answer.json", func(m map[string]any) { m["x"] = []any{1, "2"} },
			func(t *testing.T, s Signal) { wantEq(t, s.Kind(), KindAnswer) }},
		{"negotiate answer without metadata", "room_negotiate.json", func(m map[string]any) {
			delete(m, metadataKey)
			delete(m, "capabilities")
			delete(m, "lifetime")
			sub(m, "description")["type"] = "answer"
		}, func(t *testing.T, s Signal) { wantEq(t, s.Body.(*Negotiate).Description.Type, SDPAnswer) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Decode(exampleTypes(t)[tt.file], mutate(t, tt.file, tt.edit))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

func wantEq[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestParseEventType(t *testing.T) {
	tests := []struct {
		typ     string
		dialect Dialect
		kind    Kind
	}{
		{"com.famedly.call.member.invite", Group, KindInvite},
		{"com.famedly.call.member.sdp_stream_metadata_changed", Group, KindStreamMetadataChanged},
		{"m.call.select_answer", Room, KindSelectAnswer},
		{"org.matrix.call.sdp_stream_metadata_changed", Room, KindStreamMetadataChanged},
		{"org.matrix.call.asserted_identity", Room, KindAssertedIdentity},
		{"com.famedly.call.member.encryption_keys", 0, 0},
		{"com.famedly.call.member", 0, 0},
		{"m.call.replaces", 0, 0},
		{"m.call.", 0, 0},
		{"org.matrix.call.invite", 0, 0},
		{"m.room.message", 0, 0},
	}
	for _, tt := range tests {
		d, k, err := ParseEventType(tt.typ)
		if tt.kind == 0 {
			if !errors.Is(err, ErrUnsupported) {
				t.Errorf("%s: err %v, want ErrUnsupported", tt.typ, err)
			}
			continue
		}
		if err != nil || d != tt.dialect || k != tt.kind {
			t.Errorf("%s: %s %s %v", tt.typ, d, k, err)
		}
		if tt.typ[0] != 'o' && EventType(d, k) != tt.typ {
			t.Errorf("EventType(%s, %s) = %s", d, k, EventType(d, k))
		}
	}
}

func TestDecodeAssertedIdentity(t *testing.T) {
	raw := json.RawMessage(`{"call_id":"c","party_id":"p","version":"1","asserted_identity":{"id":"@x:y","display_name":"X"}}`)
	s, err := Decode("m.call.asserted_identity", raw)
	if err != nil {
		t.Fatal(err)
	}
	if *s.Body.(*AssertedIdentity) != (AssertedIdentity{ID: "@x:y", DisplayName: "X"}) {
		t.Errorf("got %+v", s.Body)
	}
	if _, _, err := Encode(s); !errors.Is(err, ErrInvalid) {
		t.Errorf("Encode: %v, want ErrInvalid (decode only)", err)
	}
}
