// Package echo measures the coordinator as a media participant in LiveKit
// calls, running its echo feature (#12). It builds the coordinator and runs
// it against the test Synapse and LiveKit (SWITCHBOARD_CALLS_JOIN=all,
// SWITCHBOARD_CALLS_FEATURES=echo, the echo delay from SWB_ECHO_DELAY,
// default 100ms, minting its own tokens). The other side is a participant
// written with server-sdk-go and its own frame crypto (frame-e2ee.md),
// keyed over Olm by a test Matrix device as Element Call would be;
// BenchmarkPageEchoRoundTrip puts a real Chromium page there instead.
// SWB_ECHO_COORDINATOR names a coordinator binary to run instead of
// building the working tree's. It has only benchmarks, so go test (and
// make test) never runs it:
//
//	scripts/testenv up
//	go test -v -tags goolm -run '^$' -bench JoinToEcho -benchtime 20x -timeout 30m ./bench/echo
//	SWB_ECHO_CALLS=1,5,10,20 go test -v -tags goolm -run '^$' -bench EchoLoad -benchtime 1x -timeout 30m ./bench/echo
//	go test -v -tags goolm -run '^$' -bench PageEchoRoundTrip -benchtime 30x -timeout 30m ./bench/echo
package echo

import (
	"cmp"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/internal/testenv/benchrun"
)

// hang bounds each wait: past it the run is broken, not slow.
const hang = time.Minute

func echoDelay(b *testing.B) time.Duration {
	d, err := time.ParseDuration(cmp.Or(os.Getenv("SWB_ECHO_DELAY"), "100ms"))
	if err != nil {
		b.Fatalf("SWB_ECHO_DELAY: %v", err)
	}
	return d
}

// BenchmarkJoinToEcho runs b.N calls, one after another, each in a fresh
// room: the participant is in LiveKit, publishing, before the call has
// members; the clock starts just before its membership event is sent
// (what makes the supervisor join) and stops when the first of its frames
// comes back from the bot and decrypts with the bot's key. Each call then
// echoes for 3 s more: the round trip of every frame sent after the first
// came back, marked with a counter, from just before its WriteSample to
// its arrival, decrypted. From the admin API it also reports the time
// from the supervisor's decision to join (GET /admin/v1/supervisor, the
// decision's since) to the first echo and to our participant connected to
// LiveKit (GET /admin/v1/media, the call's since); the coordinator and the
// bench share the machine's clock.
func BenchmarkJoinToEcho(b *testing.B) {
	env := testenv.Require(b)
	delay := echoDelay(b)
	co := startCoordinator(b, env, delay, "echo")
	cr := newCaller(b, env, co)
	var join, fromDecision, toConnected, rtt []time.Duration
	for range b.N {
		cl := cr.open(b)
		cr.join(b, cl)
		benchrun.WaitUntil(b, hang, "echo", func() bool { return !cl.p.firstEcho().IsZero() })
		first := cl.p.firstEcho()
		join = append(join, first.Sub(cl.joinStart))
		if d, lk := co.decidedAt(b, cl.room), co.connectedAt(b, cl.room); !d.IsZero() && !lk.IsZero() {
			fromDecision = append(fromDecision, first.Sub(d))
			toConnected = append(toConnected, lk.Sub(d))
		}
		time.Sleep(3 * time.Second)
		rtt = append(rtt, cl.p.roundTrips()...)
		sent, echoed, failed := cl.p.counts()
		b.Logf("call %s: first echo %v after the membership was sent; %d frames sent, %d echoed, %d not ours",
			cl.room, first.Sub(cl.joinStart).Round(time.Millisecond), sent, echoed, failed)
		cr.leave(b, cl)
	}
	b.Logf("echo delay %v", delay)
	report(b, "membership-sent-to-first-echo", join)
	report(b, "decision-to-first-echo", fromDecision)
	report(b, "decision-to-livekit-connected", toConnected)
	report(b, "round-trip", rtt)
	minusDelay := make([]time.Duration, len(rtt))
	for i, d := range rtt {
		minusDelay[i] = d - delay
	}
	report(b, "round-trip-minus-delay", minusDelay)
}

