package delegation

import (
	"container/heap"
	"time"
)

// timerKind names the one timer of each purpose a job may have pending.
type timerKind uint8

const (
	timerWait    timerKind = iota // end of the initial-connect wait
	timerPoll                     // next GetParticipant (phase 1 backoff or phase 2 sanity)
	timerRestart                  // next restart, or its retry
	timerSend                     // retry of the send
	numTimers
)

// timer is one entry of the actor's timer heap.
type timer struct {
	at    time.Time
	job   *job
	kind  timerKind
	index int // position in the heap, kept by timerHeap
}

// timerHeap orders all jobs' timers by due time, so the actor needs one
// clock wait at a time however many jobs there are. Owned by the actor.
type timerHeap []*timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.index = -1
	return t
}

// set schedules j's timer of kind at at, replacing a pending one.
func (h *timerHeap) set(j *job, kind timerKind, at time.Time) {
	if t := j.timers[kind]; t != nil {
		t.at = at
		heap.Fix(h, t.index)
		return
	}
	t := &timer{at: at, job: j, kind: kind}
	j.timers[kind] = t
	heap.Push(h, t)
}

// stop cancels j's timer of kind, if pending.
func (h *timerHeap) stop(j *job, kind timerKind) {
	if t := j.timers[kind]; t != nil {
		heap.Remove(h, t.index)
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
	if len(*h) == 0 || (*h)[0].at.After(now) {
		return nil
	}
	t := heap.Pop(h).(*timer)
	t.job.timers[t.kind] = nil
	return t
}

// next is the earliest due time, if any.
func (h timerHeap) next() (time.Time, bool) {
	if len(h) == 0 {
		return time.Time{}, false
	}
	return h[0].at, true
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
