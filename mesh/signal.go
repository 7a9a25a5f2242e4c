package mesh

import (
	"fmt"
	"strings"
)

// Dialect says how a call event travels.
type Dialect uint8

const (
	// Group: a Famedly mesh group call event, sent to one device
	// (com.famedly.call.member.<kind>), with the group Envelope.
	Group Dialect = iota + 1
	// Room: a legacy 1:1 call event in the room (m.call.<kind>).
	Room
)

func (d Dialect) String() string {
	switch d {
	case Group:
		return "group"
	case Room:
		return "room"
	}
	return fmt.Sprintf("Dialect(%d)", uint8(d))
}

// Kind is what a call event does.
type Kind uint8

// The call event kinds; their wire names follow the prefix of the dialect.
const (
	KindInvite Kind = iota + 1
	KindAnswer
	KindCandidates
	KindSelectAnswer
	KindReject
	KindHangup
	KindNegotiate
	KindStreamMetadataChanged
	KindAssertedIdentity // decoded only; we never send it
)

var kindNames = [...]string{
	KindInvite:                "invite",
	KindAnswer:                "answer",
	KindCandidates:            "candidates",
	KindSelectAnswer:          "select_answer",
	KindReject:                "reject",
	KindHangup:                "hangup",
	KindNegotiate:             "negotiate",
	KindStreamMetadataChanged: "sdp_stream_metadata_changed",
	KindAssertedIdentity:      "asserted_identity",
}

