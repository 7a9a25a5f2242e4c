package main

import (
	"maps"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
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
		p.start(bot)
	}
	zed := peers[2]
	for _, p := range peers {
		waitFor(t, 60*time.Second, p.name+" hearing its own packets echoed", func() bool { return p.heardOwn.Load() > 50 })
	}
	waitFor(t, 30*time.Second, "the admin view showing three connected peers", func() bool {
		v := adminGet[meshView](t, addr, "/admin/v1/mesh")
		return len(v.Calls) == 1 && v.Calls[0].State == "connected 3/3 peers"
	})
	for _, p := range peers {
		if n := p.heardForeign.Load(); n != 0 {
			t.Errorf("%s heard %d packets of another device: the echo must go to its sender only", p.name, n)
		}
	}

	// A stale session: zed rejoins with a new membershipID.
	zed.mu.Lock()
	old := zed.callID
	zed.mu.Unlock()
	zed.join("session-zed-2")
	deadline := time.After(60 * time.Second)
	for hungUp := false; !hungUp; {
		select {
		case id := <-zed.hangups:
			hungUp = id == old
		case <-deadline:
			t.Fatalf("the bot did not hang up zed's call of the old session")
		}
	}
	zed.heardOwn.Store(0)
	waitFor(t, 60*time.Second, "zed's new session called and echoed", func() bool {
		zed.mu.Lock()
		defer zed.mu.Unlock()
		return zed.callID != old && zed.heardOwn.Load() > 50
	})
	if n := zed.heardForeign.Load(); n != 0 {
		t.Errorf("zed heard %d packets of another device", n)
	}
}

// meshRig starts the coordinator (calls.join all, echo, loopback-only ICE)
// and makes one mesh peer per name, all in one encrypted room with the bot,
// each joined to its mesh call with session "session-NAME-1".
func meshRig(t *testing.T, env *testenv.Env, extra map[string]string, names ...string) (addr string, bot id.UserID, room id.RoomID, peers []*meshPeer) {
	t.Helper()
	cfg, bot := botEnv(t, env)
	maps.Copy(cfg, extra)
	cfg["SWITCHBOARD_CALLS_JOIN"] = "all"
	if cfg["SWITCHBOARD_CALLS_FEATURES"] == "" {
		cfg["SWITCHBOARD_CALLS_FEATURES"] = "echo"
	}
	cfg["SWITCHBOARD_CALLS_ECHO_DELAY"] = "1ms"
	cfg["SWITCHBOARD_MESH_LOOPBACK_ONLY"] = "true"
	addr, _ = startServe(t, cfg)
	for _, name := range names {
		peers = append(peers, newMeshPeer(t, env, name, env.RegisterUser(t, name)))
	}
	others := make([]*testenv.User, 0, len(peers)-1)
	for _, p := range peers[1:] {
		others = append(others, p.cc.User)
	}
	room = env.CreateEncryptedRoom(t, peers[0].cc, others...)
	inviteBot(t, peers[0].cc.User, room, bot)
	for _, p := range peers {
		p.room = room
		p.join("session-" + p.name + "-1")
	}
	return addr, bot, room, peers
}

// start learns the bot's device and session, runs the peer and plays;
// a peer whose key is smaller than the bot's calls it.
func (p *meshPeer) start(bot id.UserID) {
	p.t.Helper()
	p.learnBot(bot)
	p.run()
	p.play()
	if p.key() < bot.String()+":"+string(p.botDevice) {
		p.call()
	}
}

// TestMeshEarlyCandidates (#14): a device sends its candidates before its
// invite, none in its offer, and ignores the bot's: the bot holds the
// early candidates until the invite comes, and the call connects with
// them (the echo comes back).
func TestMeshEarlyCandidates(t *testing.T) {
	env := testenv.Require(t)
	_, bot, _, peers := meshRig(t, env, nil, "amy")
	amy := peers[0]
	amy.early = true
	amy.start(bot)
	waitFor(t, 60*time.Second, "amy hearing her own packets echoed", func() bool { return amy.heardOwn.Load() > 50 })
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
	amy.start(bot)
	waitFor(t, 60*time.Second, "amy hearing the announce sound and her echo", func() bool {
		return amy.heardUnmarked.Load() > 50 && amy.heardOwn.Load() > 50
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
	amy.start(bot)
	waitFor(t, 60*time.Second, "amy's audio written by the recorder", func() bool {
		n, _ := recordLineStats(t, addr, amy.key(), "audio")["written"].(float64)
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
	peers[0].start(bot)
	zed := newMeshPeer(t, env, "zed", env.RegisterUser(t, "zed"))
	if _, err := peers[0].cc.Client.InviteUser(t.Context(), room, &mautrix.ReqInviteUser{UserID: zed.cc.User.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := zed.cc.Client.JoinRoomByID(t.Context(), room); err != nil {
		t.Fatal(err)
	}
	zed.room = room
	zed.learnBot(bot) // from amy's call, before zed is a member
	zed.run()
	zed.play()
	zed.join("session-zed-1")
	zed.call()
	waitFor(t, 60*time.Second, "zed hearing its own packets echoed", func() bool { return zed.heardOwn.Load() > 50 })
	waitFor(t, 30*time.Second, "two connected peers in the admin view", func() bool {
		v := adminGet[meshView](t, addr, "/admin/v1/mesh")
		return len(v.Calls) == 1 && v.Calls[0].State == "connected 2/2 peers"
	})
}
