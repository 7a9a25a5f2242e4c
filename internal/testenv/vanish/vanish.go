// Package vanish plays a MatrixRTC client that delegates its delayed leave
// to the coordinator and then vanishes: its process is killed, so its
// LiveKit connection drops without a leave and nothing is sent to Matrix.
// cmd/coordinator's delegation acceptance tests and bench/delegation share
// it. The client runs in a child process (the test binary started again),
// so killing it is what a crash or a closed laptop does.
package vanish

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/lkid"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// The child process learns what to join from these variables (a token on
// the command line would show in ps).
const (
	urlEnv   = "SWB_VANISH_LIVEKIT_URL"
	tokenEnv = "SWB_VANISH_LIVEKIT_TOKEN"
)

// HangGuard bounds every wait: far above any healthy time, it only ends a
// run that hangs.
const HangGuard = 90 * time.Second

// ServeClientIfAsked turns this process into the client when StartClient
// started it: it joins the LiveKit room, prints "connected" and waits to be
// killed. Call it first thing in a helper test or TestMain.
func ServeClientIfAsked() {
	url := os.Getenv(urlEnv)
	if url == "" {
		return
	}
	r, err := lksdk.ConnectToRoomWithToken(url, os.Getenv(tokenEnv), &lksdk.RoomCallback{}, lksdk.WithAutoSubscribe(false))
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("connected")
	_ = r
	select {}
}

// Client is a running client process.
type Client struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// StartClient starts argv (a binary that calls ServeClientIfAsked) as a
// client of the call and returns once it is in the LiveKit room.
func StartClient(t testing.TB, argv []string, c *Call) *Client {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), urlEnv+"="+c.env.LKURL, tokenEnv+"="+c.JWT)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cl := &Client{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(cl.done) }()
	t.Cleanup(cl.Kill)
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case line <- sc.Text():
			default:
			}
		}
	}()
	select {
	case l := <-line:
		if l != "connected" {
			t.Fatalf("client: %s", l)
		}
	case <-time.After(HangGuard):
		t.Fatal("client did not connect")
	}
	return cl
}

// Kill ends the client at once (SIGKILL): no leave, no goodbye.
func (c *Client) Kill() {
	_ = c.cmd.Process.Kill()
	<-c.done
}

// Call is one user's membership in a call of a new room, with a delayed
// leave handed to the coordinator.
type Call struct {
	env      *testenv.Env
	user     *testenv.User
	Room     id.RoomID
	stateKey string
	UserID   string
	DeviceID string
	DelayID  string
	JWT      string
	LKRoom   string // the LiveKit room and identity the client joins as
	Identity string
}

// Join makes a user, a room and its call membership (MatrixRTC session
// form), schedules the membership's delayed leave with delay, gets a
// LiveKit token from the coordinator at addr and delegates the leave to
// it, as Element Call does (/get_token, then /delegate_delayed_leave).
func Join(t testing.TB, env *testenv.Env, addr string, delay time.Duration) *Call {
	t.Helper()
	u := env.RegisterUser(t, "vanish")
	room := env.CreateRoom(t, u)
	dev := u.Client.DeviceID
	c := &Call{env: env, user: u, Room: room, UserID: u.ID.String(), DeviceID: dev.String(),
		stateKey: fmt.Sprintf("_%s_%s_m.call", u.ID, dev),
		LKRoom:   lkid.Room(room.String(), "m.call#ROOM")}
	member := map[string]any{"application": "m.call", "call_id": "", "scope": "m.room", "device_id": dev,
		"focus_active":   map[string]any{"type": "livekit", "focus_selection": "oldest_membership"},
		"foci_preferred": []any{map[string]any{"type": "livekit", "livekit_service_url": "http://" + addr}}}
	if _, err := u.Client.SendStateEvent(t.Context(), room, testenv.MatrixRTCCallMember, c.stateKey, member); err != nil {
		t.Fatal(err)
	}
	leave, err := u.Client.SendStateEvent(t.Context(), room, testenv.MatrixRTCCallMember, c.stateKey, map[string]any{},
		mautrix.ReqSendEvent{UnstableDelay: delay})
	if err != nil || leave.UnstableDelayID == "" {
		t.Fatalf("schedule delayed leave: %v %+v", err, leave)
	}
	c.DelayID = string(leave.UnstableDelayID)
	tok := env.OpenIDToken(t, u)
	common := fmt.Sprintf(`"room_id":%q,"slot_id":"m.call#ROOM","member":{"id":"m-%s","claimed_user_id":%q,"claimed_device_id":%q},"openid_token":{"access_token":%q,"matrix_server_name":%q}`,
		room, dev, u.ID, dev, tok.AccessToken, tok.MatrixServerName)
	var g struct{ JWT string }
	post(t, addr, "/get_token", "{"+common+"}", &g)
	c.JWT = g.JWT
	c.Identity = lkid.Hashed(u.ID.String(), dev.String(), "m-"+dev.String())
	post(t, addr, "/delegate_delayed_leave",
		fmt.Sprintf(`{%s,"delay_id":%q,"delay_timeout":%d}`, common, c.DelayID, delay.Milliseconds()), nil)
	return c
}

func post(t testing.TB, addr, path, body string, out any) {
	t.Helper()
	res, err := http.Post("http://"+addr+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: HTTP %d", path, res.StatusCode)
	}
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
	}
}

// Member reports whether the call membership is still on the homeserver.
func (c *Call) Member(t testing.TB) bool {
	t.Helper()
	var content map[string]any
	err := c.user.Client.StateEvent(t.Context(), c.Room, testenv.MatrixRTCCallMember, c.stateKey, &content)
	if err != nil {
		t.Fatalf("read membership: %v", err)
	}
	return len(content) > 0
}

// RunningSince is when the delayed leave's timer last (re)started, as the
// homeserver lists it (MSC4140 GET delayed_events); zero once it is gone.
func (c *Call) RunningSince(t testing.TB) time.Time {
	t.Helper()
	var resp struct {
		DelayedEvents []struct {
			DelayID      string `json:"delay_id"`
			RunningSince int64  `json:"running_since"`
		} `json:"delayed_events"`
	}
	u := c.user.Client.BuildClientURL("unstable", "org.matrix.msc4140", "delayed_events")
	if _, err := c.user.Client.MakeRequest(t.Context(), http.MethodGet, u, nil, &resp); err != nil {
		t.Fatalf("list delayed events: %v", err)
	}
	for _, e := range resp.DelayedEvents {
		if e.DelayID == c.DelayID {
			return time.UnixMilli(e.RunningSince)
		}
	}
	return time.Time{}
}

// OnLiveKit reports whether LiveKit still has the client's participant.
func (c *Call) OnLiveKit(t testing.TB) bool {
	t.Helper()
	_, err := c.env.RoomService().GetParticipant(t.Context(), &livekit.RoomParticipantIdentity{Room: c.LKRoom, Identity: c.Identity})
	return err == nil
}

// WaitUntil polls ok every 100 ms until it holds and returns when it did;
// it fails the test after HangGuard.
func WaitUntil(t testing.TB, what string, ok func() bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(HangGuard)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Now()
}
