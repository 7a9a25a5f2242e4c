package delegation

import (
	"time"

	"github.com/switchboard-rtc/switchboard/internal/timeheap"
)

// timerKind names the one timer of each purpose a job may have pending.
type timerKind uint8

const (
	timerWait    timerKind = iota // end of the initial-connect wait
	timerPoll                     // next GetParticipant (phase 1 backoff or phase 2 sanity)
	timerRestart                  // next restart, or its retry
	timerSend                     // retry of the send
	timerGrace                    // end of the reconnect grace
	numTimers
)

// timer names one pending timer: a job and its purpose.
type timer struct {
	job  *job
	kind timerKind
}

// timerHeap orders all jobs' timers by due time, so the actor needs one
// clock wait at a time however many jobs there are. Owned by the actor.
type timerHeap struct{ h timeheap.Heap[timer] }

// set schedules j's timer of kind at at, replacing a pending one.
func (h *timerHeap) set(j *job, kind timerKind, at time.Time) {
	if e := j.timers[kind]; e != nil {
		h.h.Move(e, at)
		return
	}
	j.timers[kind] = h.h.Push(at, timer{job: j, kind: kind})
}

// stop cancels j's timer of kind, if pending.
func (h *timerHeap) stop(j *job, kind timerKind) {
	if e := j.timers[kind]; e != nil {
		h.h.Remove(e)
		j.timers[kind] = nil
	}
}

// stopAll cancels every timer of j.
func (h *timerHeap) stopAll(j *job) {
	for k := range numTimers {
		h.stop(j, k)
	}
}

// popDue removes and returns the earliest timer if it is due at now.
func (h *timerHeap) popDue(now time.Time) *timer {
	e := h.h.PopDue(now)
	if e == nil {
		return nil
	}
	e.Value.job.timers[e.Value.kind] = nil
	return &e.Value
}

// next is the earliest due time, if any.
func (h *timerHeap) next() (time.Time, bool) {
	if e := h.h.Peek(); e != nil {
		return e.At, true
	}
	return time.Time{}, false
}

// Backoff is an exponential backoff with jitter: the n-th wait is
// Initial·Multiplierⁿ capped at Max, each scaled by a random factor in
// [1-Jitter, 1+Jitter].
type Backoff struct {
	Initial    time.Duration // default 1 s
	Multiplier float64       // default 1.5
	Jitter     float64       // default 0.5; set a negative value for none
	Max        time.Duration // default 60 s
}

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = time.Second
	}
	if b.Multiplier < 1 {
		b.Multiplier = 1.5
	}
	switch {
	case b.Jitter == 0:
		b.Jitter = 0.5
	case b.Jitter < 0:
		b.Jitter = 0
	case b.Jitter > 1:
		b.Jitter = 1
	}
	if b.Max <= 0 {
		b.Max = time.Minute
	}
	b.Max = max(b.Max, b.Initial)
	return b
}

// backoffState is one running backoff sequence.
type backoffState struct {
	cur time.Duration // the next un-jittered wait; 0 before the first
}

// next returns the next wait; rnd yields values in [0, 1).
func (s *backoffState) next(b Backoff, rnd func() float64) time.Duration {
	if s.cur == 0 {
		s.cur = b.Initial
	}
	d := float64(s.cur)
	s.cur = min(time.Duration(d*b.Multiplier), b.Max)
	delta := b.Jitter * d
	return time.Duration(d - delta + rnd()*2*delta)
}

func (s *backoffState) reset() { s.cur = 0 }
