package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// adminView is the part of GET /admin/v1/calls/{room} the tests read.
type adminView struct {
	Calls []struct {
		CallID  string `json:"call_id"`
		Members []struct {
			UserID    string    `json:"user_id"`
			DeviceID  string    `json:"device_id"`
			Dialect   string    `json:"dialect"`
			ExpiresAt time.Time `json:"expires_at"`
		} `json:"members"`
	} `json:"calls"`
}

func (v adminView) devices() []string {
	var out []string
	for _, c := range v.Calls {
		for _, m := range c.Members {
			out = append(out, m.Dialect+"/"+m.DeviceID)
		}
	}
	slices.Sort(out)
	return out
}

// TestBotTracksMembershipsFromOutside runs the whole coordinator with its
// bot on the real Synapse and watches the tracker through the admin API, as
// an operator would: joins in both dialects, a leave, and an expiry that
// comes with no further event in the room (by the tracker's timer, which
// TestTrackerExpiresWithoutEvents pins with a fake clock), never before its
// time.
func TestBotTracksMembershipsFromOutside(t *testing.T) {
	env := testenv.Require(t)
	addr, botID := startBotCoordinator(t, env, nil)

	alice := env.RegisterUser(t, "alice")
	bob := env.RegisterUser(t, "bob")
	room := env.CreateRoom(t, alice, bob)
	inviteBot(t, alice, room, botID)

	view := func() adminView { return adminRoomView[adminView](t, addr, room) }

	// Alice joins (Famedly), expiring soon; Bob joins (MatrixRTC session).
	expiry := time.Now().Add(8 * time.Second) // room for a slow sync on a loaded machine
	famedly := map[string]any{"memberships": []any{map[string]any{
		"call_id": "", "application": "m.call", "scope": "m.room",
		"foci_active": []any{map[string]any{"type": "livekit", "livekit_service_url": env.ServiceURL, "livekit_alias": room.String()}},
		"device_id":   "ALICEDEV", "expires_ts": expiry.Add(-6 * time.Minute).UnixMilli(), "membershipID": "m-alice",
	}}}
	if _, err := alice.Client.SendStateEvent(t.Context(), room, testenv.FamedlyCallMember, alice.ID.String(), famedly); err != nil {
		t.Fatal(err)
	}
	bobKey := rtcJoin(t, env, bob, room, "BOBDEV")
	waitFor(t, 10*time.Second, "both members in the admin API", func() bool {
		return slices.Equal(view().devices(), []string{"famedly/ALICEDEV", "matrixrtc/BOBDEV"})
	})

	// Bob leaves (empty content): gone.
	if _, err := bob.Client.SendStateEvent(t.Context(), room, testenv.MatrixRTCCallMember, bobKey, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "bob's leave", func() bool {
		return slices.Equal(view().devices(), []string{"famedly/ALICEDEV"})
	})

	// Alice's membership expires by itself: no event is sent.
	waitFor(t, time.Until(expiry), "alice's expiry", func() bool {
		gone := len(view().devices()) == 0
		if at := time.UnixMilli(expiry.UnixMilli()); gone && time.Now().Before(at) { // expires_ts is whole ms
			t.Fatalf("alice's membership gone %v before its expiry", time.Until(at))
		}
		return gone
	})
}

// adminRoomView fetches GET /admin/v1/calls/{room} from the admin listener
// of the coordinator at addr into a T (with the test admin token); any
// failure ends the test.
func adminRoomView[T any](t *testing.T, addr string, room id.RoomID) T {
	t.Helper()
	return adminGet[T](t, addr, "/admin/v1/calls/"+room.String())
}

// adminGet fetches GET path from the admin listener of the coordinator at
// addr into a T, as adminRoomView.
func adminGet[T any](t *testing.T, addr, path string) T {
	t.Helper()
	var v T
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+adminAddrOf(t, addr)+path, nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || json.NewDecoder(res.Body).Decode(&v) != nil {
		t.Fatalf("admin API: HTTP %d", res.StatusCode)
	}
	return v
}

func hasKey[K comparable, V any](m map[K]V, k K) bool { _, ok := m[k]; return ok }

// hangGuard is the least time waitFor waits: a step that has not happened
// by then is hung, not slow, even under -race on a loaded machine.
const hangGuard = 30 * time.Second

