// Command keydist measures key distribution latency on the real Synapse of
// scripts/testenv: how long a new member of an 8-member MatrixRTC call (the
// coordinator, run from -coordinator, and 7 simulated Element Call devices
// with the js-sdk's key rollout, internal/testenv/callsim) waits for the
// keys of all 8, from just before its membership event is sent until its
// device has decrypted a valid Olm-encrypted key from each. Each joiner
// leaves after its measurement, so every join meets 8 members.
//
// -joins joins come 2 s after the previous joiner left, so the members' keys
// (renewed on that leave) are younger than the js-sdk's 10 s grace and the
// joiner gets the current key. -stale more joins each wait 11 s first, so
// every member makes a new key for everyone instead. It prints p50/p95/max;
// it fails only on functional errors. bench/keydist/run.sh builds and runs
// it; cmd/coordinator's TestKeyDistribution checks the same joins for
// correctness in make test.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/internal/testenv/callsim"
)

func main() {
	bin := flag.String("coordinator", "bin/coordinator", "the coordinator binary to measure")
	joins := flag.Int("joins", 30, "joins within the 10 s key reuse grace")
	stale := flag.Int("stale", 5, "joins after 11 s without a key change")
	flag.Parse()
	if *joins < 1 || *stale < 0 {
		fmt.Fprintln(os.Stderr, "keydist: need -joins >= 1 and -stale >= 0")
		os.Exit(2)
	}
	if !run(func(t testing.TB) { measure(t, *bin, *joins, *stale, os.Stdout) }) {
		os.Exit(1)
	}
}

func measure(t testing.TB, bin string, joins, stale int, out io.Writer) {
	env, err := testenv.Load(testenv.DefaultFile(os.Getenv))
	if err != nil {
		t.Fatalf("test environment (scripts/testenv up): %v", err)
	}
	bot := startCoordinator(t, env, bin)
	call := callsim.NewCall(t, env, bot, joins+stale)
	var times []callsim.JoinTimes
	for i, u := range call.Joiners {
		idle := 2 * time.Second
		if i >= joins {
			idle = 11 * time.Second
		}
		times = append(times, call.Join(t, u, idle))
	}
	report(out, "current key reused (join within 10 s of the last key change)", times[:joins])
	if stale > 0 {
		report(out, "new key for everyone (join after 11 s without a key change)", times[joins:])
	}
}

// startCoordinator registers a bot user and runs the coordinator binary as
// it, joining every call, until the run ends.
func startCoordinator(t testing.TB, env *testenv.Env, bin string) id.UserID {
	bot, pass := env.RegisterAccount(t, "switchboard")
	data, err := os.MkdirTemp("", "keydist-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(data) })
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{"SWITCHBOARD_LOG_FORMAT=json", "LIVEKIT_JWT_BIND=127.0.0.1:0", "SWITCHBOARD_CALLS_JOIN=all",
		"SWITCHBOARD_MATRIX_HOMESERVER_URL=" + env.HSURL, "SWITCHBOARD_MATRIX_SERVER_NAME=" + env.ServerName,
		"SWITCHBOARD_MATRIX_BOT_USER_ID=" + bot.String(), "SWITCHBOARD_MATRIX_BOT_PASSWORD=" + pass.Reveal(),
		"SWITCHBOARD_DATA_DIR=" + data, "LIVEKIT_URL=" + env.LKURL, "LIVEKIT_KEY=" + env.LKKey,
		"LIVEKIT_SECRET=" + env.LKSecret.Reveal(), "LIVEKIT_FULL_ACCESS_HOMESERVERS=" + env.ServerName}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	listening := make(chan struct{}, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var rec struct{ Level, Msg string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "http server listening" {
				listening <- struct{}{}
			} else if rec.Level == "ERROR" {
				fmt.Fprintln(os.Stderr, "coordinator:", sc.Text())
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	select {
	case <-listening:
	case <-exited:
		t.Fatalf("%s exited before listening", bin)
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not start listening", bin)
	}
	return bot
}

// report prints the quantiles of the joins' times.
func report(out io.Writer, what string, times []callsim.JoinTimes) {
	q := func(of func(callsim.JoinTimes) time.Duration) string {
		lat := make([]time.Duration, 0, len(times))
		for _, jt := range times {
			lat = append(lat, of(jt))
		}
		slices.Sort(lat)
		at := func(p float64) time.Duration {
			return lat[min(len(lat)-1, int(p*float64(len(lat))))].Round(time.Millisecond)
		}
		return fmt.Sprintf("p50 %v, p95 %v, max %v", at(0.50), at(0.95), lat[len(lat)-1].Round(time.Millisecond))
	}
	fmt.Fprintf(out, "%s, %d joins into an %d-member MatrixRTC call: all %d keys: %s; the coordinator's key: %s\n",
		what, len(times), callsim.Size, callsim.Size,
		q(func(jt callsim.JoinTimes) time.Duration { return jt.All }),
		q(func(jt callsim.JoinTimes) time.Duration { return jt.Coordinator }))
}
