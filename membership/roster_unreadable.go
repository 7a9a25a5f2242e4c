package membership

import (
	"maps"
	"time"

	"maunium.net/go/mautrix/id"
)

// Unreadable is how many events of room that may be call memberships the
// bot has not been able to decrypt yet (their key is missing) and that are
// still within their stickiness. While it is above zero the room's
// memberships are not fully known: unknown is not absent, so nobody may be
// judged absent from the room's calls.
func (r *Roster) Unreadable(room id.RoomID) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	marks := r.unreadable[room]
	now := r.now()
	maps.DeleteFunc(marks, func(_ id.EventID, m unreadableMark) bool { return !m.until.After(now) })
	if len(marks) == 0 {
		delete(r.unreadable, room)
	}
	return len(marks)
}

// markUnreadable records an undecryptable event of room that counts until
// until.
func (r *Roster) markUnreadable(room id.RoomID, evt id.EventID, until time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !until.After(r.now()) {
		return
	}
	marks := r.unreadable[room]
	if marks == nil {
		marks = map[id.EventID]unreadableMark{}
		r.unreadable[room] = marks
	}
	if _, ok := marks[evt]; !ok && len(marks) >= maxUnreadablePerRoom {
		var first id.EventID
		for e, m := range marks {
			if first == "" || m.until.Before(marks[first].until) {
				first = e
			}
		}
		delete(marks, first)
	}
	marks[evt] = unreadableMark{until: until}
}

// readable notes that an event marked unreadable has decrypted. Its mark
// still counts until settleUnreadable: the membership it carries reaches
// the tracker only when its batch is committed, and until then the room
// must not look complete.
func (r *Roster) readable(room id.RoomID, evt id.EventID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m, ok := r.unreadable[room][evt]; ok {
		m.readable = true
		r.unreadable[room][evt] = m
	}
}

// settleUnreadable drops the marks of events that have decrypted; the feed
// calls it once their batch is in the tracker.
func (r *Roster) settleUnreadable() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for room, marks := range r.unreadable {
		maps.DeleteFunc(marks, func(_ id.EventID, m unreadableMark) bool { return m.readable })
		if len(marks) == 0 {
			delete(r.unreadable, room)
		}
	}
}

// maxStickySeen bounds stickySeen; beyond it, entries whose events can no
// longer be sticky go first, then arbitrary ones (which only loses the
// ordering guard for them).
const maxStickySeen = 4096

// stickyCurrent reports whether a sticky event of src sent at origin is at
// least as new as every one read before, and records it if so. Events
// normally arrive in order; a late decryption does not, and the newer
// event (a withdrawal, say) must win.
func (r *Roster) stickyCurrent(src Source, origin time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if last, ok := r.stickySeen[src]; ok && origin.Before(last) {
		return false
	}
	if _, ok := r.stickySeen[src]; !ok && len(r.stickySeen) >= maxStickySeen {
		cutoff := r.now().Add(-MaxStickyTTL)
		maps.DeleteFunc(r.stickySeen, func(_ Source, t time.Time) bool { return t.Before(cutoff) })
		for k := range r.stickySeen {
			if len(r.stickySeen) < maxStickySeen {
				break
			}
			delete(r.stickySeen, k)
		}
	}
	r.stickySeen[src] = origin
	return true
}
