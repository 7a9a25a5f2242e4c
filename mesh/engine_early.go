package mesh

import (
	"slices"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/membership"
)

// Call events for a call not carried yet. The supervisor hands a call to
// the engine only once our membership is written, but a member who reads
// it first may invite us at once (before Carry). Such events are held
// briefly and handed to the call when it is carried, so the invite is
// answered rather than left to ring out its lifetime.
const (
	// earlyHold is how long an event waits for its call: Carry follows
	// the membership write by the seat writer's poll (100 ms) and a
	// decision; anything much later is not for a call we are joining.
	earlyHold = 15 * time.Second
	// maxEarly bounds the events held across all calls: any member may
	// send call events for calls we never join. Beyond it the oldest goes.
	maxEarly = 64
)

// earlyEvent is one call event held for a call not carried yet.
type earlyEvent struct {
	room id.RoomID
	conf string
	in   Incoming
	at   time.Time
}

// holdEarly keeps in for the call (room, conf) until it is carried or
// earlyHold passes; e.mu held.
func (e *Engine) holdEarly(room id.RoomID, conf string, in Incoming, now time.Time) {
	e.early = slices.DeleteFunc(e.early, func(ev earlyEvent) bool { return now.Sub(ev.at) > earlyHold })
	if len(e.early) >= maxEarly {
		e.early = slices.Delete(e.early, 0, 1)
	}
	e.early = append(e.early, earlyEvent{room: room, conf: conf, in: in, at: now})
}

// takeEarly removes and returns, in arrival order, the events held for
// call that are still fresh; e.mu held.
func (e *Engine) takeEarly(call membership.CallKey, now time.Time) []Incoming {
	var out []Incoming
	e.early = slices.DeleteFunc(e.early, func(ev earlyEvent) bool {
		if ev.room != call.Room || ev.conf != call.CallID {
			return now.Sub(ev.at) > earlyHold
		}
		if now.Sub(ev.at) <= earlyHold {
			out = append(out, ev.in)
		}
		return true
	})
	return out
}
