package main

import (
	"slices"
	"testing"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// lkConnect gets u's LiveKit token for device from the coordinator's
// /sfu/get, the normal way, and connects to LiveKit with it.
func lkConnect(t *testing.T, env *testenv.Env, addr string, u *testenv.User, room id.RoomID, device string) *lksdk.Room {
	t.Helper()
	code, grant := sfuGet(t, env, addr, u, room, device)
	if code != 200 {
		t.Fatalf("/sfu/get for %s: HTTP %d %s", u.ID, code, grant.msg())
	}
	r, err := lksdk.ConnectToRoomWithToken(grant.URL, grant.JWT, &lksdk.RoomCallback{})
	if err != nil {
		t.Fatalf("connect %s: %v", u.ID, err)
	}
	t.Cleanup(r.Disconnect)
	return r
}

// lkParticipants lists the identities in a LiveKit room, sorted (none if
// the room does not exist).
func lkParticipants(t *testing.T, env *testenv.Env, lkRoom string) []string {
	res, err := env.RoomService().ListParticipants(t.Context(), &livekit.ListParticipantsRequest{Room: lkRoom})
	if err != nil {
		return nil
	}
	var out []string
	for _, p := range res.Participants {
		out = append(out, p.Identity)
	}
	slices.Sort(out)
	return out
}

// lkRoomExists reports whether LiveKit has the room.
func lkRoomExists(t *testing.T, env *testenv.Env, lkRoom string) bool {
	res, err := env.RoomService().ListRooms(t.Context(), &livekit.ListRoomsRequest{Names: []string{lkRoom}})
	return err == nil && len(res.Rooms) == 1
}
