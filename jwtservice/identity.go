package jwtservice

import "github.com/switchboard-rtc/switchboard/internal/lkid"

// legacySlot is the slot /sfu/get uses, so that both endpoints map a Matrix
// room to the same LiveKit room.
const legacySlot = "m.call#ROOM"

// LiveKitIdentityFor is the participant identity /get_token issues (see
// lkid.Hashed); clients compute the same hash to map participants to members.
func LiveKitIdentityFor(userID, deviceID, memberID string) string {
	return lkid.Hashed(userID, deviceID, memberID)
}

// LegacyIdentityFor is the participant identity /sfu/get issues:
// "@user:server:DEVICE".
func LegacyIdentityFor(userID, deviceID string) string { return lkid.Legacy(userID, deviceID) }

// LiveKitRoomFor is the LiveKit room name for a Matrix room and call slot.
func LiveKitRoomFor(roomID, slotID string) string { return lkid.Room(roomID, slotID) }
