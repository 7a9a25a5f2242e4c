package jwtservice

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
)

// legacySlot is the slot /sfu/get uses, so that both endpoints map a Matrix
// room to the same LiveKit room.
const legacySlot = "m.call#ROOM"

// LiveKitIdentityFor is the participant identity /get_token issues: unpadded
// standard base64 of SHA-256 over the JSON array [user, device, member id].
// Clients compute the same hash to map participants back to members, so the
// bytes must match lk-jwt-service exactly, Go's JSON escaping of <, > and &
// included.
func LiveKitIdentityFor(userID, deviceID, memberID string) string {
	return hashJSON(userID, deviceID, memberID)
}

// LegacyIdentityFor is the participant identity /sfu/get issues:
// "@user:server:DEVICE", the legacy membership identity clients compute.
func LegacyIdentityFor(userID, deviceID string) string {
	return userID + ":" + deviceID
}

// LiveKitRoomFor is the LiveKit room name for a Matrix room and call slot:
// unpadded standard base64 of SHA-256 over the JSON array [room, slot].
func LiveKitRoomFor(roomID, slotID string) string {
	return hashJSON(roomID, slotID)
}

func hashJSON(parts ...string) string {
	b, err := json.Marshal(parts)
	if err != nil {
		panic("jwtservice: marshal strings: " + err.Error()) // cannot happen for []string
	}
	sum := sha256.Sum256(b)
	return base64.RawStdEncoding.EncodeToString(sum[:])
}
