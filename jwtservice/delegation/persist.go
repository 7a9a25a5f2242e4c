package delegation

import (
	"context"
	"time"
)

// Stored is a job as a Store keeps it.
type Stored struct {
	Params
	AddedAt     time.Time
	RestartedAt time.Time // last successful restart; zero before the first
	Connected   bool      // the participant had been seen on LiveKit
}

// Store keeps delegated jobs across restarts (*SQLStore is the real one).
// The actor calls it on its own goroutine, so calls should be quick; an
// error is logged and the job goes on in memory.
type Store interface {
	Load(ctx context.Context) ([]Stored, error)
	// Save inserts or replaces the job of (Room, Identity).
	Save(ctx context.Context, s Stored) error
	Delete(ctx context.Context, room, identity string) error
}

// save writes j's current record to the store, if there is one.
func (a *actor) save(j *job) {
	st := a.m.cfg.Store
	if st == nil {
		return
	}
	s := Stored{Params: j.p, AddedAt: j.addedAt, RestartedAt: j.restarted, Connected: j.state != StateWaitingForInitialConnect}
	if err := st.Save(a.ctx, s); err != nil {
		j.log.Error("delegation: job not saved; it will be lost on restart", "err", err)
	}
}

// unsave removes j's record from the store.
func (a *actor) unsave(j *job) {
	if st := a.m.cfg.Store; st != nil {
		if err := st.Delete(a.ctx, j.p.Room, j.p.Identity); err != nil {
			j.log.Error("delegation: finished job not deleted from the store", "err", err)
		}
	}
}

// reload takes the stored jobs back. A participant seen before the
// restart is looked up at once: one that left while we were down gets its
// leave sent right away (after the reconnect grace); the event is restarted
// meanwhile, as it may be close to firing. One never seen waits for its
// connection until its original wait ends.
func (a *actor) reload() {
	st := a.m.cfg.Store
	if st == nil {
		return
	}
	saved, err := st.Load(a.ctx)
	if err != nil {
		a.m.logger.Error("delegation: stored jobs not loaded; their delayed events will fire by themselves", "err", err)
		return
	}
	for _, s := range saved {
		if err := s.Params.validate(); err != nil || a.jobs[jobKey{s.Room, s.Identity}] != nil {
			a.m.logger.Warn("delegation: stored job dropped", "room", s.Room, "identity", s.Identity, "err", err)
			continue
		}
		j := a.newJob(s.Params, s.AddedAt)
		j.restarted = s.RestartedAt
		if !s.RestartedAt.IsZero() {
			j.deadline = s.RestartedAt.Add(s.DelayTimeout)
		}
		j.log.Info("delegation: job reloaded", "connected_before", s.Connected, "last_restart", s.RestartedAt)
		if !s.Connected {
			a.observe(j, StateUnknown, StateWaitingForInitialConnect, "Reloaded")
			a.waitForConnect(j)
			continue
		}
		j.state = StateConnected
		j.seenAt = s.AddedAt
		a.observe(j, StateUnknown, StateConnected, "Reloaded")
		a.restart(j)
		a.lookup(j, opSanity)
	}
	if len(saved) > 0 {
		a.m.logger.Info("delegation: stored jobs reloaded", "jobs", len(a.jobs))
	}
}
