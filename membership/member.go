package membership

import (
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/lkid"
)

// Dialect is the wire format a membership came in (or goes out) as.
type Dialect int

const (
	DialectUnknown   Dialect = iota
	DialectFamedly           // com.famedly.call.member, a "memberships" list per state key
	DialectMatrixRTC         // org.matrix.msc3401.call.member session format, one state event per device
	DialectRTCSticky         // org.matrix.msc4143.rtc.member sticky event (read only)
)

func (d Dialect) String() string {
	switch d {
	case DialectFamedly:
		return "famedly"
	case DialectMatrixRTC:
		return "matrixrtc"
	case DialectRTCSticky:
		return "rtc-sticky"
	default:
		return "unknown"
	}
}

// Event types of the dialects.
const (
	FamedlyEventType   = "com.famedly.call.member"
	MatrixRTCEventType = "org.matrix.msc3401.call.member"
	RTCStickyEventType = "org.matrix.msc4143.rtc.member"
)

// CallKey names one call: a room and, within it, the call's id, application
// and scope. Famedly's room-wide call has CallID "" (MatrixRTC's slot
// "m.call#ROOM" maps to the same key: application "m.call", CallID "").
type CallKey struct {
	Room        id.RoomID
	Application string // "m.call" by default
	CallID      string // "" for the room-wide call
	Scope       string // "m.room" (default) or "m.user"; MatrixRTC sticky has none
}

// Focus is one transport (SFU or mesh) a member names.
type Focus struct {
	Type              string `json:"type"`                          // "livekit" or "mesh"
	LiveKitServiceURL string `json:"livekit_service_url,omitempty"` // livekit only
	LiveKitAlias      string `json:"livekit_alias,omitempty"`       // livekit only (Famedly: required; MatrixRTC: optional)
	FocusSelection    string `json:"focus_selection,omitempty"`     // MatrixRTC focus_active only
}

// Member is one device's membership in one call, whatever its dialect.
// The user is always the event's sender.
type Member struct {
	Dialect      Dialect
	Call         CallKey
	UserID       id.UserID
	DeviceID     id.DeviceID
	MembershipID string // Famedly membershipID / MatrixRTC membershipID or member.id
	StateKey     string // state key (or sticky key) of the event that carried it
	ActiveFoci   []Focus
	Preferred    []Focus   // MatrixRTC foci_preferred / rtc_transports
	Feeds        []string  // Famedly mesh feeds' purposes
	CreatedAt    time.Time // MatrixRTC created_ts (or the event's origin_server_ts)
	// ExpiresAt is when the membership stops counting under its dialect's
	// rule as its clients apply it: Famedly expires_ts plus the 6-minute
	// grace; MatrixRTC created_ts + expires; sticky: the stickiness TTL.
	ExpiresAt time.Time
}

// Identity is the LiveKit participant identity clients expect for this
// member: "@user:server:DEVICE" for the state-event dialects, the hash of
// [user, device, member id] for sticky MatrixRTC memberships.
func (m Member) Identity() string {
	if m.Dialect == DialectRTCSticky {
		return lkid.Hashed(string(m.UserID), string(m.DeviceID), m.MembershipID)
	}
	return lkid.Legacy(string(m.UserID), string(m.DeviceID))
}

// SeatKey names one membership of ours: a call, in one dialect.
type SeatKey struct {
	Call    CallKey
	Dialect Dialect
}

// Less orders seats by room, call and dialect.
func (a SeatKey) Less(b SeatKey) bool {
	if a.Call.Room != b.Call.Room {
		return a.Call.Room < b.Call.Room
	}
	if a.Call.Application != b.Call.Application {
		return a.Call.Application < b.Call.Application
	}
	if a.Call.CallID != b.Call.CallID {
		return a.Call.CallID < b.Call.CallID
	}
	if a.Call.Scope != b.Call.Scope {
		return a.Call.Scope < b.Call.Scope
	}
	return a.Dialect < b.Dialect
}
