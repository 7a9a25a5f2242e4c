package membership

import (
	"context"
	"fmt"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"
)

// TestChangeKindStringUnknown (#9 item 13): an unknown kind prints, it
// does not panic.
func TestChangeKindStringUnknown(t *testing.T) {
	if got := ChangeKind(42).String(); got != "ChangeKind(42)" {
		t.Fatalf("got %q", got)
	}
	if got := ChangeKind(-1).String(); got != "ChangeKind(-1)" {
		t.Fatalf("got %q", got)
	}
	if Resync.String() != "resync" || Left.String() != "left" {
		t.Fatal("known kinds lost their names")
	}
}

// TestSubscriptionEndsWithContext (#9 item 13): a subscription can be
// cancelled: its channel closes and the tracker stops queueing for it.
func TestSubscriptionEndsWithContext(t *testing.T) {
	tr, clock, _ := startTracker(t)
	ctx, cancel := context.WithCancel(t.Context())
	changes, err := tr.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case _, ok := <-changes:
		if ok {
			t.Fatal("a change arrived after cancelling")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the cancelled subscription's channel never closed")
	}
	// The tracker forgets it: only the test's own subscription is left.
	must(t, tr.Ingest(t.Context(), Source{Room: "!r:example.org", EventType: FamedlyEventType, StateKey: "@a:example.org"},
		[]Member{member("@a:example.org", "A", clock.Now().Add(time.Hour))}))
	waitSubs(t, tr, 1)
}

// waitSubs waits until the tracker has n subscribers.
func waitSubs(t *testing.T, tr *Tracker, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		got := make(chan int, 1)
		tr.in <- countSubs(got)
		if <-got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tracker still has %d subscribers, want %d", <-got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSubscriberQueueBounded (#9 item 13): a subscriber that stops reading
// holds at most a bounded backlog; when it reads again it is told to
// resync instead of receiving everything it missed.
func TestSubscriberQueueBounded(t *testing.T) {
	tr, clock, idle := startTracker(t) // idle is never read until the end
	exp := clock.Now().Add(time.Hour)
	const n = 3 * maxQueued
	for i := range n {
		u := fmt.Sprintf("@u%d:example.org", i)
		must(t, tr.Ingest(t.Context(), Source{Room: id.RoomID("!r:example.org"), EventType: FamedlyEventType, StateKey: u},
			[]Member{member(u, "D", exp)}))
	}
	must(t, tr.Flush(t.Context()))
	got, resync := 0, false
	guard := time.After(30 * time.Second)
	for !resync && got <= n {
		select {
		case c := <-idle:
			got++
			resync = c.Kind == Resync
		case <-guard:
			t.Fatalf("no Resync after %d changes", got)
		}
	}
	if !resync || got > 2*maxQueued+1 {
		t.Fatalf("read %d changes (resync %v) of %d; want a Resync and at most %d", got, resync, n, 2*maxQueued+1)
	}
}
