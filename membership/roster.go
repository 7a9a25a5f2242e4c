package membership

import (
	"maps"
	"sync"
	"time"

	"maunium.net/go/mautrix/id"
)

// Roster knows who is joined to each room the bot is in, from m.room.member
// state, and which events of a room that may be call memberships the bot
// could not decrypt yet (see Unreadable). The feed is its only writer;
// token requests and the enforcer read it, so it is guarded by a RWMutex
// rather than owned by a goroutine.
type Roster struct {
	mu    sync.RWMutex
	rooms map[id.RoomID]map[id.UserID]bool

	// unreadable holds, per room, the undecryptable events that may be
	// call memberships, until they decrypt (and the batch that carried the
	// decryption is in the tracker), expire or the room is forgotten.
	unreadable map[id.RoomID]map[id.EventID]unreadableMark
	// stickySeen is, per sticky membership source, the origin time of the
	// newest event read: a late decryption must not undo a newer event.
	stickySeen map[Source]time.Time
	now        func() time.Time
}

// unreadableMark is one undecryptable event: it counts until until (the end
// of its stickiness); readable says it has decrypted since and goes at the
// next settleUnreadable.
type unreadableMark struct {
	until    time.Time
	readable bool
}

// maxUnreadablePerRoom bounds the marks kept per room. Beyond it the mark
// that ends first is dropped: the room stays unreadable either way.
const maxUnreadablePerRoom = 256

// NewRoster returns an empty roster.
func NewRoster() *Roster {
	return &Roster{
		rooms:      map[id.RoomID]map[id.UserID]bool{},
		unreadable: map[id.RoomID]map[id.EventID]unreadableMark{},
		stickySeen: map[Source]time.Time{},
		now:        time.Now,
	}
}

// MemberChange is one m.room.member state event.
type MemberChange struct {
	Room   id.RoomID
	User   id.UserID
	Joined bool
}

// apply records changes; with full set, it first forgets everything (an
// initial sync's complete state).
func (r *Roster) apply(changes []MemberChange, full bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if full {
		clear(r.rooms)
	}
	for _, c := range changes {
		users := r.rooms[c.Room]
		if users == nil {
			users = map[id.UserID]bool{}
			r.rooms[c.Room] = users
		}
		if c.Joined {
			users[c.User] = true
		} else {
			delete(users, c.User)
		}
	}
}

// forget drops a room the bot left.
func (r *Roster) forget(room id.RoomID) {
	r.mu.Lock()
	delete(r.rooms, room)
	delete(r.unreadable, room)
	maps.DeleteFunc(r.stickySeen, func(src Source, _ time.Time) bool { return src.Room == room })
	r.mu.Unlock()
}

// Knows reports whether the bot sees the room's members.
func (r *Roster) Knows(room id.RoomID) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.rooms[room]
	return ok
}

// Joined reports whether user is joined to room.
func (r *Roster) Joined(room id.RoomID, user id.UserID) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.rooms[room][user]
}

// Rooms lists the rooms whose members the bot sees.
func (r *Roster) Rooms() []id.RoomID {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]id.RoomID, 0, len(r.rooms))
	for room := range r.rooms {
		out = append(out, room)
	}
	return out
}
