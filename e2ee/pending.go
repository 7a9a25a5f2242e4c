package e2ee

import (
	"time"

	"maunium.net/go/mautrix/id"
)

// held is a key event that passed every check but the membership one, kept
// until the membership appears or the hold times out. Keys often arrive
// before the sender's membership: senders pre-share keys before (or while)
// their membership event travels through sync.
type held struct {
	ev      KeyEvent
	tr      Transport
	arrived time.Time
}

// holdBuffer keeps held events in arrival order, bounded in total and per
// sending device so one noisy (or hostile) device cannot push out the keys
// of everyone else. It is owned by the Validator and not locked.
type holdBuffer struct {
	ttl       time.Duration
	max       int
	perDevice int
	items     []held
}

func sameSender(h held, room id.RoomID, user id.UserID, device id.DeviceID) bool {
	return h.ev.Call.Room == room && h.tr.Sender == user && h.ev.DeviceID == device
}

// add holds h. It returns the event dropped to make room (the device's
// oldest when it is over its share), and false when h did not fit.
func (b *holdBuffer) add(h held) (dropped []held, ok bool) {
	n, oldest := 0, -1
	for i, o := range b.items {
		if o.tr.Sender == h.tr.Sender && o.ev.DeviceID == h.ev.DeviceID {
			if n++; oldest < 0 {
				oldest = i
			}
		}
	}
	if n >= b.perDevice {
		dropped = append(dropped, b.items[oldest])
		b.items = append(b.items[:oldest], b.items[oldest+1:]...)
	}
	if len(b.items) >= b.max {
		return dropped, false
	}
	b.items = append(b.items, h)
	return dropped, true
}

// take removes and returns the events of one sending device in a room.
func (b *holdBuffer) take(room id.RoomID, user id.UserID, device id.DeviceID) []held {
	return b.remove(func(h held) bool { return sameSender(h, room, user, device) })
}

// expire removes and returns the events held for ttl or longer at now.
func (b *holdBuffer) expire(now time.Time) []held {
	return b.remove(func(h held) bool { return !now.Before(h.arrived.Add(b.ttl)) })
}

// remove takes out every event match selects, keeping the others' order.
func (b *holdBuffer) remove(match func(held) bool) []held {
	var out []held
	kept := b.items[:0]
	for _, h := range b.items {
		if match(h) {
			out = append(out, h)
		} else {
			kept = append(kept, h)
		}
	}
	clear(b.items[len(kept):])
	b.items = kept
	return out
}

// next is when the earliest held event times out.
func (b *holdBuffer) next() (time.Time, bool) {
	var first time.Time
	for i, h := range b.items {
		if at := h.arrived.Add(b.ttl); i == 0 || at.Before(first) {
			first = at
		}
	}
	return first, len(b.items) > 0
}
