package mesh

import (
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// waitCalls polls Calls until ok holds (hang guard).
func waitCalls(t *testing.T, d *Direct, what string, ok func(map[string]DirectCallSnapshot) bool) map[string]DirectCallSnapshot {
	t.Helper()
	deadline := time.Now().Add(hang)
	for {
		byID := map[string]DirectCallSnapshot{}
		for _, c := range d.Calls() {
			byID[c.CallID] = c
		}
		if ok(byID) {
			return byID
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: calls %+v", what, byID)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Calls lists each call from its invite (checking) through answering to
// its end, read from other goroutines all along (under -race), and the
// invites are counted by outcome.
func TestDirectCalls(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	gate := make(chan struct{})
	h := newDirectHarness(t, DirectEcho, 2, time.Hour, func(room string) bool {
		if room == "!gate:x" {
			<-gate
			return false
		}
		return room == "!dm:x"
	}, func(c *DirectConfig) { c.Metrics = m })
	open := sync.OnceFunc(func() { close(gate) })
	t.Cleanup(open) // before the harness's stop, which waits for the check
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 3 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
					_ = h.d.Calls()
					_, _ = h.d.Counts()
				}
			}
		}()
	}
	defer func() { close(stop); readers.Wait() }()

	h.invite("!gate:x", "held", nil)
	waitCalls(t, h.d, "held is checked", func(c map[string]DirectCallSnapshot) bool { return c["held"].State == DirectChecking })
	before := time.Now()
	h.invite("!dm:x", "first", func(m map[string]any) { m["device_id"] = "CALLERDEV" })
	if s := h.next("first"); s.typ != "m.call.answer" {
		t.Fatalf("first: %s", s.typ)
	}
	got := waitCalls(t, h.d, "first answered", func(c map[string]DirectCallSnapshot) bool { return c["first"].State == DirectAnswering })
	f := got["first"]
	if f.Room != "!dm:x" || f.Caller != drCaller || f.CallerDevice != "CALLERDEV" || f.Invited.Before(before) ||
		f.EndsBy.Before(f.Invited.Add(time.Hour)) || f.LeftSeconds <= 3500 || f.LeftSeconds > 3600 {
		t.Errorf("first: %+v", f)
	}
	h.invite("!dm:x", "second", nil)
	if s := h.next("second"); s.typ != "m.call.answer" {
		t.Fatalf("second: %s", s.typ)
	}
	if active, max := h.d.Counts(); active != 2 || max != 2 {
		t.Errorf("counts %d/%d", active, max)
	}
	h.invite("!dm:x", "third", nil)
	if s := h.next("third"); s.typ != "m.call.reject" {
		t.Fatalf("third: %s", s.typ)
	}
	h.invite("!big:x", "big", nil)
	for _, id := range []string{"first", "second"} {
		hu := roomEvent(t, "hangup", drCaller, time.Now(), func(m map[string]any) { m["call_id"] = id })
		hu.RoomID = "!dm:x"
		h.in <- RoomBatch{RoomID: "!dm:x", Events: []RoomEvent{hu}}
	}
	open()
	waitCalls(t, h.d, "all ended", func(c map[string]DirectCallSnapshot) bool { return len(c) == 0 })
	if active, _ := h.d.Counts(); active != 0 {
		t.Errorf("%d active after all ended", active)
	}
	for o, want := range map[DirectOutcome]float64{OutcomeAnswered: 2, OutcomeRejectedBusy: 1, OutcomeNotDirectRoom: 2,
		OutcomeRejectedByMode: 0, OutcomeRangOut: 0, OutcomeFailed: 0} {
		if n := testutil.ToFloat64(m.invites[o]); n != want {
			t.Errorf("%s: %v invites, want %v", o, n, want)
		}
	}
}