// waitFor polls ok until it holds. It fails only when the wait clearly
// hangs: after limit (the step's own time, e.g. a grace period) or
// hangGuard, whichever is longer. It asserts no timing.
func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(max(limit, hangGuard))
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startBotCoordinator registers a bot user and runs the whole coordinator
// with it against the test environment; extra adds environment variables.
func startBotCoordinator(t *testing.T, env *testenv.Env, extra map[string]string) (addr string, botID id.UserID) {
	t.Helper()
	cfg, botID := botCoordinatorEnv(t, env, extra)
	addr, _ = startServe(t, cfg)
	return addr, botID
}

// botCoordinatorEnv registers a bot user and returns the coordinator's
// environment with it (startBotCoordinator's).
func botCoordinatorEnv(t *testing.T, env *testenv.Env, extra map[string]string) (cfg map[string]string, botID id.UserID) {
	t.Helper()
	botID, botPass := env.RegisterAccount(t, "switchboard")
	cfg = minimalEnv()
	for k, v := range map[string]string{
		"SWITCHBOARD_MATRIX_HOMESERVER_URL": env.HSURL, "SWITCHBOARD_MATRIX_SERVER_NAME": env.ServerName,
		"SWITCHBOARD_MATRIX_BOT_USER_ID": botID.String(), "SWITCHBOARD_MATRIX_BOT_PASSWORD": botPass.Reveal(),
		"SWITCHBOARD_DATA_DIR": t.TempDir(), "SWITCHBOARD_ADMIN_TOKEN": testAdminToken,
		"LIVEKIT_URL": env.LKURL, "LIVEKIT_KEY": env.LKKey, "LIVEKIT_SECRET": env.LKSecret.Reveal(),
		"LIVEKIT_FULL_ACCESS_HOMESERVERS": env.ServerName,
		"LIVEKIT_CS_API_URL_OVERRIDES":    env.ServerName + "=" + env.HSURL,
	} {
		cfg[k] = v
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg, botID
}

// inviteBot invites the bot and waits until it has joined.
func inviteBot(t *testing.T, inviter *testenv.User, room id.RoomID, botID id.UserID) {
	t.Helper()
	if _, err := inviter.Client.InviteUser(t.Context(), room, &mautrix.ReqInviteUser{UserID: botID}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "bot joined the room", func() bool {
		members, err := inviter.Client.JoinedMembers(t.Context(), room)
		return err == nil && hasKey(members.Joined, botID)
	})
}

// TestRequireRoomMembership: with matrix.require_room_membership on, only
// users joined to the room get a token, and rooms without the bot are
// refused with a 403 that says to invite it.
func TestRequireRoomMembership(t *testing.T) {
	env := testenv.Require(t)
	addr, botID := startBotCoordinator(t, env, map[string]string{"SWITCHBOARD_MATRIX_REQUIRE_ROOM_MEMBERSHIP": "true"})
	alice := env.RegisterUser(t, "alice")
	carol := env.RegisterUser(t, "carol")
	room := env.CreateRoom(t, alice)
	inviteBot(t, alice, room, botID)
	botless := env.CreateRoom(t, alice)

	// The roster is filled by the bot's sync: wait for alice to be seen.
	waitFor(t, 10*time.Second, "alice allowed", func() bool { code, _ := sfuGet(t, env, addr, alice, room, "D"); return code == 200 })
	if code, res := sfuGet(t, env, addr, carol, room, "D"); code != 403 || !strings.Contains(res.msg(), "not a member") {
		t.Errorf("non-member: %d %s", code, res.msg())
	}
	if code, res := sfuGet(t, env, addr, alice, botless, "D"); code != 403 || !strings.Contains(res.msg(), "invite the bot") {
		t.Errorf("room without the bot: %d %s", code, res.msg())
	}
}

// sfuResult is an /sfu/get answer: a grant or a Matrix error.
type sfuResult struct {
	URL     string `json:"url"`
	JWT     string `json:"jwt"`
	ErrCode string `json:"errcode"`
	Error   string `json:"error"`
}

func (r sfuResult) msg() string { return r.ErrCode + " " + r.Error }

// sfuGet asks the coordinator at addr for a LiveKit token for u's device.
func sfuGet(t *testing.T, env *testenv.Env, addr string, u *testenv.User, room id.RoomID, device string) (int, sfuResult) {
	t.Helper()
	tok := env.OpenIDToken(t, u)
	body := fmt.Sprintf(`{"room":%q,"device_id":%q,"openid_token":{"access_token":%q,"matrix_server_name":%q}}`,
		room, device, tok.AccessToken, tok.MatrixServerName)
	return postToken(t, addr, "/sfu/get", body)
}

// postToken posts a token request body to path and reads the answer.
func postToken(t *testing.T, addr, path, body string) (int, sfuResult) {
	t.Helper()
	res, err := http.Post("http://"+addr+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out sfuResult
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}
