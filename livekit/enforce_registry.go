package livekit

import (
	"sync"
	"time"

	"maunium.net/go/mautrix/id"
)

// RoomNames remembers which Matrix room each LiveKit room name belongs to,
// for the names that cannot be derived from live memberships: rooms the JWT
// service created or named for a token (any slot a client asked for), and
// named calls whose members have all left. Enforcement judges every one of
// them whose Matrix room the bot is in (#9 defect 6).
//
// The JWT service writes from its request goroutines and the enforcer
// reads, so a mutex guards it. It is bounded: past max names the oldest
// one is dropped.
type RoomNames struct {
	now func() time.Time
	max int

	mu    sync.Mutex
	names map[string]namedRoom
}

type namedRoom struct {
	room id.RoomID
	seen time.Time // last named, or last seen in LiveKit
}

// NewRoomNames returns an empty registry of at most max names (65536 if
// max <= 0).
func NewRoomNames(max int) *RoomNames {
	if max <= 0 {
		max = 1 << 16
	}
	return &RoomNames{now: time.Now, max: max, names: map[string]namedRoom{}}
}

// Named records that lkRoom is a LiveKit room of matrixRoom (the JWT
// service calls it for every token it issues).
func (n *RoomNames) Named(lkRoom, matrixRoom string) {
	n.note(lkRoom, id.RoomID(matrixRoom), n.now())
}

func (n *RoomNames) note(lkRoom string, room id.RoomID, at time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.names[lkRoom]; !ok && len(n.names) >= n.max {
		n.dropOldest()
	}
	n.names[lkRoom] = namedRoom{room: room, seen: at}
}

func (n *RoomNames) dropOldest() {
	var oldest string
	var at time.Time
	for name, e := range n.names {
		if oldest == "" || e.seen.Before(at) {
			oldest, at = name, e.seen
		}
	}
	delete(n.names, oldest)
}

// lookup returns the Matrix room of a LiveKit room name.
func (n *RoomNames) lookup(lkRoom string) (id.RoomID, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	e, ok := n.names[lkRoom]
	return e.room, ok
}

// prune keeps the names of rooms LiveKit still has (refreshing them) and
// of rooms named within retain (a token for them may still be used);
// it forgets the rest.
func (n *RoomNames) prune(present map[string]bool, now time.Time, retain time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for name, e := range n.names {
		switch {
		case present[name]:
			e.seen = now
			n.names[name] = e
		case now.Sub(e.seen) > retain:
			delete(n.names, name)
		}
	}
}
