package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/lkid"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// lkConnectRTC gets u's LiveKit token for an Element Call matrix_2_0
// member (device, member id) from the coordinator's /get_token and
// connects to LiveKit with it; it returns the participant identity.
func lkConnectRTC(t *testing.T, env *testenv.Env, addr string, u *testenv.User, room id.RoomID, device id.DeviceID, memberID string) string {
	t.Helper()
	tok := env.OpenIDToken(t, u)
	body := fmt.Sprintf(`{"room_id":%q,"slot_id":"m.call#ROOM","member":{"id":%q,"claimed_user_id":%q,"claimed_device_id":%q},`+
		`"openid_token":{"access_token":%q,"matrix_server_name":%q,"token_type":"Bearer","expires_in":3600}}`,
		room, memberID, u.ID, device, tok.AccessToken, tok.MatrixServerName)
	res, err := http.Post("http://"+addr+"/get_token", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var grant sfuResult
	if err := json.NewDecoder(res.Body).Decode(&grant); err != nil || res.StatusCode != 200 {
		t.Fatalf("/get_token for %s: HTTP %d %s (%v)", u.ID, res.StatusCode, grant.msg(), err)
	}
	r, err := lksdk.ConnectToRoomWithToken(grant.URL, grant.JWT, &lksdk.RoomCallback{})
	if err != nil {
		t.Fatalf("connect %s: %v", u.ID, err)
	}
	t.Cleanup(r.Disconnect)
	return lkid.Hashed(u.ID.String(), string(device), memberID)
}

// TestMatrix2MembersStay (#9 defect 5): an Element Call member in
// matrix_2_0 mode (a sticky rtc.member event, which the server sends in
// the timeline) with a valid /get_token token is tracked and stays in
// LiveKit past the enforcement grace, in an unencrypted room and in an
// encrypted one (the event Megolm-encrypted, its key shared with the bot
// over Olm, as matrix-js-sdk does).
func TestMatrix2MembersStay(t *testing.T) {
	env := testenv.Require(t)
	alice := env.RegisterUser(t, "alice")
	addr, botID := startBotCoordinator(t, env, enforceFast(map[string]string{}))
	aliceDev := env.NewCryptoClient(t, alice)
	device := aliceDev.DeviceID()

	plain := env.CreateRoom(t, alice)
	inviteBot(t, alice, plain, botID)
	encrypted := env.CreateEncryptedRoom(t, aliceDev)
	inviteBot(t, alice, encrypted, botID)

	if _, err := testenv.SendSticky(t.Context(), alice.Client, plain, testenv.RTCMember,
		testenv.RTCMemberContent(alice.ID, device, "m-plain", env.ServiceURL), time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := aliceDev.SendStickyEncrypted(t.Context(), encrypted, testenv.RTCMember,
		testenv.RTCMemberContent(alice.ID, device, "m-encrypted", env.ServiceURL), time.Hour, alice.ID, botID); err != nil {
		t.Fatal(err)
	}
	rooms := []struct {
		name string
		room id.RoomID
		lk   string // LiveKit room
		want []string
	}{
		{"unencrypted", plain, lkid.Room(plain.String(), "m.call#ROOM"), []string{lkConnectRTC(t, env, addr, alice, plain, device, "m-plain")}},
		{"encrypted", encrypted, lkid.Room(encrypted.String(), "m.call#ROOM"), []string{lkConnectRTC(t, env, addr, alice, encrypted, device, "m-encrypted")}},
	}
	for _, r := range rooms {
		waitFor(t, 10*time.Second, "connected to "+r.lk, func() bool { return slices.Equal(lkParticipants(t, env, r.lk), r.want) })
	}
	// Past the grace period and a few checks.
	time.Sleep(enforceGrace + 4*time.Second)
	for _, r := range rooms {
		t.Run(r.name, func(t *testing.T) {
			if got := lkParticipants(t, env, r.lk); !slices.Equal(got, r.want) || !lkRoomExists(t, env, r.lk) {
				t.Errorf("after the grace period LiveKit room exists=%v with %v, want %v", lkRoomExists(t, env, r.lk), got, r.want)
			}
			if !tracksDevice(t, addr, r.room, string(device)) {
				t.Errorf("the matrix_2_0 member is not tracked: %v", adminRoomView[adminView](t, addr, r.room).devices())
			}
		})
	}
}
