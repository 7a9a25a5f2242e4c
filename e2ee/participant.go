package e2ee

import (
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/membership"
)

// Participant names whose keys a ring holds: one member's LiveKit identity
// in one call. Keys are per call (a device in two calls sends each its own
// keys), so the call is part of the name; the user and device say who the
// identity is (a hashed identity cannot be read back).
type Participant struct {
	Call     membership.CallKey
	Identity string // "@user:server:DEVICE", or the hash for sticky memberships
	UserID   id.UserID
	DeviceID id.DeviceID
}

// ParticipantOf is the participant of a membership: its call and the
// LiveKit identity its clients expect (membership.Member.Identity).
func ParticipantOf(m membership.Member) Participant {
	return Participant{Call: m.Call, Identity: m.Identity(), UserID: m.UserID, DeviceID: m.DeviceID}
}
