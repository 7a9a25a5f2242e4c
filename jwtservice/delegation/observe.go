package delegation

import (
	"context"
	"fmt"
	"time"

	"github.com/livekit/protocol/livekit"
)

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
// The manager's own phase-2 checks go through the same path.
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

// sanity is j's phase-2 check: a listing of its room, shared by the jobs
// there, unless the room was listed (by us or another poller) within the
// interval; then it waits for the interval from that listing. j looks again
// after the interval whatever the listing finds, so a failed one does not
// end its checks.
func (a *actor) sanity(j *job) {
	iv, now, room := a.m.cfg.SanityCheckInterval, a.m.cfg.Now(), j.p.Room
	if t, ok := a.observed[room]; ok && now.Sub(t) < iv {
		a.timers.set(j, timerPoll, t.Add(iv))
		return
	}
	a.timers.set(j, timerPoll, now.Add(iv))
	if a.listing[room] {
		return
	}
	a.listing[room] = true
	lk := a.m.lk
	a.spawn(j, opList, func(ctx context.Context) result {
		o := observation{room: room, identities: map[string]bool{}, at: now}
		resp, err := lk.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: room})
		switch {
		case isNotFound(err): // no such room: nobody there
		case err != nil:
			return result{list: o, lkErr: fmt.Errorf("ListParticipants: %w", err)}
		}
		for _, p := range resp.GetParticipants() {
			if p.GetState() != livekit.ParticipantInfo_DISCONNECTED {
				o.identities[p.GetIdentity()] = true
			}
		}
		return result{list: o}
	})
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
