// Package meshbench measures the coordinator carrying Famedly mesh group
// calls and 1:1 calls to the bot (#14) with its echo feature. It runs the
// real coordinator binary as a child process against the test Synapse and
// LiveKit (SWITCHBOARD_CALLS_JOIN=all, SWITCHBOARD_CALLS_FEATURES=echo, the
// echo delay from SWB_ECHO_DELAY, default 100ms, calls.direct echo,
// SWITCHBOARD_MESH_LOOPBACK_ONLY). The other side is independent test
// devices written with pion and the test Olm devices of internal/testenv
// (internal/testenv/callwire), speaking the wire JSON of famedly-voip.md;
// nothing here imports mesh/.
// SWB_MESH_COORDINATOR names a coordinator binary to run instead of
// building the working tree's. It has only benchmarks, so go test (and
// make test) never runs it:
//
//	scripts/testenv up
//	go test -v -tags goolm -run '^$' -bench MeshFirstAudio -benchtime 20x -timeout 30m ./bench/mesh
//	SWB_MESH_PEERS=3,6,12,24 go test -v -tags goolm -run '^$' -bench MeshLoad -benchtime 1x -timeout 30m ./bench/mesh
//	SWB_DIRECT_CALLS=10,25,50,75 go test -v -tags goolm -run '^$' -bench DirectEchoLoad -benchtime 1x -timeout 60m ./bench/mesh
package meshbench

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/internal/testenv/benchrun"
	"github.com/switchboard-rtc/switchboard/internal/testenv/callwire"
)

// hang bounds each wait: past it the run is broken, not slow.
const hang = time.Minute

// meshNames are the three devices of a mesh room with the bot: "ann" and
// "ben" sort before "@switchboard" and call the bot, the bot calls "zoe".
var meshNames = []string{"ann", "ben", "zoe"}

// BenchmarkMeshFirstAudio runs b.N 4-device mesh calls one after another,
// each in a fresh encrypted room: the coordinator and three test devices.
// All three send their memberships at once; each device's clock starts
// just before its membership is sent and stops when the first of its own
// packets comes back from the bot's echo. The devices wait for the bot's
// membership (polling the room state every 10 ms), then two place their
// call to the bot and the bot calls the third; their syncs long-poll
// 50 ms at a time and their sends wait for the sync (at most 50 ms per
// signal on the devices' side).
func BenchmarkMeshFirstAudio(b *testing.B) {
	env := testenv.Require(b)
	delay := echoDelay(b)
	co := startCoordinator(b, env, delay)
	api := pionAPI(b)
	ccs := make([]*testenv.CryptoClient, len(meshNames))
	for i, name := range meshNames {
		ccs[i] = env.NewCryptoClient(b, env.RegisterUser(b, name))
	}
	// A device that hears nothing within missAfter is counted as a miss
	// (the p95 shows it), not waited for.
	const missAfter = 20 * time.Second
	firsts := map[bool][]time.Duration{}
	misses := map[bool]int{}
	var toBot []time.Duration
	for i := range b.N {
		room := meshRoom(b, env, co, ccs)
		peers := make([]*callwire.Peer, len(ccs))
		joined := make([]time.Time, len(ccs)) // just before the membership was sent
		for j, cc := range ccs {
			peers[j] = callwire.NewPeer(b, cc, api, callwire.PeerConfig{Name: meshNames[j], Room: room, Poll: 50 * time.Millisecond})
			joined[j] = time.Now()
			peers[j].Join(fmt.Sprintf("s%d-%s", i, meshNames[j]))
		}
		for j, p := range peers {
			p.LearnBot(co.bot)
			if j == 0 {
				toBot = append(toBot, time.Since(joined[0]))
			}
			p.Run()
			if p.Calling() {
				p.Call()
			}
		}
		var line []string
		for j, p := range peers {
			if !waitEcho(p, missAfter) {
				misses[p.Calling()]++
				line = append(line, fmt.Sprintf("%s none within %v (%s)", p.Name(), missAfter, p.State()))
				continue
			}
			d := p.Voice().FirstEcho().Sub(joined[j])
			firsts[p.Calling()] = append(firsts[p.Calling()], d)
			line = append(line, fmt.Sprintf("%s %v", p.Name(), d.Round(time.Millisecond)))
		}
		b.Logf("call %d (%s): membership sent to first echo: %s; load %s", i+1, room, strings.Join(line, ", "), loadAvg())
		for _, p := range peers {
			stop(p)
		}
	}
	b.Logf("echo delay %v (included in the times)", delay)
	report(b, "membership-to-first-echo", append(firsts[true], firsts[false]...), misses[true]+misses[false], missAfter)
	report(b, "device-calling-bot", firsts[true], misses[true], missAfter)
	report(b, "device-called-by-bot", firsts[false], misses[false], missAfter)
	report(b, "first-membership-to-bot-membership-seen", toBot, 0, 0)
}

