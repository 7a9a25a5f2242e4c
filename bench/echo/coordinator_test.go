package echo

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/internal/testenv/benchrun"
)

// coordinator is the real coordinator binary, run as a child process.
type coordinator struct {
	addr, admin, token string
	bot                id.UserID
	cmd                *exec.Cmd
}

// startCoordinator builds the coordinator (or takes the binary named by
// SWB_ECHO_COORDINATOR) and runs it with features (calls.features: "echo",
// "record") on every call it joins (all), the echo's delay, minting its own
// tokens for the test environment's service URL; it stops when the
// benchmark ends.
func startCoordinator(b *testing.B, env *testenv.Env, delay time.Duration, features string) *coordinator {
	dir := b.TempDir()
	bin := benchrun.Binary(b, "SWB_ECHO_COORDINATOR", dir)
	bot, pass := env.RegisterAccount(b, "switchboard")
	c := &coordinator{addr: benchrun.FreeAddr(b), admin: benchrun.FreeAddr(b), token: rand.Text() + rand.Text(), bot: bot}
	c.cmd = benchrun.Serve(b, bin, []string{"LIVEKIT_JWT_BIND=" + c.addr, "SWITCHBOARD_ADMIN_BIND=" + c.admin, "SWITCHBOARD_ADMIN_TOKEN=" + c.token,
		"SWITCHBOARD_CALLS_JOIN=all", "SWITCHBOARD_CALLS_FEATURES=" + features, "SWITCHBOARD_CALLS_ECHO_DELAY=" + delay.String(),
		"SWITCHBOARD_LIVEKIT_SERVICE_URL=" + env.ServiceURL,
		"SWITCHBOARD_MATRIX_HOMESERVER_URL=" + env.HSURL, "SWITCHBOARD_MATRIX_SERVER_NAME=" + env.ServerName,
		"SWITCHBOARD_MATRIX_BOT_USER_ID=" + c.bot.String(), "SWITCHBOARD_MATRIX_BOT_PASSWORD=" + pass.Reveal(),
		"SWITCHBOARD_DATA_DIR=" + dir, "SWITCHBOARD_LOG_LEVEL=warn",
		"LIVEKIT_URL=" + env.LKURL, "LIVEKIT_KEY=" + env.LKKey, "LIVEKIT_SECRET=" + env.LKSecret.Reveal(),
		"LIVEKIT_FULL_ACCESS_HOMESERVERS=" + env.ServerName, "LIVEKIT_CS_API_URL_OVERRIDES=" + env.ServerName + "=" + env.HSURL}, c.addr)
	return c
}

// adminGet decodes GET path of the admin API into v.
func (c *coordinator) adminGet(b testing.TB, path string, v any) {
	req, _ := http.NewRequestWithContext(b.Context(), http.MethodGet, "http://"+c.admin+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || json.NewDecoder(res.Body).Decode(v) != nil {
		b.Fatalf("admin API %s: HTTP %d", path, res.StatusCode)
	}
}

// decidedAt is when the supervisor decided to join the room's call (its
// decision's since); zero if it has not.
func (c *coordinator) decidedAt(b testing.TB, room id.RoomID) time.Time {
	return c.since(b, "/admin/v1/supervisor", room, "joined")
}

// connectedAt is when our participant in the room's call last became
// connected to LiveKit; zero if it is not.
func (c *coordinator) connectedAt(b testing.TB, room id.RoomID) time.Time {
	return c.since(b, "/admin/v1/media", room, "connected")
}

// since finds the room's entry in state among the lists of the admin view
// at path (the supervisor's decisions, the media view's calls).
func (c *coordinator) since(b testing.TB, path string, room id.RoomID, state string) time.Time {
	var v map[string][]struct {
		Room   string    `json:"room"`
		RoomID string    `json:"room_id"`
		State  string    `json:"state"`
		Since  time.Time `json:"since"`
	}
	c.adminGet(b, path, &v)
	for _, list := range v {
		for _, e := range list {
			if (e.Room == string(room) || e.RoomID == string(room)) && e.State == state {
				return e.Since
			}
		}
	}
	return time.Time{}
}

// mediaTotals sums the admin media view over every call: frames decrypted
// from participants, frames we sent, frames we dropped or failed.
type mediaTotals struct{ in, out, dropped, failed, noKey uint64 }

func (c *coordinator) media(b testing.TB) mediaTotals {
	var v struct {
		Calls []struct {
			Participants []struct {
				FramesIn        uint64 `json:"frames_in"`
				DecryptFailures uint64 `json:"decrypt_failures"`
				NoKey           uint64 `json:"no_key"`
			} `json:"participants"`
			Outputs []struct {
				FramesOut uint64 `json:"frames_out"`
				Dropped   uint64 `json:"dropped"`
			} `json:"outputs"`
		} `json:"calls"`
	}
	c.adminGet(b, "/admin/v1/media", &v)
	var t mediaTotals
	for _, call := range v.Calls {
		for _, p := range call.Participants {
			t.in, t.failed, t.noKey = t.in+p.FramesIn, t.failed+p.DecryptFailures, t.noKey+p.NoKey
		}
		for _, o := range call.Outputs {
			t.out, t.dropped = t.out+o.FramesOut, t.dropped+o.Dropped
		}
	}
	return t
}

// cpuAndRSS reads the process's CPU time (utime+stime; Linux counts them
// in USER_HZ ticks, 100 per second on this machine) and VmRSS.
func (c *coordinator) cpuAndRSS(b testing.TB) (cpu time.Duration, rssKiB int) {
	u := benchrun.ProcUsage(b, strconv.Itoa(c.cmd.Process.Pid))
	return u.CPU, u.RSSKiB
}
