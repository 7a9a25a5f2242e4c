package delegation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"github.com/switchboard-rtc/switchboard/internal/timeheap"
)

// op is the kind of call a result answers.
type op int

const (
	opLookup  op = iota + 1 // phase 1: has the participant connected?
	opSanity                // phase 2: is the participant still there?
	opRestart               // restart the delayed event
	opSend                  // send the delayed event
	opConfirm               // end of the reconnect grace: is the participant back?
	opList                  // phase 2 for a whole room: who is there?
)

// result is what a call goroutine reports to the actor.
type result struct {
	job     *job
	op      op
	present bool        // lookups: the participant is on LiveKit
	lkErr   error       // lookups: presence unknown
	list    observation // opList: the room as listed
	cs      csResult
}

// job is one delegated delayed leave. All fields but p and ctx are owned
// by the actor.
type job struct {
	id     uint64
	key    jobKey
	p      Params
	ctx    context.Context // ends when the job ends or Run stops
	cancel context.CancelFunc
	log    *slog.Logger

	state     State
	timers    [numTimers]*timeheap.Entry[timer]
	addedAt   time.Time
	restarted time.Time // last successful restart; zero before the first
	seenAt    time.Time // last time the participant was known to be on LiveKit
	deadline  time.Time // when the delayed event fires unless restarted
	sendBy    time.Time // when send retries stop
	reason    string    // how the participant left (the input that began it), for the sent log
	pollWait  backoffState
	retry     backoffState // restart or send retries
}

// add creates the job for p, replacing the current one for its key.
func (a *actor) add(p Params) error {
	key := jobKey{p.Room, p.Identity}
	old := a.jobs[key]
	if old == nil && len(a.jobs) >= a.m.cfg.MaxJobs {
		return ErrTooManyJobs
	}
	if (old == nil || old.p.UserID != p.UserID) && p.UserID != "" && a.perUser[p.UserID] >= a.m.cfg.MaxJobsPerUser {
		return fmt.Errorf("%w: %s holds %d", ErrTooManyUserJobs, p.UserID, a.perUser[p.UserID])
	}
	if old != nil {
		a.signal(old, sigReplaced)
	}
	j := a.newJob(p, a.m.cfg.Now())
	j.log.Info("delegation: job added", "delay_timeout", p.DelayTimeout)
	a.save(j)
	a.observe(j, StateUnknown, StateWaitingForInitialConnect, "Added")
	a.waitForConnect(j)
	return nil
}

// newJob puts a job for p, added at addedAt, in the table, waiting for its
// participant.
func (a *actor) newJob(p Params, addedAt time.Time) *job {
	a.nextID++
	ctx, cancel := context.WithCancel(a.ctx)
	j := &job{
		id: a.nextID, key: jobKey{p.Room, p.Identity}, p: p, ctx: ctx, cancel: cancel,
		state: StateWaitingForInitialConnect, addedAt: addedAt, deadline: addedAt.Add(p.DelayTimeout),
		log: a.m.logger.With("job", a.nextID, "room", p.Room, "identity", p.Identity,
			"delay_id", shortID(p.DelayID)),
	}
	a.jobs[j.key] = j
	a.perUser[p.UserID]++
	if a.byRoom[p.Room] == nil {
		a.byRoom[p.Room] = make(map[string]*job)
	}
	a.byRoom[p.Room][p.Identity] = j
	return j
}

// waitForConnect is phase 1: wait for the participant for at most
// min(1 h, timeout) from when the job was added, looking it up at once and
// then with backoff.
func (a *actor) waitForConnect(j *job) {
	a.timers.set(j, timerWait, j.addedAt.Add(min(maxInitialWait, j.p.DelayTimeout)))
	a.lookup(j, opLookup)
}

