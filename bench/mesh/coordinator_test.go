package meshbench

import (
	"bufio"
	"cmp"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
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
	bin := os.Getenv("SWB_MESH_COORDINATOR")
	if bin == "" {
		bin = filepath.Join(dir, "coordinator")
		build := exec.Command("go", "build", "-tags", "goolm", "-o", bin, "./cmd/coordinator")
		build.Dir = moduleRoot(b)
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("build: %v\n%s", err, out)
		}
	}
	bot, pass := env.RegisterAccount(b, "switchboard")
	addr := freeAddr(b)
	c := &coordinator{bot: bot, cmd: exec.Command(bin, "serve")}
	c.cmd.Env = []string{"LIVEKIT_JWT_BIND=" + addr, "SWITCHBOARD_ADMIN_BIND=" + freeAddr(b),
		"SWITCHBOARD_CALLS_JOIN=all", "SWITCHBOARD_CALLS_FEATURES=echo", "SWITCHBOARD_CALLS_ECHO_DELAY=" + delay.String(),
		"SWITCHBOARD_CALLS_DIRECT=echo", "SWITCHBOARD_CALLS_DIRECT_MAX=1000", "SWITCHBOARD_CALLS_DIRECT_MAX_DURATION=24h",
		"SWITCHBOARD_MESH_LOOPBACK_ONLY=true",
		"SWITCHBOARD_LIVEKIT_SERVICE_URL=" + env.ServiceURL,
		"SWITCHBOARD_MATRIX_HOMESERVER_URL=" + env.HSURL, "SWITCHBOARD_MATRIX_SERVER_NAME=" + env.ServerName,
		"SWITCHBOARD_MATRIX_BOT_USER_ID=" + bot.String(), "SWITCHBOARD_MATRIX_BOT_PASSWORD=" + pass.Reveal(),
		"SWITCHBOARD_DATA_DIR=" + dir, "SWITCHBOARD_LOG_LEVEL=" + cmp.Or(os.Getenv("SWB_MESH_LOG_LEVEL"), "warn"),
		"LIVEKIT_URL=" + env.LKURL, "LIVEKIT_KEY=" + env.LKKey, "LIVEKIT_SECRET=" + env.LKSecret.Reveal(),
		"LIVEKIT_FULL_ACCESS_HOMESERVERS=" + env.ServerName, "LIVEKIT_CS_API_URL_OVERRIDES=" + env.ServerName + "=" + env.HSURL}
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		// Pion's info chatter is dropped; the coordinator's warnings pass.
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if !strings.Contains(sc.Text(), ` pion.`) || !strings.Contains(sc.Text(), `"level"=0`) {
				fmt.Fprintln(os.Stderr, "coordinator:", sc.Text())
			}
		}
	}()
	b.Cleanup(func() { _ = c.cmd.Process.Kill(); <-copied; _ = c.cmd.Wait() })
	waitUntil(b, time.Minute, "the coordinator to answer", func() bool {
		res, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == http.StatusOK
	})
	return c
}

// usage is a process's CPU time and resident memory.
type usage struct {
	cpu    time.Duration
	rssKiB int
}

// procUsage reads pid's (or "self") CPU time (utime+stime, in USER_HZ
// ticks of 10 ms) and VmRSS from /proc.
func procUsage(b testing.TB, pid string) usage {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	// utime and stime are the 14th and 15th fields; the command name
	// before them is in parentheses and may hold spaces.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	ut, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	u := usage{cpu: time.Duration(ut+st) * 10 * time.Millisecond}
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			u.rssKiB, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return u
}

func (c *coordinator) usage(b testing.TB) usage { return procUsage(b, strconv.Itoa(c.cmd.Process.Pid)) }

// loadAvg is the machine's 1-minute load average, for the write-up.
func loadAvg() string {
	s, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(s))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

func freeAddr(b testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func moduleRoot(b testing.TB) string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		b.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// waitUntil polls ok; only a hang (limit) fails the run.
func waitUntil(b testing.TB, limit time.Duration, what string, ok func() bool) {
	b.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			b.Fatalf("no %s within %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
