package main

import (
	"testing"
	"time"

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
	cfg, bot := botEnv(t, env)
	cfg["SWITCHBOARD_CALLS_JOIN"] = "all"
	cfg["SWITCHBOARD_CALLS_FEATURES"] = "echo"
	cfg["SWITCHBOARD_CALLS_ECHO_DELAY"] = "1ms"
	cfg["SWITCHBOARD_MESH_LOOPBACK_ONLY"] = "true"
	addr, _ := startServe(t, cfg)

	alice := newMeshPeer(t, env, "alice", env.RegisterUser(t, "alice"))
	bob := newMeshPeer(t, env, "bob", env.RegisterUser(t, "bob"))
	zed := newMeshPeer(t, env, "zed", env.RegisterUser(t, "zed")) // "@zed" > "@switchboard": the bot calls
	room := env.CreateEncryptedRoom(t, alice.cc, bob.cc.User, zed.cc.User)
	inviteBot(t, alice.cc.User, room, bot)
	peers := []*meshPeer{alice, bob, zed}
	for _, p := range peers {
		p.room = room
		p.join("session-" + p.name + "-1")
	}
	for _, p := range peers {
		p.learnBot(bot)
		p.run()
		p.play()
		if p.key() < bot.String()+":"+string(p.botDevice) {
			p.call()
		}
	}
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