func (k Kind) String() string {
	if k >= KindInvite && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Event type prefixes of the two dialects, and the unstable room prefix
// some clients still use for metadata and identity events.
const (
	GroupPrefix    = "com.famedly.call.member."
	RoomPrefix     = "m.call."
	unstablePrefix = "org.matrix.call."
)

// EventType is the wire type of a kind in a dialect.
func EventType(d Dialect, k Kind) string {
	if d == Group {
		return GroupPrefix + k.String()
	}
	return RoomPrefix + k.String()
}

// ParseEventType names the dialect and kind of a call event type. Anything
// else (including the group key events and m.call.replaces, which the SDK
// sends but never handles) wraps ErrUnsupported.
func ParseEventType(t string) (Dialect, Kind, error) {
	var d Dialect
	var name string
	switch {
	case strings.HasPrefix(t, GroupPrefix):
		d, name = Group, t[len(GroupPrefix):]
	case strings.HasPrefix(t, RoomPrefix):
		d, name = Room, t[len(RoomPrefix):]
	case strings.HasPrefix(t, unstablePrefix):
		d, name = Room, t[len(unstablePrefix):]
		if name != KindStreamMetadataChanged.String() && name != KindAssertedIdentity.String() {
			name = ""
		}
	}
	for k := KindInvite; int(k) < len(kindNames); k++ {
		if name != "" && kindNames[k] == name {
			return d, k, nil
		}
	}
	return 0, 0, fmt.Errorf("%w: event type %.80q", ErrUnsupported, t)
}

// Version is the protocol version 1, the only one we send. Version 0 (an
// integer on the wire, from legacy clients) is accepted on receive.
const Version = 1

// Call holds the fields every call event carries.
type Call struct {
	CallID  string // required, non-empty
	PartyID string // the sender's party (a Famedly client's membershipID); required from version 1
	Version int    // 0 or 1; Encode always sends the string "1"
}

// Envelope is what a group (to-device) call event carries besides its body.
// ConfID is the group call's id, often "" (the room's call).
type Envelope struct {
	Seq             int64  // per call, from 0; never checked on receive
	SenderSessionID string // the sender's membershipID; required
	DestSessionID   string // the receiver's membershipID; absent when the sender did not know it
	RoomID          string // required
	ConfID          string // required (may be "")
}

// Signal is one decoded call event: its dialect, the common fields, the
// group envelope (nil for Room) and the kind's body.
type Signal struct {
	Dialect Dialect
	Group   *Envelope
	Call    Call
	Body    Body
}

// Kind is the kind of the signal's body.
func (s Signal) Kind() Kind { return s.Body.Kind() }

// Body is the kind-specific content of a call event: one of *Invite,
// *Answer, *Candidates, *SelectAnswer, *Reject, *Hangup, *Negotiate,
// *StreamMetadataChanged, *AssertedIdentity.
type Body interface {
	Kind() Kind
}

// SDPType is a session description's type.
type SDPType string

// The session description types of call events.
const (
	SDPOffer  SDPType = "offer"
	SDPAnswer SDPType = "answer"
)

// Description is a session description {sdp, type}.
type Description struct {
	SDP  string
	Type SDPType
}

// Capabilities are the MSC2747 call capabilities. We send both false.
type Capabilities struct {
	Transferee bool
	DTMF       bool
}

// Purpose is what a stream carries.
type Purpose string

// The two stream purposes of MSC3077.
const (
	PurposeUserMedia   Purpose = "m.usermedia"
	PurposeScreenshare Purpose = "m.screenshare"
)

// StreamInfo is one stream's entry in the metadata.
type StreamInfo struct {
	Purpose    Purpose
	AudioMuted bool
	VideoMuted bool
}

// StreamMetadata maps a MediaStream id (msid) to its purpose and mute
// state. Clients ignore remote streams whose id is not in it, so every
// stream we send is listed.
type StreamMetadata map[string]StreamInfo

// The lifetimes (ms) the SDK sends, which clients expect.
const (
	InviteLifetime    = 60000
	NegotiateLifetime = 10000
)

// Invite offers a call. Lifetime is in milliseconds.
type Invite struct {
	Lifetime        int64
	Offer           Description // Type SDPOffer
	Invitee         string      // user the invite is for; "" for anyone
	InviteeDeviceID string      // device the invite is for; "" for any
	DeviceID        string      // the sender's device, sent iff InviteeDeviceID is (required in group invites)
	Capabilities    *Capabilities
	Metadata        StreamMetadata // nil when absent (clients then guess from the SDP)
}

// Answer accepts an invite.
type Answer struct {
	Answer       Description // Type SDPAnswer
	Capabilities *Capabilities
	Metadata     StreamMetadata
}

// Candidate is one trickled ICE candidate. An empty Candidate string is an
// end-of-candidates marker and is kept as such.
type Candidate struct {
	Candidate     string
	SDPMid        string
	SDPMLineIndex uint16
}

// EndOfCandidates says whether c marks the end of candidates.
func (c Candidate) EndOfCandidates() bool { return c.Candidate == "" }

// Candidates carries trickled ICE candidates in order.
type Candidates struct {
	Candidates []Candidate
}

// SelectAnswer tells the callee's devices which answer the caller took.
type SelectAnswer struct {
	SelectedPartyID string
}

// Reject declines an invite. Reason is optional.
type Reject struct {
	Reason Reason
}

// Hangup ends a call. Reason is optional.
type Hangup struct {
	Reason Reason
}

// Negotiate renegotiates a running call: Description is an offer or the
// answer to one. Lifetime (ms) is optional (0: absent); the SDK sends
// 10000 and never reads it. Answers carry neither capabilities nor metadata.
type Negotiate struct {
	Lifetime     int64
	Description  Description
	Capabilities *Capabilities
	Metadata     StreamMetadata
}

// StreamMetadataChanged announces mutes and purposes.
type StreamMetadataChanged struct {
	Metadata StreamMetadata
}

// AssertedIdentity (MSC3086) names who the remote party now is. Decoded
// only.
type AssertedIdentity struct {
	ID          string
	DisplayName string
	AvatarURL   string
}

func (*Invite) Kind() Kind                { return KindInvite }
func (*Answer) Kind() Kind                { return KindAnswer }
func (*Candidates) Kind() Kind            { return KindCandidates }
func (*SelectAnswer) Kind() Kind          { return KindSelectAnswer }
func (*Reject) Kind() Kind                { return KindReject }
func (*Hangup) Kind() Kind                { return KindHangup }
func (*Negotiate) Kind() Kind             { return KindNegotiate }
func (*StreamMetadataChanged) Kind() Kind { return KindStreamMetadataChanged }
func (*AssertedIdentity) Kind() Kind      { return KindAssertedIdentity }
