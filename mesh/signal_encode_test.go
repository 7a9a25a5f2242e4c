package mesh

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/internal/golden"
)

// groupInvite is an invite as a peer would build it.
func groupInvite(t testing.TB) Signal {
	offer := mustDecode(t, "group_invite.json").Body.(*Invite).Offer
	return Signal{
		Dialect: Group,
		Group:   &Envelope{SenderSessionID: "ourSession", DestSessionID: "bobMembershipID", RoomID: "!roomid:example.org"},
		Call:    Call{CallID: "1754560000123aB3dE5fG7hJ9kL1m", PartyID: "ourSession"},
		Body: &Invite{
			Lifetime: 60000, Offer: offer,
			Invitee: "@bob:example.org", InviteeDeviceID: "BOBDEV", DeviceID: "SWITCHBOARD",
			Capabilities: &Capabilities{},
			Metadata:     StreamMetadata{"echo": {Purpose: PurposeUserMedia, VideoMuted: true}},
		},
	}
}

// The invite a peer builds has the reference's shape, version "1" even
// when Call.Version is 0, and conf_id "" written out.
func TestEncodeGroupInviteGolden(t *testing.T) {
	typ, content, err := Encode(groupInvite(t))
	if err != nil {
		t.Fatal(err)
	}
	if typ != "com.famedly.call.member.invite" {
		t.Errorf("type %s", typ)
	}
	golden.Check(t, "group_invite.build.golden.json", content)
}

func TestEncodeCandidatesGolden(t *testing.T) {
	s := Signal{
		Dialect: Room,
		Call:    Call{CallID: "c1", PartyID: "p1", Version: 1},
		Body: &Candidates{Candidates: []Candidate{
			{Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host", SDPMid: "0"},
			{SDPMid: "0"},
		}},
	}
	typ, content, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	if typ != "m.call.candidates" {
		t.Errorf("type %s", typ)
	}
	golden.Check(t, "room_candidates.build.golden.json", content)
}

// An empty (non-nil) metadata map is sent as {}, never dropped: clients
// require the key in sdp_stream_metadata_changed.
func TestEncodeEmptyMetadata(t *testing.T) {
	s := Signal{Dialect: Room, Call: Call{CallID: "c", PartyID: "p"}, Body: &StreamMetadataChanged{Metadata: StreamMetadata{}}}
	_, content, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(content), `"org.matrix.msc3077.sdp_stream_metadata":{}`) {
		t.Errorf("content %s", content)
	}
}

// Every way Encode refuses to send incomplete content.
func TestEncodeRefuses(t *testing.T) {
	long := strings.Repeat("x", MaxIDLen+1)
	inv := func(edit func(*Invite)) func(*Signal) {
		return func(s *Signal) { edit(s.Body.(*Invite)) }
	}
	tests := []struct {
		name string
		edit func(*Signal)
		want error
	}{
		{"no body", func(s *Signal) { s.Body = nil }, ErrInvalid},
		{"no call_id", func(s *Signal) { s.Call.CallID = "" }, ErrInvalid},
		{"no party_id", func(s *Signal) { s.Call.PartyID = "" }, ErrInvalid},
		{"long party_id", func(s *Signal) { s.Call.PartyID = long }, ErrInvalid},
		{"no dialect", func(s *Signal) { s.Dialect = 0 }, ErrInvalid},
		{"group without envelope", func(s *Signal) { s.Group = nil }, ErrInvalid},
		{"room with envelope", func(s *Signal) { s.Dialect = Room }, ErrInvalid},
		{"no room_id", func(s *Signal) { s.Group.RoomID = "" }, ErrInvalid},
		{"no sender_session_id", func(s *Signal) { s.Group.SenderSessionID = "" }, ErrInvalid},
		{"no dest_session_id", func(s *Signal) { s.Group.DestSessionID = "" }, ErrInvalid},
		{"long conf_id", func(s *Signal) { s.Group.ConfID = long }, ErrInvalid},
		{"negative seq", func(s *Signal) { s.Group.Seq = -1 }, ErrInvalid},
		{"zero lifetime", inv(func(b *Invite) { b.Lifetime = 0 }), ErrInvalid},
		{"huge lifetime", inv(func(b *Invite) { b.Lifetime = MaxLifetime + 1 }), ErrInvalid},
		{"offer typed answer", inv(func(b *Invite) { b.Offer.Type = SDPAnswer }), ErrInvalid},
		{"empty sdp", inv(func(b *Invite) { b.Offer.SDP = "" }), ErrInvalid},
		{"bad sdp", inv(func(b *Invite) { b.Offer.SDP = "v=0\r\nbogus" }), ErrInvalid},
		{"no capabilities", inv(func(b *Invite) { b.Capabilities = nil }), ErrInvalid},
		{"no metadata", inv(func(b *Invite) { b.Metadata = nil }), ErrInvalid},
		{"unknown purpose", inv(func(b *Invite) { b.Metadata["echo"] = StreamInfo{Purpose: "m.other"} }), ErrInvalid},
		{"empty msid", inv(func(b *Invite) { b.Metadata[""] = StreamInfo{Purpose: PurposeUserMedia} }), ErrInvalid},
		{"group invite without invitee", inv(func(b *Invite) { b.Invitee = "" }), ErrInvalid},
		{"group invite without devices", inv(func(b *Invite) { b.InviteeDeviceID, b.DeviceID = "", "" }), ErrInvalid},
		{"device_id without invitee_device_id", inv(func(b *Invite) { b.InviteeDeviceID = "" }), ErrInvalid},
		{"answer without capabilities", func(s *Signal) {
			s.Body = &Answer{Answer: Description{SDP: s.Body.(*Invite).Offer.SDP, Type: SDPAnswer}, Metadata: StreamMetadata{}}
		}, ErrInvalid},
		{"negotiate offer without metadata", func(s *Signal) {
			s.Body = &Negotiate{Description: s.Body.(*Invite).Offer}
		}, ErrInvalid},
		{"no candidates", func(s *Signal) { s.Body = &Candidates{} }, ErrInvalid},
		{"unparsable candidate", func(s *Signal) { s.Body = &Candidates{Candidates: []Candidate{{Candidate: "candidate:x"}}} }, ErrInvalid},
		{"candidate line break", func(s *Signal) {
			s.Body = &Candidates{Candidates: []Candidate{{Candidate: "candidate:1 1 udp 2 127.0.0.1 9 typ host", SDPMid: "0\r\n"}}}
		}, ErrInvalid},
		{"select_answer empty", func(s *Signal) { s.Body = &SelectAnswer{} }, ErrInvalid},
		{"hangup legacy reason", func(s *Signal) { s.Body = &Hangup{Reason: ReasonUserHangupLegacy} }, ErrInvalid},
		{"reject unknown reason", func(s *Signal) { s.Body = &Reject{Reason: "whatever"} }, ErrInvalid},
		{"asserted identity", func(s *Signal) { s.Body = &AssertedIdentity{ID: "@a:b"} }, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := groupInvite(t)
			if _, _, err := Encode(s); err != nil {
				t.Fatalf("unedited: %v", err)
			}
			tt.edit(&s)
			if _, content, err := Encode(s); !errors.Is(err, tt.want) || content != nil {
				t.Fatalf("err %v, content %s; want %v and no content", err, content, tt.want)
			}
		})
	}
}
