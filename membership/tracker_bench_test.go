package membership

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"
)

// BenchmarkTrackerIngest feeds membership events across 10,000 rooms (10
// devices each, rewritten in turn) in batches of 100 (as sync delivers them)
// and waits until the tracker has applied them all: with -benchtime 100000x
// every event is a join, beyond that the rest are rewrites. Reports events/s
// and the live heap held (which includes the benchmark's own event arrays).
func BenchmarkTrackerIngest(b *testing.B) {
	const rooms, devices = 10_000, 10
	b.ReportAllocs()
	tr := NewTracker(nil, SystemClock{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	defer func() { cancel(); <-done }()

	srcs, members := benchEvents(min(b.N, rooms*devices), devices, time.Now().Add(time.Hour))
	b.ResetTimer()
	start := time.Now()
	const batch = 100
	for i := 0; i < b.N; i += batch {
		ups := make([]Update, 0, batch)
		for k := i; k < min(i+batch, b.N); k++ {
			j := k % len(srcs)
			ups = append(ups, Update{srcs[j], members[j]})
		}
		if err := tr.IngestBatch(ctx, ups); err != nil {
			b.Fatal(err)
		}
	}
	if err := tr.Flush(ctx); err != nil { // all applied
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	if snap, err := tr.Snapshot(ctx); err != nil || len(snap) != len(srcs) {
		b.Fatalf("snapshot holds %d members (%v), want %d", len(snap), err, len(srcs))
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
}

// benchEvents builds n one-member Famedly events, devices per room, each
// device in its own state key, all expiring at exp.
func benchEvents(n, devices int, exp time.Time) ([]Source, [][]Member) {
	srcs := make([]Source, n)
	members := make([][]Member, n)
	var room id.RoomID
	for i := range n {
		r, d := i/devices, i%devices
		if d == 0 {
			room = id.RoomID(fmt.Sprintf("!room%d:example.org", r))
		}
		user := id.UserID(fmt.Sprintf("@user%d:example.org", d))
		dev := id.DeviceID(fmt.Sprintf("DEV%d", d))
		srcs[i] = Source{Room: room, EventType: FamedlyEventType, StateKey: string(user) + "_" + string(dev)}
		members[i] = []Member{{Dialect: DialectFamedly, Call: CallKey{Room: room, Application: "m.call", Scope: "m.room"},
			UserID: user, DeviceID: dev, MembershipID: "x", ExpiresAt: exp}}
	}
	return srcs, members
}
