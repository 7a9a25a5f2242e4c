package mesh

// PeerKey is a device's place in the calling order: "userId:deviceId".
func PeerKey(userID, deviceID string) string { return userID + ":" + deviceID }

// Places says whether the device with key self places the call to the
// device with key peer in a mesh group call: the smaller key in byte order
// calls (the SDK compares UTF-16 code units, the same order for the ASCII
// of Matrix ids), the other waits for the invite. A device never calls
// itself.
func Places(self, peer string) bool { return self < peer }

// Glare says which of two crossing calls between the same pair survives.
type Glare uint8

const (
	// KeepOurs: our outgoing call survives; hang up (1:1) or reject (mesh)
	// the incoming invite.
	KeepOurs Glare = iota + 1
	// KeepTheirs: the incoming call survives; hang up ours and answer it.
	KeepTheirs
)

func (g Glare) String() string {
	switch g {
	case KeepOurs:
		return "keep_ours"
	case KeepTheirs:
		return "keep_theirs"
	}
	return "invalid"
}

// RoomGlare resolves an incoming 1:1 invite meeting our outgoing call in
// the same room (reference §4.8). If our invite was not sent yet, ours
// yields; otherwise the greater call_id loses (equal ids are the same call:
// ours stays). Unlike the SDK, which leaves a smaller incoming call ringing
// beside ours, exactly one call survives.
func RoomGlare(ourCallID string, ourInviteSent bool, theirCallID string) Glare {
	if !ourInviteSent || theirCallID < ourCallID {
		return KeepTheirs
	}
	return KeepOurs
}

// MeshGlare resolves invites crossing between two devices of a group call
// (each side's key as PeerKey gives it): the invite from the smaller key
// wins, as that side is the one that should have called. Both sides reach
// the same answer, so exactly one call survives.
func MeshGlare(self, peer string) Glare {
	if Places(self, peer) {
		return KeepOurs
	}
	return KeepTheirs
}
