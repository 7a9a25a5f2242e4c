package delegation

import "time"

// observation is what another poller saw of one LiveKit room.
type observation struct {
	room       string
	identities map[string]bool
	at         time.Time
}

// ObserveRoom tells the manager who was in a LiveKit room at a time, as
// another poller of LiveKit (the membership enforcer) saw it: identities
// are the participants listed then (any that were disconnecting left
// out). It counts as a sanity check of every job in the room, so rooms the
// enforcer lists are not polled twice: a job's participant that is absent
// is treated as gone (after the reconnect grace), one present as connected.
// It never blocks; an observation that finds the queue full is dropped.
func (m *Manager) ObserveRoom(room string, identities []string, at time.Time) {
	o := observation{room: room, identities: make(map[string]bool, len(identities)), at: at}
	for _, id := range identities {
		o.identities[id] = true
	}
	select {
	case <-m.quit:
	case <-m.stopped:
	case m.observations <- o:
	default:
		m.logger.Debug("delegation: observation queue full; dropped", "room", room)
	}
}

// observeRoom applies o to the jobs of its room.
func (a *actor) observeRoom(o observation) {
	jobs := a.byRoom[o.room]
	if len(jobs) == 0 {
		return
	}
	if o.at.After(a.observed[o.room]) {
		a.observed[o.room] = o.at
	}
	for identity, j := range jobs {
		present := o.identities[identity]
		switch {
		case present && j.state == StateConnected:
			j.seenAt = later(j.seenAt, o.at)
		case present:
			a.signal(j, sigFound) // connects a waiting job, ends a grace
		case j.state == StateConnected && o.at.After(j.seenAt):
			// Seen after the listing was taken (a webhook, a lookup):
			// that absence is stale.
			a.signal(j, sigObservedGone)
		}
	}
}

// sanity runs a phase-2 lookup unless another poller listed the room
// within the interval; then it waits for the interval from that listing.
func (a *actor) sanity(j *job) {
	iv := a.m.cfg.SanityCheckInterval
	if t, ok := a.observed[j.p.Room]; ok && a.m.cfg.Now().Sub(t) < iv {
		a.timers.set(j, timerPoll, t.Add(iv))
		return
	}
	a.lookup(j, opSanity)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
