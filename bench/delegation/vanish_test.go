// Package delegation measures how long a MatrixRTC client that delegated
// its delayed leave to the coordinator stays in its call after it vanishes
// (its process killed: no leave, its LiveKit connection just drops). It
// runs the coordinator binary as `make run` does, with the default
// delegation settings, on the port the test LiveKit sends its webhooks to
// when that port is free (SWB_BENCH_NO_WEBHOOKS=1: never, so departures are
// seen by the sanity check alone).
//
//	scripts/testenv up
//	go test -tags goolm -run '^$' -bench VanishToLeave -benchtime 10x -timeout 30m ./bench/delegation
package delegation

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/internal/testenv/vanish"
)

func TestMain(m *testing.M) {
	vanish.ServeClientIfAsked()
	os.Exit(m.Run())
}

// BenchmarkVanishToLeave runs b.N clients, each in its own call with a
// 1-hour delayed leave handed to the coordinator, kills them all at once
// and reports, over the clients, how long LiveKit took to drop each and
// how long after that its membership was gone.
func BenchmarkVanishToLeave(b *testing.B) {
	env := testenv.Require(b)
	addr, stop := startCoordinator(b, env)
	defer stop() // before the next run of the benchmark wants the port
	calls := make([]*vanish.Call, b.N)
	clients := make([]*vanish.Client, b.N)
	for i := range calls {
		calls[i] = vanish.Join(b, env, addr, time.Hour)
		joined := time.Now()
		clients[i] = vanish.StartClient(b, []string{os.Args[0]}, calls[i])
		vanish.WaitUntil(b, "the coordinator to restart the delayed leave", func() bool { return calls[i].RunningSince(b).After(joined) })
	}
	b.ResetTimer()
	killed := time.Now()
	for _, cl := range clients {
		cl.Kill()
	}
	lkGone, gone := make([]time.Time, b.N), make([]time.Time, b.N)
	vanish.WaitUntil(b, "every membership to be gone", func() bool {
		done := true
		for i, c := range calls {
			if lkGone[i].IsZero() && !c.OnLiveKit(b) {
				lkGone[i] = time.Now()
			}
			if gone[i].IsZero() && !c.Member(b) {
				gone[i] = time.Now()
			}
			done = done && !gone[i].IsZero()
		}
		return done
	})
	b.StopTimer()
	var toLK, afterLK, total []time.Duration
	for i := range calls {
		toLK = append(toLK, lkGone[i].Sub(killed))
		afterLK = append(afterLK, gone[i].Sub(lkGone[i]))
		total = append(total, gone[i].Sub(killed))
	}
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{{"kill-to-livekit-drop", toLK}, {"livekit-drop-to-gone", afterLK}, {"kill-to-gone", total}} {
		p50, p95 := percentile(m.d, 50), percentile(m.d, 95)
		b.ReportMetric(p95.Seconds(), m.name+"-p95-s")
		b.Logf("%-22s n=%d p50 %s p95 %s max %s", m.name, len(m.d), p50, p95, percentile(m.d, 100))
	}
}

func percentile(d []time.Duration, p int) time.Duration {
	s := slices.Sorted(slices.Values(d))
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)].Round(10 * time.Millisecond)
}

// startCoordinator builds and runs the coordinator with the default
// delegation settings and returns its address and how to stop it.
func startCoordinator(b *testing.B, env *testenv.Env) (string, func()) {
	b.Helper()
	dir := b.TempDir()
	bin := filepath.Join(dir, "coordinator")
	build := exec.Command("go", "build", "-tags", "goolm", "-o", bin, "./cmd/coordinator")
	build.Dir = moduleRoot(b)
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	addr := "127.0.0.1:" + env.Var("SWB_SERVICE_PORT")
	if ln, err := net.Listen("tcp", addr); err == nil && os.Getenv("SWB_BENCH_NO_WEBHOOKS") == "" {
		ln.Close()
		b.Logf("coordinator on %s: LiveKit's webhooks reach it", addr)
	} else {
		if err == nil {
			ln.Close()
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		addr = ln.Addr().String()
		ln.Close()
		b.Logf("coordinator on %s, without LiveKit's webhooks", addr)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{"LIVEKIT_JWT_BIND=" + addr, "LIVEKIT_URL=" + env.LKURL, "LIVEKIT_KEY=" + env.LKKey,
		"LIVEKIT_SECRET=" + env.LKSecret.Reveal(), "LIVEKIT_FULL_ACCESS_HOMESERVERS=" + env.ServerName,
		"LIVEKIT_CS_API_URL_OVERRIDES=" + env.ServerName + "=" + env.HSURL,
		"SWITCHBOARD_DATA_DIR=" + dir, "SWITCHBOARD_LOG_LEVEL=warn"}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	vanish.WaitUntil(b, "the coordinator to answer", func() bool {
		res, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == http.StatusOK
	})
	return addr, stop
}

func moduleRoot(b *testing.B) string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		b.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}
