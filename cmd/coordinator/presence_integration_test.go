package main

import (
	"bufio"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/secret"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// The binary is built once per test process (TestMain would be heavier).
var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// coordinatorBinary builds the shipped binary once per test process, for
// tests that must kill it with SIGKILL.
func coordinatorBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "switchboard-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "coordinator")
		cmd := exec.Command("go", "build", "-tags", "goolm", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = errors.New(string(out))
		}
	})
	if binErr != nil {
		t.Fatalf("build coordinator: %v", binErr)
	}
	return binPath
}

// proc is a coordinator running as its own process.
type proc struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

// startProc runs the binary with env and waits until it listens.
func startProc(t *testing.T, env map[string]string) *proc {
	t.Helper()
	env = maps.Clone(env)
	env["LIVEKIT_JWT_BIND"] = "127.0.0.1:0"
	env["SWITCHBOARD_ADMIN_BIND"] = "127.0.0.1:0"
	env["SWITCHBOARD_LOG_FORMAT"] = "json"
	cmd := exec.Command(coordinatorBinary(t), "serve")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var ll listenLog
		for sc.Scan() {
			if addr, ok := ll.line(sc.Bytes()); ok {
				addrc <- addr
			}
			if testing.Verbose() {
				t.Logf("coordinator: %s", sc.Text())
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill(syscall.SIGKILL) })
	select {
	case p.addr = <-addrc:
	case <-p.done:
		t.Fatal("coordinator exited before listening")
	case <-time.After(30 * time.Second):
		t.Fatal("coordinator did not start listening")
	}
	return p
}

func (p *proc) kill(sig syscall.Signal) {
	_ = p.cmd.Process.Signal(sig)
	<-p.done
}

// botEnv registers a bot user and returns the environment of a coordinator
// running as it, with its own data directory.
func botEnv(t *testing.T, env *testenv.Env) (map[string]string, id.UserID) {
	t.Helper()
	bot, pass := env.RegisterAccount(t, "switchboard")
	return map[string]string{
		"SWITCHBOARD_MATRIX_HOMESERVER_URL": env.HSURL, "SWITCHBOARD_MATRIX_SERVER_NAME": env.ServerName,
		"SWITCHBOARD_MATRIX_BOT_USER_ID": bot.String(), "SWITCHBOARD_MATRIX_BOT_PASSWORD": pass.Reveal(),
		"SWITCHBOARD_DATA_DIR": t.TempDir(), "SWITCHBOARD_ADMIN_TOKEN": testAdminToken,
		"LIVEKIT_URL": env.LKURL, "LIVEKIT_KEY": env.LKKey, "LIVEKIT_SECRET": env.LKSecret.Reveal(),
		"LIVEKIT_FULL_ACCESS_HOMESERVERS": env.ServerName,
	}, bot
}

// botMemberships reads the room's call-member state as a client sees it and
// returns the non-empty memberships the bot's user sent, by state key.
func botMemberships(t *testing.T, c *mautrix.Client, room id.RoomID, bot id.UserID) map[string]string {
	t.Helper()
	state, err := c.State(t.Context(), room)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, typ := range []event.Type{testenv.FamedlyCallMember, testenv.MatrixRTCCallMember} {
		for key, evt := range state[typ] {
			if evt.Sender != bot {
				continue
			}
			raw := string(evt.Content.VeryRaw)
			if raw == "{}" || strings.Contains(raw, `"memberships":[]`) {
				continue
			}
			out[typ.Type+"|"+key] = raw
		}
	}
	return out
}

// famedlyJoin posts a Famedly membership for user's device in the room call.
func famedlyJoin(t *testing.T, env *testenv.Env, u *testenv.User, room id.RoomID, device string) {
	t.Helper()
	famedlyJoinAlias(t, env, u, room, device, room.String())
}

