package main

import (
	"fmt"
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
	return lkConnectWith(t, u, code, grant)
}

// getToken asks the coordinator's /get_token (MSC4195) for u's device as
// member memberID of the call in slot.
func getToken(t *testing.T, env *testenv.Env, addr string, u *testenv.User, room id.RoomID, slot, device, memberID string) (int, sfuResult) {
	t.Helper()
	tok := env.OpenIDToken(t, u)
	body := fmt.Sprintf(`{"room_id":%q,"slot_id":%q,"member":{"id":%q,"claimed_user_id":%q,"claimed_device_id":%q},`+
		`"openid_token":{"access_token":%q,"matrix_server_name":%q}}`,
		room, slot, memberID, u.ID, device, tok.AccessToken, tok.MatrixServerName)
	return postToken(t, addr, "/get_token", body)
}

// lkConnectWith connects to LiveKit with a token answer (code, grant).
func lkConnectWith(t *testing.T, u *testenv.User, code int, grant sfuResult) *lksdk.Room {
	t.Helper()
	if code != 200 {
		t.Fatalf("token for %s: HTTP %d %s", u.ID, code, grant.msg())
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
