// Package benchrun holds what the benchmarks that run the coordinator
// binary share: building and starting it as a child process, reading a
// process's CPU time and memory from /proc, and the statistics of their
// figures.
package benchrun

import (
	"bufio"
	"cmp"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Binary is the coordinator binary named by the environment variable
// binEnv, or one built from the working tree into dir.
func Binary(tb testing.TB, binEnv, dir string) string {
	if bin := os.Getenv(binEnv); bin != "" {
		return bin
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		tb.Fatal(err)
	}
	bin := filepath.Join(dir, "coordinator")
	build := exec.Command("go", "build", "-tags", "goolm", "-o", bin, "./cmd/coordinator")
	build.Dir = filepath.Dir(strings.TrimSpace(string(out)))
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// Serve runs bin serve with env, passing its stderr on without pion's
// info chatter (server-sdk-go's and pion's loggers reach the process's
// stderr past the coordinator's), until GET /healthz on addr answers 200;
// it is killed when the benchmark ends.
func Serve(tb testing.TB, bin string, env []string, addr string) *exec.Cmd {
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if !strings.Contains(sc.Text(), ` pion.`) || !strings.Contains(sc.Text(), `"level"=0`) {
				fmt.Fprintln(os.Stderr, "coordinator:", sc.Text())
			}
		}
	}()
	tb.Cleanup(func() { _ = cmd.Process.Kill(); <-copied; _ = cmd.Wait() })
	WaitUntil(tb, time.Minute, "the coordinator to answer", func() bool {
		res, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == http.StatusOK
	})
	return cmd
}

// Usage is a process's CPU time and resident memory.
type Usage struct {
	CPU    time.Duration
	RSSKiB int
}

// ProcUsage reads pid's (or "self"'s) CPU time (utime+stime, in USER_HZ
// ticks of 10 ms) and VmRSS from /proc.
func ProcUsage(tb testing.TB, pid string) Usage {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		tb.Fatal(err)
	}
	// utime and stime are the 14th and 15th fields; the command name
	// before them is in parentheses and may hold spaces.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	ut, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	u := Usage{CPU: time.Duration(ut+st) * 10 * time.Millisecond}
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			u.RSSKiB, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return u
}

// FreeAddr is a free loopback TCP address.
func FreeAddr(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// WaitUntil polls ok; only a hang (limit) fails the run.
func WaitUntil(tb testing.TB, limit time.Duration, what string, ok func() bool) {
	tb.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			tb.Fatalf("no %s within %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Steps reads the step counts a load bench goes through from the
// environment variable name (def when unset).
func Steps(tb testing.TB, name, def string) []int {
	var steps []int
	for s := range strings.SplitSeq(cmp.Or(os.Getenv(name), def), ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			tb.Fatalf("%s: %q is not a count", name, s)
		}
		steps = append(steps, n)
	}
	return steps
}

// Slope is the least-squares slope of y over x.
func Slope(x, y []float64) float64 {
	var mx, my float64
	for i := range x {
		mx, my = mx+x[i]/float64(len(x)), my+y[i]/float64(len(x))
	}
	var sxy, sxx float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
	}
	return sxy / sxx
}

// Quantile is the p-th percentile (nearest rank) of sorted samples among
// n, the samples beyond len(sorted) being misses; false when it falls on
// a miss.
func Quantile(sorted []time.Duration, n, p int) (time.Duration, bool) {
	i := max((n*p+99)/100-1, 0)
	if i >= len(sorted) {
		return 0, false
	}
	return sorted[i], true
}

// Sorted is a sorted copy of d.
func Sorted(d []time.Duration) []time.Duration { return slices.Sorted(slices.Values(d)) }
