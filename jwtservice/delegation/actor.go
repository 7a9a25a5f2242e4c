package delegation

import (
	"context"
	"sync"
	"time"
)

// jobKey identifies the participant a job is for.
type jobKey struct{ room, identity string }

// actor is the state owned by Run's goroutine: nothing here is touched by
// any other goroutine, except wg and results, which call goroutines use to
// report back.
type actor struct {
	m       *Manager
	ctx     context.Context // Run's; parent of every job's context
	jobs    map[jobKey]*job
	perUser map[string]int             // Params.UserID -> jobs in the table
	byRoom  map[string]map[string]*job // LiveKit room -> identity -> job, for observations
	// observed is when another poller last listed a room's participants
	// (ObserveRoom), for rooms with jobs: their own lookups wait.
	observed map[string]time.Time
	listing  map[string]bool // rooms whose listing (ours) is in flight
	sends    sentLog
	timers   timerHeap
	nextID   uint64
	calls    int // calls in flight whose results are not processed yet
	results  chan result
	wg       sync.WaitGroup

	armedAt time.Time // due time of the clock wait in armedC
	armedC  <-chan time.Time
}

func newActor(m *Manager, ctx context.Context) *actor {
	return &actor{m: m, ctx: ctx, jobs: make(map[jobKey]*job), perUser: make(map[string]int),
		byRoom: make(map[string]map[string]*job), observed: make(map[string]time.Time),
		listing: make(map[string]bool), results: make(chan result)}
}

// loop serves messages until Run's context ends or Close is called.
func (a *actor) loop() {
	for {
		a.arm()
		select {
		case <-a.ctx.Done():
			return
		case <-a.m.quit:
			return
		case req := <-a.m.adds:
			req.reply <- a.add(req.p)
		case ev := <-a.m.events:
			a.webhook(ev)
		case r := <-a.results:
			a.calls--
			a.result(r)
		case <-a.armedC:
			a.armedC = nil
			a.fireDue()
		case reply := <-a.m.snaps:
			reply <- a.snapshot()
		case o := <-a.m.observations:
			a.observeRoom(o)
		case reply := <-a.m.reports:
			reply <- a.report()
		}
	}
}

// arm makes armedC fire at the earliest timer's due time.
func (a *actor) arm() {
	at, ok := a.timers.next()
	if !ok {
		a.armedC = nil
		return
	}
	if a.armedC != nil && a.armedAt.Equal(at) {
		return
	}
	// A wait armed for another time is abandoned; an early wake-up finds
	// nothing due and re-arms.
	a.armedAt = at
	a.armedC = a.m.cfg.After(max(at.Sub(a.m.cfg.Now()), 0))
}

// fireDue runs every timer due now.
func (a *actor) fireDue() {
	now := a.m.cfg.Now()
	for t := a.timers.popDue(now); t != nil; t = a.timers.popDue(now) {
		a.onTimer(t.job, t.kind)
	}
}

// webhook routes ev to the job of its participant, if any.
func (a *actor) webhook(ev Event) {
	j := a.jobs[jobKey{ev.Room, ev.Identity}]
	if j == nil {
		a.m.logger.Debug("delegation: webhook for no job", "kind", ev.Kind, "room", ev.Room, "identity", ev.Identity)
		return
	}
	a.signal(j, ev.Kind.signal())
}

// spawn runs call on its own goroutine with the job's context bounded by
// RequestTimeout, and delivers its result to the actor.
func (a *actor) spawn(j *job, op op, call func(ctx context.Context) result) {
	a.calls++
	jctx, timeout := j.ctx, a.m.cfg.RequestTimeout
	a.wg.Go(func() {
		ctx, cancel := context.WithTimeout(jctx, timeout)
		r := call(ctx)
		cancel()
		r.job, r.op = j, op
		select {
		case a.results <- r:
		case <-a.m.stopped:
		}
	})
}

// snapshot is what tests (and debugging) may learn about the actor.
type snapshot struct {
	states map[jobKey]State
	calls  int
	next   time.Time // earliest timer; zero when none
	idle   bool      // nothing in flight, queued or due
}

func (a *actor) snapshot() snapshot {
	s := snapshot{states: make(map[jobKey]State, len(a.jobs)), calls: a.calls}
	for k, j := range a.jobs {
		s.states[k] = j.state
	}
	s.next, _ = a.timers.next()
	due := !s.next.IsZero() && !s.next.After(a.m.cfg.Now())
	s.idle = a.calls == 0 && len(a.m.events) == 0 && !due
	return s
}

// snapshot asks the actor for a snapshot; ok is false once it has stopped.
func (m *Manager) snapshot() (snapshot, bool) {
	reply := make(chan snapshot, 1)
	select {
	case m.snaps <- reply:
		return <-reply, true
	case <-m.stopped:
		return snapshot{}, false
	}
}
