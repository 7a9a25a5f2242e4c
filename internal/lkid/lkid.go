// Package lkid derives LiveKit names from Matrix ones, exactly as
// lk-jwt-service and the MatrixRTC clients do: the JWT service issues these
// names and the membership tracker maps participants back with them.
package lkid

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
)

// Hashed is the participant identity of MatrixRTC (/get_token, sticky
// memberships): unpadded standard base64 of SHA-256 over the JSON array
// [user, device, member id]. The bytes must match lk-jwt-service exactly,
// Go's JSON escaping of <, > and & included.
func Hashed(userID, deviceID, memberID string) string { return hashJSON(userID, deviceID, memberID) }

// Legacy is the participant identity of the state-event memberships and
// /sfu/get: "@user:server:DEVICE".
func Legacy(userID, deviceID string) string { return userID + ":" + deviceID }

// Room is the LiveKit room name for a Matrix room and call slot: unpadded
// standard base64 of SHA-256 over the JSON array [room, slot].
func Room(roomID, slotID string) string { return hashJSON(roomID, slotID) }

func hashJSON(parts ...string) string {
	b, err := json.Marshal(parts)
	if err != nil {
		panic("lkid: marshal strings: " + err.Error()) // cannot happen for []string
	}
	sum := sha256.Sum256(b)
	return base64.RawStdEncoding.EncodeToString(sum[:])
}

// ProbeRoomPrefix starts the names of the short-lived LiveKit rooms that
// `coordinator doctor` creates to see LiveKit's webhooks arrive; the
// service's /healthz?detail=1 names the last such room it heard of (no
// other room name is shown there).
const ProbeRoomPrefix = "switchboard-doctor-"
