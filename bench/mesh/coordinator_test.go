package meshbench

import (
	"cmp"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/internal/testenv/benchrun"
)

// coordinator is the real coordinator binary, run as a child process.
type coordinator struct {
	bot id.UserID
	cmd *exec.Cmd
}

// echoDelay is the echo feature's delay (SWB_ECHO_DELAY, default 100ms,
// as bench/echo).
func echoDelay(b *testing.B) time.Duration {
	d, err := time.ParseDuration(cmp.Or(os.Getenv("SWB_ECHO_DELAY"), "100ms"))
	if err != nil {
		b.Fatalf("SWB_ECHO_DELAY: %v", err)
	}
	return d
}

// startCoordinator builds the coordinator (or takes the binary named by
// SWB_MESH_COORDINATOR) and runs it joining every call (all) with the echo
// feature, answering 1:1 calls with the echo test (no cap on their number
// or length within a run), mesh ICE on loopback only; it stops when the
// benchmark ends.
func startCoordinator(b *testing.B, env *testenv.Env, delay time.Duration) *coordinator {
	dir := b.TempDir()
	bin := benchrun.Binary(b, "SWB_MESH_COORDINATOR", dir)
	bot, pass := env.RegisterAccount(b, "switchboard")
	addr := benchrun.FreeAddr(b)
	cmd := benchrun.Serve(b, bin, []string{"LIVEKIT_JWT_BIND=" + addr, "SWITCHBOARD_ADMIN_BIND=" + benchrun.FreeAddr(b),
		"SWITCHBOARD_CALLS_JOIN=all", "SWITCHBOARD_CALLS_FEATURES=echo", "SWITCHBOARD_CALLS_ECHO_DELAY=" + delay.String(),
		"SWITCHBOARD_CALLS_DIRECT=echo", "SWITCHBOARD_CALLS_DIRECT_MAX=1000", "SWITCHBOARD_CALLS_DIRECT_MAX_DURATION=24h",
		"SWITCHBOARD_MESH_LOOPBACK_ONLY=true",
		"SWITCHBOARD_LIVEKIT_SERVICE_URL=" + env.ServiceURL,
		"SWITCHBOARD_MATRIX_HOMESERVER_URL=" + env.HSURL, "SWITCHBOARD_MATRIX_SERVER_NAME=" + env.ServerName,
		"SWITCHBOARD_MATRIX_BOT_USER_ID=" + bot.String(), "SWITCHBOARD_MATRIX_BOT_PASSWORD=" + pass.Reveal(),
		"SWITCHBOARD_DATA_DIR=" + dir, "SWITCHBOARD_LOG_LEVEL=" + cmp.Or(os.Getenv("SWB_MESH_LOG_LEVEL"), "warn"),
		"LIVEKIT_URL=" + env.LKURL, "LIVEKIT_KEY=" + env.LKKey, "LIVEKIT_SECRET=" + env.LKSecret.Reveal(),
		"LIVEKIT_FULL_ACCESS_HOMESERVERS=" + env.ServerName, "LIVEKIT_CS_API_URL_OVERRIDES=" + env.ServerName + "=" + env.HSURL}, addr)
	return &coordinator{bot: bot, cmd: cmd}
}

func (c *coordinator) usage(b testing.TB) benchrun.Usage {
	return benchrun.ProcUsage(b, strconv.Itoa(c.cmd.Process.Pid))
}

// loadAvg is the machine's 1-minute load average, for the write-up.
func loadAvg() string {
	s, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(s))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
