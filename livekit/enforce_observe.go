package livekit

import "time"

// RoomObserver is told who the enforcer found in each LiveKit room it
// listed, so that the delegated leaves (jwtservice/delegation.Manager, whose
// ObserveRoom has this shape) need not poll LiveKit for the same rooms: one
// poller, not two. identities are the room's participants other than those
// already disconnecting; at is a time no later than the listing. It must
// not block.
type RoomObserver interface {
	ObserveRoom(room string, identities []string, at time.Time)
}

// ObserverFunc adapts a function to RoomObserver (for wiring an observer
// made after the enforcer).
type ObserverFunc func(room string, identities []string, at time.Time)

func (f ObserverFunc) ObserveRoom(room string, identities []string, at time.Time) {
	f(room, identities, at)
}