// BenchmarkMeshLoad holds mesh calls of three devices each (rooms as
// BenchmarkMeshFirstAudio's), stepping the number of devices, each one
// peer connection with the bot, through SWB_MESH_PEERS (default
// 3,6,12,24; multiples of 3). At each step (and with none, first) it waits
// 2 s, then reads the coordinator's CPU time, resident memory and the
// devices' packets sent and echoed over a 10 s window.
func BenchmarkMeshLoad(b *testing.B) {
	env := testenv.Require(b)
	steps := benchrun.Steps(b, "SWB_MESH_PEERS", "3,6,12,24")
	co := startCoordinator(b, env, echoDelay(b))
	api := pionAPI(b)
	var peers []*callwire.Peer
	defer func() {
		for _, p := range peers {
			stop(p)
		}
	}()
	voices := func() []*callwire.Voice {
		vs := make([]*callwire.Voice, len(peers))
		for i, p := range peers {
			vs[i] = p.Voice()
		}
		return vs
	}
	var ns, cpus, rsss []float64
	logHeader(b, "peers")
	for _, n := range append([]int{0}, steps...) {
		for len(peers) < n {
			ccs := make([]*testenv.CryptoClient, len(meshNames))
			for i, name := range meshNames {
				ccs[i] = env.NewCryptoClient(b, env.RegisterUser(b, name))
			}
			room := meshRoom(b, env, co, ccs)
			room3 := make([]*callwire.Peer, len(ccs))
			for i, cc := range ccs {
				room3[i] = callwire.NewPeer(b, cc, api, callwire.PeerConfig{Name: meshNames[i], Room: room, Poll: time.Second})
				room3[i].Join("s-" + meshNames[i])
			}
			for _, p := range room3 {
				p.Start(co.bot)
			}
			for _, p := range room3 {
				// A call that got no answer is placed again (a dropped
				// invite would else hold the setup up for its lifetime).
				for try := 1; !waitEcho(p, 10*time.Second); try++ {
					if try == 3 || !p.Calling() {
						b.Fatalf("no echo: %s", p.State())
					}
					b.Logf("%s: no echo within 10 s (%s): calling again", p.Name(), p.State())
					p.Call()
				}
			}
			peers = append(peers, room3...)
		}
		cpu, mib := measure(b, co, n, voices())
		if n > 0 {
			ns, cpus, rsss = append(ns, float64(n)), append(cpus, cpu), append(rsss, mib)
		}
	}
	reportSlopes(b, "peer", ns, cpus, rsss)
}

// BenchmarkDirectEchoLoad holds 1:1 echo calls to the bot, each a test
// user calling it in its own encrypted DM and sending 50 packets/s,
// stepping through SWB_DIRECT_CALLS (default 10,25,50,75). Windows as
// BenchmarkMeshLoad's.
func BenchmarkDirectEchoLoad(b *testing.B) {
	env := testenv.Require(b)
	steps := benchrun.Steps(b, "SWB_DIRECT_CALLS", "10,25,50,75")
	co := startCoordinator(b, env, echoDelay(b))
	api := pionAPI(b)
	var voices []*callwire.Voice
	var ns, cpus, rsss []float64
	logHeader(b, "calls")
	for _, n := range append([]int{0}, steps...) {
		for len(voices) < n {
			c := newDMCaller(b, env, api, co.bot, len(voices))
			c.Call()
			v := c.Voice()
			v.Play()
			benchrun.WaitUntil(b, hang, "the echo of 1:1 call "+strconv.Itoa(len(voices)), func() bool { return !v.FirstEcho().IsZero() })
			voices = append(voices, v)
		}
		cpu, mib := measure(b, co, n, voices)
		if n > 0 {
			ns, cpus, rsss = append(ns, float64(n)), append(cpus, cpu), append(rsss, mib)
		}
	}
	reportSlopes(b, "call", ns, cpus, rsss)
}