// famedlyJoinAlias is famedlyJoin on the LiveKit focus with alias.
func famedlyJoinAlias(t *testing.T, env *testenv.Env, u *testenv.User, room id.RoomID, device, alias string) {
	t.Helper()
	famedlyJoinFocus(t, u, room, device, env.ServiceURL, alias)
}

// famedlyJoinFocus is famedlyJoin on the LiveKit focus of service and alias.
func famedlyJoinFocus(t *testing.T, u *testenv.User, room id.RoomID, device, service, alias string) {
	t.Helper()
	content := map[string]any{"memberships": []any{map[string]any{
		"call_id": "", "application": "m.call", "scope": "m.room",
		"foci_active": []any{map[string]any{"type": "livekit", "livekit_service_url": service, "livekit_alias": alias}},
		"device_id":   device, "expires_ts": time.Now().Add(6 * time.Minute).UnixMilli(), "membershipID": "m-" + device,
	}}}
	if _, err := u.Client.SendStateEvent(t.Context(), room, testenv.FamedlyCallMember, u.ID.String(), content); err != nil {
		t.Fatal(err)
	}
}

// rtcJoin posts a MatrixRTC session-format membership, as Element Call
// writes it, for user's device in the room call; it returns the state key.
func rtcJoin(t *testing.T, env *testenv.Env, u *testenv.User, room id.RoomID, device id.DeviceID) string {
	t.Helper()
	return rtcJoinCall(t, env, u, room, device, "")
}

// rtcJoinCall is rtcJoin for the call callID ("" is the room's call; the
// state key ends in the call id); the membership id is the default,
// "{user}:{device}".
func rtcJoinCall(t *testing.T, env *testenv.Env, u *testenv.User, room id.RoomID, device id.DeviceID, callID string) string {
	t.Helper()
	key := "_" + u.ID.String() + "_" + string(device) + "_m.call" + callID
	session := map[string]any{"application": "m.call", "call_id": callID, "scope": "m.room", "device_id": device,
		"focus_active":   map[string]any{"type": "livekit", "focus_selection": "oldest_membership"},
		"foci_preferred": []any{map[string]any{"type": "livekit", "livekit_service_url": env.ServiceURL}}}
	if _, err := u.Client.SendStateEvent(t.Context(), room, testenv.MatrixRTCCallMember, key, session); err != nil {
		t.Fatal(err)
	}
	return key
}

// TestKilledCoordinatorLeavesCall: the coordinator joins a MatrixRTC call
// (policy "invited"), is killed with SIGKILL, and its membership is gone by
// the homeserver's delayed leave within the delay plus 5 s.
func TestKilledCoordinatorLeavesCall(t *testing.T) {
	env := testenv.Require(t)
	const delay = 6 * time.Second
	cfg, bot := botEnv(t, env)
	cfg["SWITCHBOARD_CALLS_JOIN"] = "invited"
	cfg["SWITCHBOARD_CALLS_MATRIXRTC_LEAVE_DELAY"] = delay.String()
	cfg["SWITCHBOARD_CALLS_MATRIXRTC_LEAVE_RESTART"] = "2s"
	p := startProc(t, cfg)

	alice := env.RegisterUser(t, "alice")
	room := env.CreateRoom(t, alice)
	inviteBot(t, alice, room, bot)
	rtcJoin(t, env, alice, room, "ALICEDEV")
	waitFor(t, 20*time.Second, "the coordinator's membership", func() bool {
		return len(botMemberships(t, alice.Client, room, bot)) == 1
	})
	// Outlive several restarts: the delayed leave must not fire while we live.
	time.Sleep(delay + 2*time.Second)
	if n := len(botMemberships(t, alice.Client, room, bot)); n != 1 {
		t.Fatalf("membership gone while the coordinator ran (%d left)", n)
	}

	p.kill(syscall.SIGKILL)
	killed := time.Now()
	waitFor(t, delay+5*time.Second, "the delayed leave after SIGKILL", func() bool {
		return len(botMemberships(t, alice.Client, room, bot)) == 0
	})
	t.Logf("membership gone %v after SIGKILL (delay %v)", time.Since(killed).Round(100*time.Millisecond), delay)
}

