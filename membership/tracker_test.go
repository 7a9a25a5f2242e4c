package membership

import (
	"context"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
)

func startTracker(t *testing.T) (*Tracker, *fakeClock, <-chan Change) {
	t.Helper()
	leakcheck.Check(t)
	clock := newFakeClock()
	tr := NewTracker(nil, clock)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	changes, err := tr.Subscribe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return tr, clock, changes
}

func member(user, device string, expires time.Time) Member {
	return Member{
		Dialect: DialectFamedly, Call: CallKey{Room: "!r:example.org", Application: "m.call", Scope: "m.room"},
		UserID: id.UserID(user), DeviceID: id.DeviceID(device), ExpiresAt: expires,
	}
}

func next(t *testing.T, changes <-chan Change) Change {
	t.Helper()
	select {
	case c := <-changes:
		return c
	case <-time.After(30 * time.Second):
		t.Fatal("no change arrived")
		return Change{}
	}
}

func expectKind(t *testing.T, changes <-chan Change, kind ChangeKind, device string) {
	t.Helper()
	c := next(t, changes)
	if c.Kind != kind || string(c.Member.DeviceID) != device {
		t.Fatalf("got %s %s, want %s %s", c.Kind, c.Member.DeviceID, kind, device)
	}
}

func TestTrackerJoinUpdateLeave(t *testing.T) {
	tr, clock, changes := startTracker(t)
	src := Source{Room: "!r:example.org", EventType: FamedlyEventType, StateKey: "@a:example.org"}
	exp := clock.Now().Add(12 * time.Minute)
	a1, a2 := member("@a:example.org", "A1", exp), member("@a:example.org", "A2", exp)

	must(t, tr.Ingest(t.Context(), src, []Member{a1, a2}))
	got := map[string]ChangeKind{}
	for range 2 {
		c := next(t, changes)
		got[string(c.Member.DeviceID)] = c.Kind
	}
	if got["A1"] != Joined || got["A2"] != Joined {
		t.Fatalf("joins %v", got)
	}
	a1.ExpiresAt = exp.Add(time.Minute)
	must(t, tr.Ingest(t.Context(), src, []Member{a1}))
	kinds := map[string]ChangeKind{}
	for range 2 {
		c := next(t, changes)
		kinds[string(c.Member.DeviceID)] = c.Kind
	}
	if kinds["A2"] != Left || kinds["A1"] != Updated {
		t.Fatalf("after rewrite %v", kinds)
	}
	must(t, tr.Ingest(t.Context(), src, nil))
	expectKind(t, changes, Left, "A1")
	snap, err := tr.Snapshot(t.Context())
	if err != nil || len(snap) != 0 {
		t.Fatalf("snapshot %v %v", snap, err)
	}
}

// TestTrackerExpiresWithoutEvents: a member expires at its time, by timer,
// with no further event.
func TestTrackerExpiresWithoutEvents(t *testing.T) {
	tr, clock, changes := startTracker(t)
	src := Source{Room: "!r:example.org", EventType: FamedlyEventType, StateKey: "@a:example.org"}
	must(t, tr.Ingest(t.Context(), src, []Member{
		member("@a:example.org", "SOON", clock.Now().Add(time.Minute)),
		member("@a:example.org", "LATER", clock.Now().Add(time.Hour)),
	}))
	next(t, changes)
	next(t, changes)
	if _, err := tr.Snapshot(t.Context()); err != nil { // the timer is armed once the ingest is handled
		t.Fatal(err)
	}
	clock.Advance(59 * time.Second)
	select {
	case c := <-changes:
		t.Fatalf("early change %v", c)
	case <-time.After(50 * time.Millisecond):
	}
	clock.Advance(time.Second)
	expectKind(t, changes, Expired, "SOON")
	snap, _ := tr.Snapshot(t.Context())
	if len(snap) != 1 || snap[0].DeviceID != "LATER" {
		t.Fatalf("snapshot %v", snap)
	}
	clock.Advance(time.Hour)
	expectKind(t, changes, Expired, "LATER")
}

func TestTrackerIgnoresAlreadyExpired(t *testing.T) {
	tr, clock, changes := startTracker(t)
	src := Source{Room: "!r:example.org", EventType: FamedlyEventType, StateKey: "@a:example.org"}
	must(t, tr.Ingest(t.Context(), src, []Member{member("@a:example.org", "OLD", clock.Now().Add(-time.Second))}))
	snap, _ := tr.Snapshot(t.Context())
	if len(snap) != 0 {
		t.Fatalf("expired member counted: %v", snap)
	}
	select {
	case c := <-changes:
		t.Fatalf("change for an expired member: %v", c)
	default:
	}
}

func TestTrackerClosed(t *testing.T) {
	tr := NewTracker(nil, newFakeClock())
	tr.Close()
	if err := tr.Ingest(context.Background(), Source{}, nil); err != ErrClosed {
		t.Fatalf("Ingest after Close: %v", err)
	}
	if tr.Close() == nil {
		t.Fatal("second Close returned nil")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