// waitEcho waits up to limit for the first of p's packets to come back.
func waitEcho(p *callwire.Peer, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for v := p.Voice(); v == nil || v.FirstEcho().IsZero(); v = p.Voice() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// stop ends p's goroutines and connection and leaves the call.
func stop(p *callwire.Peer) {
	p.Close()
	p.Leave()
}

// newDMCaller registers a user, makes an encrypted room with it and the
// bot (joined) and a caller of the bot in it whose offer carries its
// candidates (callwire.DMCaller), connection "dm<n>".
func newDMCaller(b *testing.B, env *testenv.Env, api *webrtc.API, bot id.UserID, n int) *callwire.DMCaller {
	u := env.RegisterUser(b, "dm")
	cc := env.NewCryptoClient(b, u)
	room := env.CreateEncryptedRoom(b, cc)
	inviteBot(b, u, room, bot)
	return callwire.NewDMCaller(b, cc, api, room, bot, fmt.Sprintf("dm%d", n), false)
}

// meshRoom makes an encrypted room of the devices' users with the bot
// joined.
func meshRoom(b *testing.B, env *testenv.Env, co *coordinator, ccs []*testenv.CryptoClient) id.RoomID {
	others := make([]*testenv.User, 0, len(ccs)-1)
	for _, cc := range ccs[1:] {
		others = append(others, cc.User)
	}
	room := env.CreateEncryptedRoom(b, ccs[0], others...)
	inviteBot(b, ccs[0].User, room, co.bot)
	return room
}

// inviteBot has u invite the bot into room and waits until it joined.
func inviteBot(b *testing.B, u *testenv.User, room id.RoomID, bot id.UserID) {
	if _, err := u.Client.InviteUser(b.Context(), room, &mautrix.ReqInviteUser{UserID: bot}); err != nil {
		b.Fatal(err)
	}
	benchrun.WaitUntil(b, hang, "the bot in the room", func() bool {
		time.Sleep(20 * time.Millisecond)
		m, err := u.Client.JoinedMembers(b.Context(), room)
		if err != nil {
			return false
		}
		_, in := m.Joined[bot]
		return in
	})
}

func pionAPI(b *testing.B) *webrtc.API {
	api, err := callwire.LoopbackAPI()
	if err != nil {
		b.Fatal(err)
	}
	return api
}

func logHeader(b *testing.B, what string) {
	b.Logf("%5s %7s %8s %7s %8s %8s %8s %9s %5s", what, "cpu%", "rss-MiB", "bench%", "sent", "echoed", "lost/1e4", "not-ours", "load")
}

// measure waits 2 s, then reads the coordinator's CPU and memory and the
// bench process's CPU over a 10 s window, and counts the packets the
// voices sent in it and, 1 s after it (for the echo delay), how many of
// those came back. It logs a line and returns the coordinator's CPU (% of
// one core) and RSS (MiB).
func measure(b *testing.B, co *coordinator, n int, voices []*callwire.Voice) (cpu, mib float64) {
	const window = 10 * time.Second
	time.Sleep(2 * time.Second)
	from := make([]int, len(voices))
	for i, v := range voices {
		from[i] = v.Sent()
	}
	c0, s0, start := co.usage(b), benchrun.ProcUsage(b, "self"), time.Now()
	time.Sleep(window)
	c1, s1 := co.usage(b), benchrun.ProcUsage(b, "self")
	secs := time.Since(start).Seconds()
	to := make([]int, len(voices))
	for i, v := range voices {
		to[i] = v.Sent()
	}
	time.Sleep(time.Second)
	var sent, echoed, foreign int
	for i, v := range voices {
		sent += to[i] - from[i]
		echoed += v.Echoed(from[i], to[i])
		h := v.Heard()
		foreign += h.Foreign + h.Unmarked
	}
	lost := 0.0
	if sent > 0 {
		lost = 1e4 * float64(sent-echoed) / float64(sent)
	}
	cpu, mib = 100*(c1.CPU-c0.CPU).Seconds()/secs, float64(c1.RSSKiB)/1024
	b.Logf("%5d %7.1f %8.1f %7.1f %8d %8d %8.1f %9d %5s", n, cpu, mib, 100*(s1.CPU-s0.CPU).Seconds()/secs, sent, echoed, lost, foreign, loadAvg())
	return cpu, mib
}

// reportSlopes reports the least-squares slopes of CPU and RSS per unit.
func reportSlopes(b *testing.B, unit string, ns, cpus, rsss []float64) {
	if len(ns) < 2 {
		return
	}
	cpu, rss := benchrun.Slope(ns, cpus), benchrun.Slope(ns, rsss)
	b.ReportMetric(cpu, "cpu%-per-"+unit)
	b.ReportMetric(rss, "rss-MiB-per-"+unit)
	b.Logf("per %s (least-squares slope over %v): %.2f%% of a core, %.2f MiB resident", unit, ns, cpu, rss)
}

// report logs p50/p95/max of d, with misses (no sample within limit)
// counted as the longest, and reports its p95 in ms (-1 when a miss).
func report(b *testing.B, name string, d []time.Duration, misses int, limit time.Duration) {
	n := len(d) + misses
	if n == 0 {
		b.Logf("%s: no samples", name)
		return
	}
	s := benchrun.Sorted(d)
	at := func(p int) string {
		if q, ok := benchrun.Quantile(s, n, p); ok {
			return q.Round(time.Millisecond).String()
		}
		return "none within " + limit.String()
	}
	p95 := -1.0
	if q, ok := benchrun.Quantile(s, n, 95); ok {
		p95 = float64(q.Microseconds()) / 1000
	}
	b.ReportMetric(p95, name+"-p95-ms")
	b.Logf("%-40s n=%d misses=%d p50 %s p95 %s max %s", name, n, misses, at(50), at(95), at(100))
}
