package media

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// hang bounds every wait of these tests; nothing is timed against it.
const hang = 10 * time.Second

// fakeClock moves only when told. armed is signalled whenever a timer is
// set, so a test can wait until a line waits for a given instant.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	armed  chan struct{}
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Unix(1_000_000, 0), armed: make(chan struct{}, 1)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(at time.Time) Timer {
	t := &fakeTimer{c: c, ch: make(chan time.Time, 1)}
	c.mu.Lock()
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	t.Reset(at)
	return t
}

// Set moves the clock to now and fires the timers due by then.
func (c *fakeClock) Set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
	for _, t := range c.timers {
		if t.on && !t.at.After(now) {
			t.fire()
		}
	}
}

// waitArmed returns when some timer is set to fire at at.
func (c *fakeClock) waitArmed(t *testing.T, at time.Time) {
	t.Helper()
	guard := time.NewTimer(hang)
	defer guard.Stop()
	for {
		c.mu.Lock()
		found := slices.ContainsFunc(c.timers, func(ft *fakeTimer) bool { return ft.on && ft.at.Equal(at) })
		c.mu.Unlock()
		if found {
			return
		}
		select {
		case <-c.armed:
		case <-guard.C:
			t.Fatalf("no timer was set for %v", at)
		}
	}
}

type fakeTimer struct {
	c  *fakeClock
	ch chan time.Time
	at time.Time
	on bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Reset(at time.Time) {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.drain()
	t.at, t.on = at, true
	if !at.After(t.c.now) {
		t.fire()
	}
	select {
	case t.c.armed <- struct{}{}:
	default:
	}
}

func (t *fakeTimer) Stop() {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.on = false
	t.drain()
}

func (t *fakeTimer) drain() {
	select {
	case <-t.ch:
	default:
	}
}

func (t *fakeTimer) fire() {
	t.on = false
	select {
	case t.ch <- t.c.now:
	default:
	}
}

// written is a frame an output got, with the fake time it got it.
type written struct {
	f  Frame
	at time.Time
}

// fakeOutput records frames (copied) and fails with err when set.
type fakeOutput struct {
	spec   OutputSpec
	clock  Clock
	frames chan written
	closed chan struct{}
	once   sync.Once

	mu     sync.Mutex
	err    error
	writes int
}

func (o *fakeOutput) WriteFrame(f Frame) error {
	o.mu.Lock()
	o.writes++
	err := o.err
	o.mu.Unlock()
	if err != nil {
		return err
	}
	f.Data = slices.Clone(f.Data)
	o.frames <- written{f, o.clock.Now()}
	return nil
}

func (o *fakeOutput) setErr(err error) {
	o.mu.Lock()
	o.err = err
	o.mu.Unlock()
}

func (o *fakeOutput) Close() error {
	o.once.Do(func() { close(o.closed) })
	return nil
}

// recv takes the next value from ch, failing the test when there is none
// in time.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(hang):
		t.Fatal(what)
		var zero T
		return zero
	}
}

func (o *fakeOutput) next(t *testing.T) written {
	t.Helper()
	return recv(t, o.frames, "output "+o.spec.Name+" got no frame")
}

func (o *fakeOutput) waitClosed(t *testing.T) {
	t.Helper()
	recv(t, o.closed, "output "+o.spec.Name+" was not closed")
}

func (o *fakeOutput) isClosed() bool {
	select {
	case <-o.closed:
		return true
	default:
		return false
	}
}

// fakeCall publishes fakeOutputs, announced on published, and records key
// frame requests. Publish fails for the participants in refuse.
type fakeCall struct {
	clock     Clock
	refuse    map[string]error
	published chan *fakeOutput
	keyFrames chan Source
}

func newFakeCall(clock Clock) *fakeCall {
	return &fakeCall{
		clock:     clock,
		published: make(chan *fakeOutput, 64),
		keyFrames: make(chan Source, 64),
	}
}

func (c *fakeCall) Publish(spec OutputSpec) (Output, error) {
	if err := c.refuse[spec.Audience[0]]; err != nil {
		return nil, err
	}
	o := &fakeOutput{spec: spec, clock: c.clock, frames: make(chan written, 4096), closed: make(chan struct{})}
	c.published <- o
	return o, nil
}

func (c *fakeCall) RequestKeyFrame(src Source) {
	select {
	case c.keyFrames <- src:
	default:
	}
}

func (c *fakeCall) nextOutput(t *testing.T) *fakeOutput {
	t.Helper()
	return recv(t, c.published, "nothing was published")
}

func (c *fakeCall) nextKeyFrameRequest(t *testing.T) Source {
	t.Helper()
	return recv(t, c.keyFrames, "no key frame was requested")
}