// TestRestartRemovesStaleMembership: a coordinator killed in a Famedly call
// whose delayed leave is far off is restarted with joining off; the restart
// removes the stale membership at once instead of leaving it to the delay.
func TestRestartRemovesStaleMembership(t *testing.T) {
	env := testenv.Require(t)
	cfg, bot := botEnv(t, env)
	cfg["SWITCHBOARD_CALLS_JOIN"] = "all"
	cfg["SWITCHBOARD_CALLS_FAMEDLY_LEAVE_DELAY"] = "5m"
	p, alice, room := famedlyCallWithBot(t, env, cfg, bot)
	waitFor(t, 20*time.Second, "the coordinator's membership", func() bool {
		return len(botMemberships(t, alice.Client, room, bot)) == 1
	})
	p.kill(syscall.SIGKILL)
	if n := len(botMemberships(t, alice.Client, room, bot)); n != 1 {
		t.Fatalf("after SIGKILL: %d memberships, want the stale one", n)
	}

	cfg["SWITCHBOARD_CALLS_JOIN"] = "never"
	startProc(t, cfg)
	waitFor(t, 15*time.Second, "the stale membership removed by the restart", func() bool {
		return len(botMemberships(t, alice.Client, room, bot)) == 0
	})
	// And the old delayed leave was cancelled, not merely outrun.
	asBot := env.Login(t, bot.Localpart(), secret.Value(cfg["SWITCHBOARD_MATRIX_BOT_PASSWORD"]))
	waitFor(t, 10*time.Second, "no delayed event left", func() bool {
		resp, err := asBot.DelayedEvents(t.Context(), &mautrix.ReqDelayedEvents{})
		return err == nil && len(resp.Scheduled) == 0
	})
}

// TestCleanLeaveOnShutdown: SIGTERM makes the coordinator leave its call
// before it exits, in the Famedly dialect, and its admin API showed the seat.
func TestCleanLeaveOnShutdown(t *testing.T) {
	env := testenv.Require(t)
	cfg, bot := botEnv(t, env)
	cfg["SWITCHBOARD_CALLS_JOIN"] = "all"
	p, alice, room := famedlyCallWithBot(t, env, cfg, bot)
	waitFor(t, 20*time.Second, "the coordinator's seat in the admin API", func() bool {
		return ownState(t, p.addr, room) == "joined"
	})
	if n := len(botMemberships(t, alice.Client, room, bot)); n != 1 {
		t.Fatalf("joined seat but %d memberships in the room", n)
	}
	p.kill(syscall.SIGTERM)
	if n := len(botMemberships(t, alice.Client, room, bot)); n != 0 {
		t.Fatalf("after a clean shutdown %d memberships of ours remain", n)
	}
}

// ownState is the state of our first seat in room per the admin API.
func ownState(t *testing.T, addr string, room id.RoomID) string {
	t.Helper()
	v := adminRoomView[struct {
		Own []struct{ State string } `json:"own_memberships"`
	}](t, addr, room)
	if len(v.Own) == 0 {
		return ""
	}
	return v.Own[0].State
}

// famedlyCallWithBot starts the coordinator, and alice in a room with its
// bot, in the room's Famedly call.
func famedlyCallWithBot(t *testing.T, env *testenv.Env, cfg map[string]string, bot id.UserID) (*proc, *testenv.User, id.RoomID) {
	t.Helper()
	p := startProc(t, cfg)
	alice := env.RegisterUser(t, "alice")
	room := env.CreateRoom(t, alice)
	inviteBot(t, alice, room, bot)
	famedlyJoin(t, env, alice, room, "ALICEDEV")
	return p, alice, room
}
