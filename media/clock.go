package media

import "time"

// Clock is the time source of features; tests inject a fake one. Timers are
// set to an instant rather than a duration so that a fake clock moved
// between a feature's Now and its timer cannot shift the deadline.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires at at (at once if at is past).
	NewTimer(at time.Time) Timer
}

// Timer is a Clock's timer.
type Timer interface {
	C() <-chan time.Time
	// Reset sets the timer to fire at at, armed or not, fired or not; no
	// stale firing is delivered afterwards.
	Reset(at time.Time)
	Stop()
}

// SystemClock is the real clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now() }

func (SystemClock) NewTimer(at time.Time) Timer {
	return systemTimer{time.NewTimer(time.Until(at))}
}

// systemTimer relies on Go 1.23's timers: Reset and Stop discard a pending
// firing, so no draining is needed.
type systemTimer struct{ t *time.Timer }

func (s systemTimer) C() <-chan time.Time { return s.t.C }
func (s systemTimer) Reset(at time.Time)  { s.t.Reset(time.Until(at)) }
func (s systemTimer) Stop()               { s.t.Stop() }
