package main

import (
	"io"
	"maps"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/logbuf"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/internal/testenv/callwire"
)

// meshView is GET /admin/v1/mesh as the tests read it.
type meshView struct {
	Calls []struct {
		Room  string `json:"room_id"`
		State string `json:"state"`
		Peers []struct {
			Participant string `json:"participant"`
			State       string `json:"state"`
		} `json:"peers"`
		Features []string `json:"features"`
	} `json:"calls"`
}

// TestMeshEcho (#14): three independent devices, each with its own Olm
// device and a Famedly membership on a mesh focus, meet the coordinator in
// an encrypted room on the real Synapse. Two place their calls to the bot
// (their keys are smaller), the bot calls the third; the echo feature
// plays each device's marked Opus packets back to it, and only to it.
// Then the third rejoins with a new membershipID: the bot hangs up the
// old call and calls the new session, whose echo comes back too.
func TestMeshEcho(t *testing.T) {
	env := testenv.Require(t)
	addr, bot, _, peers := meshRig(t, env, nil, "alice", "bob", "zed") // "@zed" > "@switchboard": the bot calls
	for _, p := range peers {
		p.Start(bot)
	}
	zed := peers[2]
	for _, p := range peers {
		waitFor(t, 60*time.Second, p.Name()+" hearing its own packets echoed", func() bool { return p.Heard().Own > 50 })
	}
	waitFor(t, 30*time.Second, "the admin view showing three connected peers", func() bool {
		v := adminGet[meshView](t, addr, "/admin/v1/mesh")
		return len(v.Calls) == 1 && v.Calls[0].State == "connected 3/3 peers"
	})
	for _, p := range peers {
		if n := p.Heard().Foreign; n != 0 {
			t.Errorf("%s heard %d packets of another device: the echo must go to its sender only", p.Name(), n)
		}
	}

	// A stale session: zed rejoins with a new membershipID.
	old := zed.CallID()
	zed.Join("session-zed-2")
	deadline := time.After(60 * time.Second)
	for hungUp := false; !hungUp; {
		select {
		case id := <-zed.Hangups():
			hungUp = id == old
		case <-deadline:
			t.Fatalf("the bot did not hang up zed's call of the old session")
		}
	}
	base := zed.Heard().Own
	waitFor(t, 60*time.Second, "zed's new session called and echoed", func() bool {
		return zed.CallID() != old && zed.Heard().Own > base+50
	})
	if n := zed.Heard().Foreign; n != 0 {
		t.Errorf("zed heard %d packets of another device", n)
	}
}

// meshRig starts the coordinator (calls.join all, echo, loopback-only ICE)
// and makes one mesh peer per name, all in one encrypted room with the bot,
// each joined to its mesh call with session "session-NAME-1".
func meshRig(t *testing.T, env *testenv.Env, extra map[string]string, names ...string) (addr string, bot id.UserID, room id.RoomID, peers []*callwire.Peer) {
	t.Helper()
	return meshRigWith(t, env, meshOpts{extra: extra}, names...)
}

// meshOpts are meshRig's options: extra configuration, a sink for the
// coordinator's log, the peers' pion API (nil: pionAPI).
type meshOpts struct {
	extra map[string]string
	logs  *logbuf.Buffer
	api   *webrtc.API
}

// meshRigWith is meshRig with opts.
func meshRigWith(t *testing.T, env *testenv.Env, opts meshOpts, names ...string) (addr string, bot id.UserID, room id.RoomID, peers []*callwire.Peer) {
	t.Helper()
	cfg, bot := botEnv(t, env)
	maps.Copy(cfg, opts.extra)
	cfg["SWITCHBOARD_CALLS_JOIN"] = "all"
	if cfg["SWITCHBOARD_CALLS_FEATURES"] == "" {
		cfg["SWITCHBOARD_CALLS_FEATURES"] = "echo"
	}
	cfg["SWITCHBOARD_CALLS_ECHO_DELAY"] = "1ms"
	cfg["SWITCHBOARD_MESH_LOOPBACK_ONLY"] = "true"
	if opts.logs == nil {
		addr, _ = startServe(t, cfg)
	} else {
		addr, _ = startServeWith(t, cfg, func(stderr io.Writer) error {
			return run(t.Context(), []string{"coordinator", "serve"}, envOf(cfg), io.Discard, io.MultiWriter(stderr, opts.logs))
		})
	}
	ccs := make([]*testenv.CryptoClient, len(names))
	others := make([]*testenv.User, 0, len(names)-1)
	for i, name := range names {
		ccs[i] = env.NewCryptoClient(t, env.RegisterUser(t, name))
		if i > 0 {
			others = append(others, ccs[i].User)
		}
	}
	room = env.CreateEncryptedRoom(t, ccs[0], others...)
	inviteBot(t, ccs[0].User, room, bot)
	api := opts.api
	if api == nil {
		api = pionAPI(t)
	}
	for i, name := range names {
		p := callwire.NewPeer(t, ccs[i], api, callwire.PeerConfig{Name: name, Room: room})
		p.Join("session-" + name + "-1")
		peers = append(peers, p)
	}
	return addr, bot, room, peers
}