// signal feeds sig to j's state machine and runs the exit and entry
// actions of a transition.
func (a *actor) signal(j *job, sig signal) {
	from := j.state
	to, ok := transition(from, sig)
	if !ok {
		j.log.Debug("delegation: input ignored", "state", from, "input", sig)
		return
	}
	if to == StateDeparting && a.m.cfg.ReconnectGrace <= 0 {
		to = StateDisconnected
	}
	j.state = to
	j.log.Info("delegation: transition", "from", from, "to", to, "input", sig)
	a.observe(j, from, to, sig.String())

	switch from { // exit actions
	case StateWaitingForInitialConnect:
		a.timers.stop(j, timerWait)
		a.timers.stop(j, timerPoll)
	case StateConnected:
		a.timers.stop(j, timerPoll)
		if to != StateDeparting { // the grace keeps the event restarted
			a.timers.stop(j, timerRestart)
		}
	case StateDeparting:
		a.timers.stop(j, timerGrace)
		a.timers.stop(j, timerRestart)
	}
	now := a.m.cfg.Now()
	switch to { // entry actions
	case StateConnected:
		// Restart at once: we do not know how long ago the client last
		// restarted it. Then phase 2, if enabled.
		j.seenAt, j.reason = now, ""
		j.retry.reset()
		a.restart(j)
		a.scheduleSanity(j, now)
		a.save(j)
	case StateDeparting:
		j.reason = sig.String() // how it left, for the sent log
		j.log.Info("delegation: participant left LiveKit; waiting for a reconnect", "grace", a.m.cfg.ReconnectGrace)
		a.timers.set(j, timerGrace, now.Add(a.m.cfg.ReconnectGrace))
	case StateDisconnected:
		// Retry the send until the event would have fired by itself,
		// within [1 s, 1 h].
		if j.reason == "" {
			j.reason = sig.String()
		}
		j.sendBy = now.Add(min(max(j.deadline.Sub(now), minSendWindow), maxSendWindow))
		j.retry.reset()
		a.send(j)
	case StateDone, StateAborted, StateReplaced:
		a.end(j, from, sig, now)
	}
}

// scheduleSanity arms j's next phase-2 lookup, if they are enabled.
func (a *actor) scheduleSanity(j *job, now time.Time) {
	if iv := a.m.cfg.SanityCheckInterval; iv > 0 && a.m.lk != nil {
		a.timers.set(j, timerPoll, now.Add(iv))
	}
}

// end removes a finished job from the table and the store, and logs a send.
func (a *actor) end(j *job, from State, sig signal, now time.Time) {
	a.timers.stopAll(j)
	j.cancel() // aborts calls in flight; their results are ignored
	if a.jobs[j.key] != j {
		return
	}
	delete(a.jobs, j.key)
	if a.perUser[j.p.UserID]--; a.perUser[j.p.UserID] <= 0 {
		delete(a.perUser, j.p.UserID)
	}
	if delete(a.byRoom[j.p.Room], j.p.Identity); len(a.byRoom[j.p.Room]) == 0 {
		delete(a.byRoom, j.p.Room)
		delete(a.observed, j.p.Room)
	}
	if sig != sigReplaced { // the replacing job took the stored row
		a.unsave(j)
	}
	if from == StateDisconnected {
		a.logSent(j, sig, now)
	}
}

func (a *actor) observe(j *job, from, to State, cause string) {
	if a.m.cfg.Observe != nil {
		a.m.cfg.Observe(Transition{JobID: j.id, Room: j.p.Room, Identity: j.p.Identity, From: from, To: to, Cause: cause})
	}
}

// onTimer runs the action of a due timer.
func (a *actor) onTimer(j *job, kind timerKind) {
	switch {
	case kind == timerWait:
		a.signal(j, sigWaitExpired)
	case kind == timerPoll && j.state == StateWaitingForInitialConnect:
		a.lookup(j, opLookup)
	case kind == timerPoll && j.state == StateConnected:
		a.sanity(j)
	case kind == timerRestart && (j.state == StateConnected || j.state == StateDeparting):
		a.restart(j)
	case kind == timerGrace && j.state == StateDeparting:
		if a.m.lk == nil {
			a.signal(j, sigGone)
			return
		}
		a.lookup(j, opConfirm)
	case kind == timerSend && j.state == StateDisconnected:
		a.send(j)
	}
}

// result handles a call's result; results for a state the job has left
// are stale and ignored.
func (a *actor) result(r result) {
	j, now := r.job, a.m.cfg.Now()
	switch {
	case r.op == opLookup && j.state == StateWaitingForInitialConnect:
		if r.present {
			a.signal(j, sigFound)
			return
		}
		if r.lkErr != nil {
			j.log.Debug("delegation: participant lookup failed", "err", r.lkErr)
		}
		a.timers.set(j, timerPoll, now.Add(j.pollWait.next(a.m.cfg.Backoff, a.m.cfg.Rand)))

	case r.op == opSanity && j.state == StateConnected:
		if !r.present && r.lkErr == nil {
			j.log.Info("delegation: participant no longer on LiveKit")
			a.signal(j, sigGone)
			return
		}
		if r.lkErr != nil {
			j.log.Warn("delegation: sanity check failed; ignored", "err", r.lkErr)
		} else {
			j.seenAt = now
		}
		a.scheduleSanity(j, now)

	case r.op == opConfirm && j.state == StateDeparting:
		if r.present {
			j.log.Info("delegation: participant reconnected within the grace")
			a.signal(j, sigFound)
			return
		}
		if r.lkErr != nil {
			// It was seen leaving; a LiveKit error cannot show it came back.
			j.log.Warn("delegation: reconnect check failed; treating the participant as gone", "err", r.lkErr)
		}
		a.signal(j, sigGone)

	case r.op == opList:
		delete(a.listing, r.list.room)
		if r.lkErr != nil {
			// Unknown is not absent: the next listing decides.
			j.log.Warn("delegation: room listing failed; ignored", "err", r.lkErr)
			return
		}
		a.observeRoom(r.list)

	case r.op == opRestart && (j.state == StateConnected || j.state == StateDeparting):
		a.restarted(j, r.cs, now)

	case r.op == opSend && j.state == StateDisconnected:
		a.sent(j, r.cs, now)
	}
}

