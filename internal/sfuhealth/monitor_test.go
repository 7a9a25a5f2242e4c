package sfuhealth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
)

// hangGuard bounds every wait: a guard against a hang, never a timing.
const hangGuard = 10 * time.Second

// call is one ListRooms the monitor made; the test answers it.
type call struct {
	req   *livekit.ListRoomsRequest
	reply chan error
}

// fakeLister hands each listing to the test and waits for its answer (or the
// check's context).
type fakeLister struct{ calls chan call }

func (f *fakeLister) ListRooms(ctx context.Context, req *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error) {
	c := call{req: req, reply: make(chan error, 1)}
	select {
	case f.calls <- c:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case err := <-c.reply:
		if err != nil {
			return nil, err
		}
		return &livekit.ListRoomsResponse{}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fakeClock is advanced by the test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// harness is a monitor with a fake lister, clock and ticker.
type harness struct {
	m     *Monitor
	lk    *fakeLister
	clock *fakeClock
	ticks chan time.Time
	every time.Duration // the interval the monitor asked its ticker for
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{lk: &fakeLister{calls: make(chan call)}, clock: &fakeClock{t: time.Unix(1_800_000_000, 0)},
		ticks: make(chan time.Time)}
	h.m = New(nil, cfg, h.lk)
	h.m.now = h.clock.now
	h.m.ticker = func(d time.Duration) (<-chan time.Time, func()) { h.every = d; return h.ticks, func() {} }
	return h
}

// run starts Run and returns a channel that yields its result.
func (h *harness) run(t *testing.T, ctx context.Context) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- h.m.Run(ctx) }()
	return done
}

// next waits for the monitor's next listing.
func (h *harness) next(t *testing.T) call {
	t.Helper()
	select {
	case c := <-h.lk.calls:
		return c
	case <-time.After(hangGuard):
		t.Fatal("the monitor made no listing")
		return call{}
	}
}

func (h *harness) tick(t *testing.T) {
	t.Helper()
	select {
	case h.ticks <- h.clock.now():
	case <-time.After(hangGuard):
		t.Fatal("the monitor is not waiting for a tick")
	}
}

func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(hangGuard):
		t.Fatalf("no state change: %s", what)
	}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func waitRun(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Run did not return")
	}
}

func TestStartsUnknownWithDefaults(t *testing.T) {
	h := newHarness(t, Config{})
	st := h.m.Status()
	if st.State != StateUnknown || !st.LastCheck.IsZero() || st.ConsecutiveFailures != 0 || st.LastError != "" {
		t.Fatalf("fresh status = %+v", st)
	}
	if closed(h.m.Changed()) {
		t.Fatal("Changed closed before any check")
	}
	if h.m.cfg.Interval != DefaultInterval || h.m.cfg.Timeout != DefaultTimeout {
		t.Fatalf("defaults = %+v", h.m.cfg)
	}
}

