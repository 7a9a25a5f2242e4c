package echo

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/internal/testenv/benchrun"
)

// BenchmarkRecordLoad steps up to SWB_RECORD_CALLS (default 10,25,50)
// calls held at once, each with two participants (two users' devices)
// sending 50 frames/s each, every call recorded (calls.features=record).
// At each step it waits 2 s, then reads the coordinator's CPU time,
// resident memory, the engine's frame counters and the recorders' over a
// window (SWB_RECORD_WINDOW, default 20s).
func BenchmarkRecordLoad(b *testing.B) {
	env := testenv.Require(b)
	steps := benchrun.Steps(b, "SWB_RECORD_CALLS", "10,25,50")
	window := 20 * time.Second
	if w := os.Getenv("SWB_RECORD_WINDOW"); w != "" {
		var err error
		if window, err = time.ParseDuration(w); err != nil || window <= 0 {
			b.Fatalf("SWB_RECORD_WINDOW: %q is not a duration", w)
		}
	}
	co := startCoordinator(b, env, 100*time.Millisecond, "record")
	first, second := newCaller(b, env, co), newCaller(b, env, co)
	var calls []*recordedCall
	defer func() {
		for _, rc := range calls {
			for _, p := range rc.ps {
				p.close()
			}
		}
	}()
	b.Logf("%v windows", window)
	b.Logf("%5s %7s %8s %8s %8s %9s %8s %8s %8s", "calls", "cpu%", "rss-MiB", "sent/s", "in/s", "written/s", "rec-lost", "lost/10k", "failed")
	var ns, cpus, rsss []float64
	for _, n := range append([]int{0}, steps...) {
		for len(calls) < n {
			calls = append(calls, openRecorded(b, env, co, first, second))
		}
		time.Sleep(2 * time.Second)
		cpu0, _ := co.cpuAndRSS(b)
		m0, r0, s0 := co.media(b), co.recorded(b), sentBy(calls)
		start := time.Now()
		time.Sleep(window)
		cpu1, rss := co.cpuAndRSS(b)
		m1, r1, s1 := co.media(b), co.recorded(b), sentBy(calls)
		secs := time.Since(start).Seconds()
		cpu, mib := 100*(cpu1-cpu0).Seconds()/secs, float64(rss)/1024
		sent, written := s1-s0, r1.written-r0.written
		lost := 0.0
		if written > 0 {
			lost = 10000 * float64(r1.lost-r0.lost) / float64(written)
		}
		b.Logf("%5d %7.1f %8.1f %8.0f %8.0f %9.0f %8d %8.1f %8d", n, cpu, mib, float64(sent)/secs,
			float64(m1.in-m0.in)/secs, float64(written)/secs, r1.lost-r0.lost, lost,
			m1.failed+m1.noKey-m0.failed-m0.noKey)
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

// recordedCall is one call of two participants, recorded by the bot.
type recordedCall struct {
	room id.RoomID
	ps   []*participant
}

// openRecorded makes an encrypted room of the two callers with the bot,
// and puts each caller's participant in the call (membership, keys over
// Olm, sending); it returns once the bot records both.
func openRecorded(b *testing.B, env *testenv.Env, co *coordinator, callers ...*caller) *recordedCall {
	owner := callers[0]
	var others []*testenv.User
	for _, c := range callers[1:] {
		others = append(others, c.dev.User)
	}
	room := env.CreateEncryptedRoom(b, owner.dev, others...)
	if _, err := owner.dev.Client.InviteUser(b.Context(), room, &mautrix.ReqInviteUser{UserID: co.bot}); err != nil {
		b.Fatal(err)
	}
	benchrun.WaitUntil(b, hang, "bot in the room", func() bool {
		m, err := owner.dev.Client.JoinedMembers(b.Context(), room)
		if err != nil {
			return false
		}
		_, in := m.Joined[co.bot]
		return in
	})
	rc := &recordedCall{room: room}
	for _, c := range callers {
		url, jwt := c.sfuGet(b, room)
		material := make([]byte, 16)
		rand.Read(material)
		rc.ps = append(rc.ps, connect(b, url, jwt, co.bot.String(), material, false))
		c.member(b, room, c.stateKey(), material, func(id.DeviceID, int, []byte) {})
	}
	benchrun.WaitUntil(b, hang, "both participants recorded", func() bool {
		return co.recordedIn(b, room) == len(callers)
	})
	return rc
}

// sentBy adds up the frames the calls' participants sent.
func sentBy(calls []*recordedCall) uint64 {
	var n uint64
	for _, rc := range calls {
		for _, p := range rc.ps {
			s, _, _ := p.counts()
			n += s
		}
	}
	return n
}

// recordTotals sums the recorders' counters over every call: frames
// written to files, and frames lost on the way: those the recorder dropped
// (queue full, late, invalid) and those that never came, which it filled
// with silence (the senders send without pause, so every 20 ms of silence
// in a file is a frame lost in LiveKit, the network or our engine).
type recordTotals struct{ written, lost uint64 }

// recordStats is the admin media view's per-call record counters: one
// entry per recorded source, beside "recording" (the recording's own).
type recordStats struct {
	Room         string `json:"room"`
	FeatureStats struct {
		Record map[string]json.RawMessage `json:"record"`
	} `json:"feature_stats"`
}

type sourceStats struct {
	Written uint64 `json:"written"`
	Dropped uint64 `json:"dropped"`
	Late    uint64 `json:"late"`
	Invalid uint64 `json:"invalid"`
	Silence int64  `json:"silence_ms"`
}

// recordLines lists each call's recorded sources' counters.
func (c *coordinator) recordLines(b testing.TB) map[string][]sourceStats {
	var v struct{ Calls []recordStats }
	c.adminGet(b, "/admin/v1/media", &v)
	out := map[string][]sourceStats{}
	for _, call := range v.Calls {
		for name, raw := range call.FeatureStats.Record {
			var s sourceStats
			if name == "recording" || json.Unmarshal(raw, &s) != nil {
				continue
			}
			out[call.Room] = append(out[call.Room], s)
		}
	}
	return out
}

func (c *coordinator) recorded(b testing.TB) recordTotals {
	var t recordTotals
	for _, lines := range c.recordLines(b) {
		for _, s := range lines {
			t.written += s.Written
			t.lost += s.Dropped + s.Late + s.Invalid + uint64(s.Silence/20)
		}
	}
	return t
}

// recordedIn counts room's sources whose frames reach their files.
func (c *coordinator) recordedIn(b testing.TB, room id.RoomID) int {
	n := 0
	for _, s := range c.recordLines(b)[string(room)] {
		if s.Written > 0 {
			n++
		}
	}
	return n
}