// restarted handles a restart's answer.
func (a *actor) restarted(j *job, r csResult, now time.Time) {
	a.m.cfg.Metrics.answered(opRestart, r.outcome)
	switch r.outcome {
	case outcomeOK:
		j.deadline = now.Add(j.p.DelayTimeout)
		j.restarted = now
		a.save(j)
		j.retry.reset()
		period := max(j.p.DelayTimeout*8/10, minRestartPeriod)
		a.timers.set(j, timerRestart, now.Add(period))
		j.log.Debug("delegation: delayed event restarted", "next_in", period)
	case outcomeGone:
		j.log.Warn("delegation: delayed event not found on restart; it was sent, cancelled or has fired")
		a.signal(j, sigRestartGone)
	case outcomeRetry:
		at := now.Add(max(j.retry.next(a.m.cfg.Backoff, a.m.cfg.Rand), r.retryAfter))
		if !at.Before(j.deadline) {
			j.log.Warn("delegation: restart failed until the delayed event's deadline", "status", r.status, "err", r.err)
			a.signal(j, sigRestartFailed)
			return
		}
		j.log.Info("delegation: restart failed; retrying", "status", r.status, "err", r.err, "in", at.Sub(now))
		a.timers.set(j, timerRestart, at)
	default:
		j.log.Warn("delegation: restart impossible", "err", r.err)
		a.signal(j, sigRestartFailed)
	}
}

// sent handles a send's answer.
func (a *actor) sent(j *job, r csResult, now time.Time) {
	a.m.cfg.Metrics.answered(opSend, r.outcome)
	switch r.outcome {
	case outcomeOK:
		a.signal(j, sigSent)
	case outcomeGone:
		j.log.Info("delegation: delayed event not found on send; it was already sent or cancelled")
		a.signal(j, sigSent)
	case outcomeRetry:
		at := now.Add(max(j.retry.next(a.m.cfg.Backoff, a.m.cfg.Rand), r.retryAfter))
		if at.After(j.sendBy) {
			j.log.Warn("delegation: send failed; giving up", "status", r.status, "err", r.err)
			a.signal(j, sigSendFailed)
			return
		}
		j.log.Info("delegation: send failed; retrying", "status", r.status, "err", r.err, "in", at.Sub(now))
		a.timers.set(j, timerSend, at)
	default:
		j.log.Warn("delegation: send impossible", "err", r.err)
		a.signal(j, sigSendFailed)
	}
}

// lookup asks LiveKit whether j's participant is connected.
func (a *actor) lookup(j *job, o op) {
	lk := a.m.lk
	if lk == nil {
		return
	}
	req := &livekit.RoomParticipantIdentity{Room: j.p.Room, Identity: j.p.Identity}
	a.spawn(j, o, func(ctx context.Context) result {
		_, err := lk.GetParticipant(ctx, req)
		switch {
		case err == nil:
			return result{present: true}
		case isNotFound(err):
			return result{}
		}
		return result{lkErr: fmt.Errorf("GetParticipant: %w", err)}
	})
}

func (a *actor) restart(j *job) { a.csCall(j, opRestart, actionRestart) }
func (a *actor) send(j *job)    { a.csCall(j, opSend, actionSend) }

func (a *actor) csCall(j *job, o op, act action) {
	hc, now, base, id := a.m.hc, a.m.cfg.Now, j.p.CSAPIURL, j.p.DelayID
	a.spawn(j, o, func(ctx context.Context) result {
		return result{cs: doAction(ctx, hc, now, base, id, act)}
	})
}

// isNotFound reports a confirmed absence of the participant.
func isNotFound(err error) bool {
	if errors.Is(err, ErrParticipantNotFound) {
		return true
	}
	te, ok := errors.AsType[twirp.Error](err)
	return ok && te.Code() == twirp.NotFound
}