// TestTransitions walks unknown → healthy → unreachable (twice) → healthy,
// the first check made at once without a tick.
func TestTransitions(t *testing.T) {
	leakcheck.Check(t)
	h := newHarness(t, Config{Interval: 7 * time.Second})
	ctx, cancel := context.WithCancel(t.Context())
	done := h.run(t, ctx)
	defer func() { cancel(); waitRun(t, done) }()

	ch := h.m.Changed()
	t1 := h.clock.advance(time.Second)
	c := h.next(t)
	if got := c.req.GetNames(); len(got) != 1 || got[0] != probeRoom {
		t.Errorf("listing asked for %v, want only the probe room", got)
	}
	c.reply <- nil
	wait(t, ch, "unknown → healthy")
	if st := h.m.Status(); st.State != StateHealthy || !st.Since.Equal(t1) || !st.LastCheck.Equal(t1) || st.ConsecutiveFailures != 0 {
		t.Fatalf("after a success: %+v", st)
	}
	if h.every != 7*time.Second {
		t.Errorf("ticker interval = %v", h.every)
	}

	ch = h.m.Changed()
	t2 := h.clock.advance(7 * time.Second)
	h.tick(t)
	h.next(t).reply <- errors.New("dial tcp 127.0.0.1:7880: connect: connection refused")
	wait(t, ch, "healthy → unreachable")
	st := h.m.Status()
	if st.State != StateUnreachable || !st.Since.Equal(t2) || st.ConsecutiveFailures != 1 || !strings.Contains(st.LastError, "connection refused") {
		t.Fatalf("after a failure: %+v", st)
	}

	ch = h.m.Changed()
	t3 := h.clock.advance(7 * time.Second)
	h.tick(t)
	h.next(t).reply <- errors.New("twirp error unavailable")
	h.tick(t)
	c = h.next(t) // the second failure is recorded before the third listing starts
	st = h.m.Status()
	if st.State != StateUnreachable || !st.Since.Equal(t2) || !st.LastCheck.Equal(t3) || st.ConsecutiveFailures != 2 || st.LastError != "twirp error unavailable" {
		t.Fatalf("after a second failure: %+v", st)
	}
	if closed(ch) {
		t.Fatal("Changed closed though the state stayed unreachable")
	}
	t4 := h.clock.advance(time.Second)
	c.reply <- nil
	wait(t, ch, "unreachable → healthy")
	if st := h.m.Status(); st.State != StateHealthy || !st.Since.Equal(t4) || st.ConsecutiveFailures != 0 || st.LastError != "" {
		t.Fatalf("after recovery: %+v", st)
	}
}

// TestNoAnswerIsUnreachable: a listing that never answers is cut at Timeout
// and counted as unreachable with a clear reason.
func TestNoAnswerIsUnreachable(t *testing.T) {
	h := newHarness(t, Config{Timeout: time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	ch := h.m.Changed()
	done := h.run(t, ctx)
	defer func() { cancel(); waitRun(t, done) }()
	h.next(t) // never answered
	wait(t, ch, "unknown → unreachable")
	if st := h.m.Status(); st.State != StateUnreachable || !strings.Contains(st.LastError, "no answer within 1ms") {
		t.Fatalf("status = %+v", st)
	}
}

// TestShutdownDuringCheckRecordsNothing: a check cut short by our own
// shutdown says nothing about LiveKit.
func TestShutdownDuringCheckRecordsNothing(t *testing.T) {
	leakcheck.Check(t)
	h := newHarness(t, Config{})
	ctx, cancel := context.WithCancel(t.Context())
	done := h.run(t, ctx)
	h.next(t)
	cancel()
	waitRun(t, done)
	if st := h.m.Status(); st.State != StateUnknown || st.ConsecutiveFailures != 0 || !st.LastCheck.IsZero() {
		t.Fatalf("status after shutdown = %+v", st)
	}
}

func TestCloseStopsRunAndIsIdempotent(t *testing.T) {
	leakcheck.Check(t)
	h := newHarness(t, Config{})
	done := h.run(t, t.Context())
	h.next(t).reply <- nil
	if err := h.m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.m.Close(); err != nil {
		t.Fatal(err)
	}
	waitRun(t, done)
	waitRun(t, h.run(t, t.Context())) // Run after Close returns at once
}

func TestLastErrorHasNoTokenAndIsShort(t *testing.T) {
	tok := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJkZXZrZXkifQ.l8M57_U9OWm-NEsjxLrBnJjlmjYaz-12kBPm1Tv3CHQ"
	got := scrub(`twirp error unauthenticated: "Authorization: Bearer ` + tok + `" refused`)
	if strings.Contains(got, "eyJ") || strings.Contains(got, "l8M57") || !strings.Contains(got, "unauthenticated") {
		t.Fatalf("scrub = %q", got)
	}
	if got := scrub(strings.Repeat("é", 400)); len(got) > maxErrorLen+len("…") {
		t.Fatalf("scrub kept %d bytes", len(got))
	}
}
