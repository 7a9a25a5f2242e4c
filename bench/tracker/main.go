// Command tracker measures the membership tracker on one process: how fast
// it ingests a sync's worth of call-member events spread over many rooms,
// and how much resident memory the resulting state takes. It builds the
// events first, feeds them in sync-sized batches, waits until all are
// applied, then drops its own copies of the events and reads VmRSS and
// VmHWM from /proc/self/status (Linux only). Run it with GOMAXPROCS=1 for the one-core
// figure (bench/tracker/run.sh does).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/membership"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tracker bench:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("tracker", flag.ContinueOnError)
	rooms := fs.Int("rooms", 10_000, "rooms")
	devices := fs.Int("devices", 10, "devices (one user each) per room")
	events := fs.Int("events", 100_000, "events to ingest; past rooms×devices they rewrite members already there")
	batch := fs.Int("batch", 100, "events per IngestBatch, as one sync delivers them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rooms < 1 || *devices < 1 || *events < 1 || *batch < 1 {
		return errors.New("every count must be at least 1")
	}
	before, err := procStatus()
	if err != nil {
		return err
	}
	ups := buildUpdates(*rooms, *devices, min(*events, *rooms**devices), time.Now().Add(time.Hour))

	tr := membership.NewTracker(nil, membership.SystemClock{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()

	cpu0, err := cpuTime()
	if err != nil {
		return err
	}
	start := time.Now()
	for i := 0; i < *events; i += *batch {
		b := make([]membership.Update, 0, *batch)
		for k := i; k < min(i+*batch, *events); k++ {
			b = append(b, ups[k%len(ups)])
		}
		if err := tr.IngestBatch(ctx, b); err != nil {
			return err
		}
	}
	if err := tr.Flush(ctx); err != nil {
		return err
	}
	elapsed := time.Since(start)
	cpu1, err := cpuTime()
	if err != nil {
		return err
	}
	want := len(ups)

	// Only the tracker holds the events now.
	ups = nil
	runtime.GC()
	debug.FreeOSMemory()
	after, err := procStatus()
	if err != nil {
		return err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)

	snap, err := tr.Snapshot(ctx)
	if err != nil {
		return err
	}
	if len(snap) != want {
		return fmt.Errorf("tracker holds %d members, want %d", len(snap), want)
	}
	cancel()
	if err := <-done; err != nil {
		return err
	}
	fmt.Fprintf(out, "events %d over %d rooms × %d devices, batches of %d, GOMAXPROCS=%d\n",
		*events, *rooms, *devices, *batch, runtime.GOMAXPROCS(0))
	fmt.Fprintf(out, "ingest   %v, %.0f events/s; %v of CPU (user+sys, every thread), %.0f events per CPU-second\n",
		elapsed.Round(time.Millisecond), float64(*events)/elapsed.Seconds(),
		(cpu1 - cpu0).Round(time.Millisecond), float64(*events)/(cpu1-cpu0).Seconds())
	fmt.Fprintf(out, "members  %d held\n", want)
	fmt.Fprintf(out, "VmRSS    %.1f MiB holding the state (%.1f MiB before building the events)\n", mib(after["VmRSS"]), mib(before["VmRSS"]))
	fmt.Fprintf(out, "VmHWM    %.1f MiB peak, including the events as built and the garbage of ingest\n", mib(after["VmHWM"]))
	fmt.Fprintf(out, "Go heap  %.1f MiB live, %.1f MiB in use, %.1f MiB from the OS\n",
		float64(ms.HeapAlloc)/(1<<20), float64(ms.HeapInuse)/(1<<20), float64(ms.Sys)/(1<<20))
	return nil
}

// buildUpdates makes n one-member Famedly events, devices per room in turn
// (room r, device d), each device under its own state key as Element Call
// writes them.
func buildUpdates(rooms, devices, n int, exp time.Time) []membership.Update {
	ups := make([]membership.Update, 0, n)
	for r := range rooms {
		room := id.RoomID(fmt.Sprintf("!room%d:example.org", r))
		call := membership.CallKey{Room: room, Application: "m.call", Scope: "m.room"}
		for d := range devices {
			if len(ups) == n {
				return ups
			}
			user := id.UserID(fmt.Sprintf("@user%d:example.org", d))
			dev := id.DeviceID(fmt.Sprintf("DEV%d", d))
			ups = append(ups, membership.Update{
				Source: membership.Source{Room: room, EventType: membership.FamedlyEventType, StateKey: fmt.Sprintf("_%s_%s", user, dev)},
				Members: []membership.Member{{Dialect: membership.DialectFamedly, Call: call, UserID: user, DeviceID: dev,
					MembershipID: "x", StateKey: fmt.Sprintf("_%s_%s", user, dev), ExpiresAt: exp}},
			})
		}
	}
	return ups
}

// procStatus reads the kB-valued lines of /proc/self/status (VmRSS, VmHWM).
func procStatus() (map[string]int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil, fmt.Errorf("read resident size: %w", err)
	}
	defer f.Close()
	vals := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		var kb int64
		if ok && strings.HasSuffix(rest, " kB") {
			if _, err := fmt.Sscan(strings.TrimSuffix(rest, " kB"), &kb); err == nil {
				vals[name] = kb
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read resident size: %w", err)
	}
	return vals, nil
}

// cpuTime is the CPU time the process has used so far: on a shared machine
// it says what the work costs better than the wall clock does.
func cpuTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("read CPU time: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

func mib(kb int64) float64 { return float64(kb) / 1024 }