// BenchmarkEchoLoad holds calls at once, stepping up through the counts in
// SWB_ECHO_CALLS (default 1,5,10,20), each call with one participant
// sending 50 frames/s to the echo. At each step (and with no call, first)
// it waits 2 s, then reads the coordinator's CPU time, resident memory and
// frame counters over a 10 s window.
func BenchmarkEchoLoad(b *testing.B) {
	env := testenv.Require(b)
	steps := benchrun.Steps(b, "SWB_ECHO_CALLS", "1,5,10,20")
	delay := echoDelay(b)
	co := startCoordinator(b, env, delay, "echo")
	cr := newCaller(b, env, co)
	var calls []*call
	defer func() {
		for _, cl := range calls {
			cr.leave(b, cl)
		}
	}()
	const window = 10 * time.Second
	b.Logf("echo delay %v; %v windows", delay, window)
	b.Logf("%5s %7s %8s %8s %8s %8s %9s %8s %7s", "calls", "cpu%", "rss-MiB", "sent/s", "in/s", "out/s", "echoed/s", "dropped", "failed")
	var ns, cpus, rsss []float64
	for _, n := range append([]int{0}, steps...) {
		for len(calls) < n {
			cl := cr.open(b)
			cr.join(b, cl)
			benchrun.WaitUntil(b, hang, "echo", func() bool { return !cl.p.firstEcho().IsZero() })
			calls = append(calls, cl)
		}
		time.Sleep(2 * time.Second)
		cpu0, _ := co.cpuAndRSS(b)
		m0 := co.media(b)
		s0, e0 := totals(calls)
		start := time.Now()
		time.Sleep(window)
		cpu1, rss := co.cpuAndRSS(b)
		m1 := co.media(b)
		s1, e1 := totals(calls)
		secs := time.Since(start).Seconds()
		cpu, mib := 100*(cpu1-cpu0).Seconds()/secs, float64(rss)/1024
		b.Logf("%5d %7.1f %8.1f %8.0f %8.0f %8.0f %9.0f %8d %7d", n, cpu, mib, float64(s1-s0)/secs,
			float64(m1.in-m0.in)/secs, float64(m1.out-m0.out)/secs, float64(e1-e0)/secs,
			m1.dropped-m0.dropped, m1.failed+m1.noKey-m0.failed-m0.noKey)
		if n > 0 {
			ns, cpus, rsss = append(ns, float64(n)), append(cpus, cpu), append(rsss, mib)
		}
	}
	if len(ns) > 1 {
		cpu, rss := benchrun.Slope(ns, cpus), benchrun.Slope(ns, rsss)
		b.ReportMetric(cpu, "cpu%-per-call")
		b.ReportMetric(rss, "rss-MiB-per-call")
		b.Logf("per call (least-squares slope over %v calls): %.2f%% of a core, %.2f MiB resident", ns, cpu, rss)
	}
}

// totals adds up the participants' frames sent and echoed back.
func totals(calls []*call) (sent, echoed uint64) {
	for _, cl := range calls {
		s, e, _ := cl.p.counts()
		sent, echoed = sent+s, echoed+e
	}
	return sent, echoed
}

// report logs p50/p95/max of d and reports its p95 in ms.
func report(b *testing.B, name string, d []time.Duration) {
	if len(d) == 0 {
		b.Logf("%s: no samples", name)
		return
	}
	s := slices.Sorted(slices.Values(d))
	at := func(p int) time.Duration { return s[max((len(s)*p+99)/100-1, 0)].Round(time.Millisecond) }
	b.ReportMetric(float64(at(95).Microseconds())/1000, name+"-p95-ms")
	b.Logf("%-30s n=%d p50 %v p95 %v max %v", name, len(s), at(50), at(95), s[len(s)-1].Round(time.Millisecond))
}
