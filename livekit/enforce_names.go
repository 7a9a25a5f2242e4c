package livekit

import (
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/lkid"
	"github.com/switchboard-rtc/switchboard/membership"
)

// legacySlot is the slot /sfu/get names every room by.
const legacySlot = "m.call#ROOM"

// roomView is what the memberships say about one Matrix room: the LiveKit
// identities that may be connected for it.
type roomView struct {
	room       id.RoomID
	identities map[string]bool
}

// viewsByLiveKitRoom maps every LiveKit room name our JWT service can issue
// for the rooms the bot sees (the legacy slot, each call's slot, and the
// bare room id some deployments use as livekit_alias) to the identities
// with a valid membership in that Matrix room. Each member may appear under
// either identity form, since which one its client asked for is not in the
// membership.
func viewsByLiveKitRoom(rooms []id.RoomID, members []membership.Member) map[string]*roomView {
	views := make(map[id.RoomID]*roomView, len(rooms))
	byName := make(map[string]*roomView, 2*len(rooms))
	add := func(name string, v *roomView) { byName[name] = v }
	for _, r := range rooms {
		v := &roomView{room: r, identities: map[string]bool{}}
		views[r] = v
		add(lkid.Room(string(r), legacySlot), v)
		add(string(r), v)
	}
	for _, m := range members {
		v := views[m.Call.Room]
		if v == nil {
			continue // a room the bot no longer sees
		}
		v.identities[lkid.Legacy(string(m.UserID), string(m.DeviceID))] = true
		v.identities[lkid.Hashed(string(m.UserID), string(m.DeviceID), m.MembershipID)] = true
		add(lkid.Room(string(m.Call.Room), slotOf(m.Call)), v)
	}
	return byName
}

// slotOf is the MatrixRTC slot id of a call: "{application}#{callId}", the
// room-wide call being "ROOM".
func slotOf(c membership.CallKey) string {
	call := c.CallID
	if call == "" {
		call = "ROOM"
	}
	app := c.Application
	if app == "" {
		app = "m.call"
	}
	return app + "#" + call
}

// viewsByMatrixRoom indexes the views by their Matrix room.
func viewsByMatrixRoom(views map[string]*roomView) map[id.RoomID]*roomView {
	out := make(map[id.RoomID]*roomView, len(views)/2+1)
	for _, v := range views {
		out[v.room] = v
	}
	return out
}
