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
// and waits until the tracker has applied them all. Reports events/s and
// the live heap held (which includes the benchmark's own event arrays).
func BenchmarkTrackerIngest(b *testing.B) {
	const rooms, devices = 10_000, 10
	clock := SystemClock{}
	tr := NewTracker(nil, clock)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	defer func() { cancel(); <-done }()

	srcs := make([]Source, rooms*devices)
	members := make([][]Member, rooms*devices)
	exp := time.Now().Add(time.Hour)
	for r := range rooms {
		room := id.RoomID(fmt.Sprintf("!room%d:example.org", r))
		for d := range devices {
			i := r*devices + d
			user := id.UserID(fmt.Sprintf("@user%d:example.org", d))
			dev := id.DeviceID(fmt.Sprintf("DEV%d", d))
			srcs[i] = Source{Room: room, EventType: FamedlyEventType, StateKey: string(user) + "_" + string(dev)}
			members[i] = []Member{{Dialect: DialectFamedly, Call: CallKey{Room: room, Application: "m.call", Scope: "m.room"},
				UserID: user, DeviceID: dev, MembershipID: "x", ExpiresAt: exp}}
		}
	}
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
	if _, err := tr.Snapshot(ctx); err != nil { // all applied
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.StopTimer()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
}