// pionAPI is callwire's loopback-only pion API.
func pionAPI(t *testing.T) *webrtc.API {
	t.Helper()
	api, err := callwire.LoopbackAPI()
	if err != nil {
		t.Fatal(err)
	}
	return api
}

// TestMeshEarlyCandidates (#14): a device sends its candidates before its
// invite, none in its offer, and ignores the bot's: the bot holds the
// early candidates until the invite comes, and the call connects with
// them (the echo comes back).
func TestMeshEarlyCandidates(t *testing.T) {
	env := testenv.Require(t)
	_, bot, _, peers := meshRig(t, env, nil, "amy")
	amy := peers[0]
	amy.SetEarly(true)
	amy.Start(bot)
	waitFor(t, 60*time.Second, "amy hearing her own packets echoed", func() bool { return amy.Heard().Own > 50 })
}

// TestMeshAnnounce (#14): with echo and announce, a mesh peer hears the
// announce sound (unmarked Opus, on a second stream of ours added by
// renegotiation or on the first) and its own echo.
func TestMeshAnnounce(t *testing.T) {
	env := testenv.Require(t)
	sounds := t.TempDir()
	makeOpusTone(t, sounds, "welcome", 880, 5)
	_, bot, _, peers := meshRig(t, env, map[string]string{"SWITCHBOARD_CALLS_FEATURES": "echo,announce",
		"SWITCHBOARD_CALLS_SOUNDS_DIR": sounds, "SWITCHBOARD_CALLS_ANNOUNCE": "welcome"}, "amy")
	amy := peers[0]
	amy.Start(bot)
	waitFor(t, 60*time.Second, "amy hearing the announce sound and her echo", func() bool {
		h := amy.Heard()
		return h.Unmarked > 50 && h.Own > 50
	})
}

// TestMeshRecord (#14): the record feature runs over mesh: the recorder
// writes the peer's audio (participant userId:deviceId; GET
// /admin/v1/mesh's feature counters) into an active recording (GET
// /admin/v1/recordings, which lists the mesh engine's recorders too);
// then the peer mutes, switches its microphone and shares its screen, and
// the recording shows all three (recordMuteShareSwitch).
func TestMeshRecord(t *testing.T) {
	env := testenv.Require(t)
	dir := t.TempDir()
	addr, bot, _, peers := meshRig(t, env, map[string]string{"SWITCHBOARD_CALLS_FEATURES": "record",
		"SWITCHBOARD_CALLS_RECORD_DIR": dir}, "amy")
	amy := peers[0]
	amy.Start(bot)
	waitFor(t, 60*time.Second, "amy's audio written by the recorder", func() bool {
		n, _ := recordLineStats(t, addr, amy.Key(), "audio")["written"].(float64)
		return n > 50
	})
	v := adminGet[struct {
		Recordings []struct {
			Active bool `json:"active"`
		} `json:"recordings"`
	}](t, addr, "/admin/v1/recordings")
	if len(v.Recordings) != 1 || !v.Recordings[0].Active {
		t.Errorf("recordings %+v: want one, active", v.Recordings)
	}
	recordMuteShareSwitch(t, addr, dir, amy)
}

// TestMeshGlare (#14): a device that sorts after the bot invites it as
// it joins, crossing the bot's invite (the bot calls it once it sees its
// membership): exactly one call survives, the bot's (its invite is
// answered, zed's rejected), and the echo comes back on it.
func TestMeshGlare(t *testing.T) {
	env := testenv.Require(t)
	addr, bot, room, peers := meshRig(t, env, nil, "amy")
	peers[0].Start(bot)
	zu := env.RegisterUser(t, "zed")
	zc := env.NewCryptoClient(t, zu)
	if _, err := peers[0].User().Client.InviteUser(t.Context(), room, &mautrix.ReqInviteUser{UserID: zu.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := zc.Client.JoinRoomByID(t.Context(), room); err != nil {
		t.Fatal(err)
	}
	zed := callwire.NewPeer(t, zc, pionAPI(t), callwire.PeerConfig{Name: "zed", Room: room})
	zed.LearnBot(bot) // from amy's call, before zed is a member
	zed.Run()
	zed.Join("session-zed-1")
	zed.Call()
	waitFor(t, 60*time.Second, "zed hearing its own packets echoed", func() bool { return zed.Heard().Own > 50 })
	waitFor(t, 30*time.Second, "two connected peers in the admin view", func() bool {
		v := adminGet[meshView](t, addr, "/admin/v1/mesh")
		return len(v.Calls) == 1 && v.Calls[0].State == "connected 2/2 peers"
	})
}
