package membership

import (
	"context"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
)

// pending is one sync batch as the feed collects it, until KindSyncDone.
type pending struct {
	joins   []MemberChange // m.room.member changes, in order
	updates []Update       // call-member updates, in order
	// The bot's own membership changes seen in this batch. A sync delivers
	// a left room's last events before the bot's leave; they must not bring
	// the room back (#9 defect 1).
	left   map[id.RoomID]bool
	joined map[id.RoomID]bool
}

func newPending() *pending {
	return &pending{left: map[id.RoomID]bool{}, joined: map[id.RoomID]bool{}}
}

// botMembership notes the bot's own membership change and, on a leave,
// drops what the batch collected for that room.
func (b *pending) botMembership(ev matrixbot.Event) {
	room := ev.RoomID
	switch ev.Membership {
	case event.MembershipJoin:
		b.joined[room] = true
		delete(b.left, room)
	case event.MembershipLeave, event.MembershipBan:
		b.left[room] = true
		delete(b.joined, room)
		b.joins = dropIf(b.joins, func(c MemberChange) bool { return c.Room == room })
		b.updates = dropIf(b.updates, func(u Update) bool { return u.Source.Room == room })
	}
}

// commit applies a finished batch: room members to the roster, then the
// call memberships of rooms the bot is in to the tracker, then forgets the
// memberships of users who ended the batch outside their room.
func (f *Feed) commit(ctx context.Context, b *pending, initial bool) error {
	joins := b.joins
	if !initial {
		// Only rooms the bot is in: a delta never introduces a room by
		// itself (that is the bot's own join, seen above).
		joins = dropIf(joins, func(c MemberChange) bool { return !b.joined[c.Room] && !f.roster.Knows(c.Room) })
	}
	f.roster.apply(joins, initial)
	updates := dropIf(b.updates, func(u Update) bool { return !f.roster.Knows(u.Source.Room) })
	f.dropUnjoined(updates)
	var err error
	if initial {
		err = f.tracker.IngestSnapshot(ctx, updates)
	} else if len(updates) > 0 {
		err = f.tracker.IngestBatch(ctx, updates)
	}
	for _, c := range outsideAtEnd(joins) {
		if err == nil {
			err = f.tracker.ForgetSender(ctx, c.Room, c.User)
		}
	}
	return err
}

func dropIf[T any](items []T, drop func(T) bool) []T {
	out := items[:0]
	for _, it := range items {
		if !drop(it) {
			out = append(out, it)
		}
	}
	return out
}

// outsideAtEnd lists, once each in batch order, the users whose last
// member event in the batch leaves them outside the room. A leave followed
// by a rejoin in one batch is no leave (#9 defect 2).
func outsideAtEnd(joins []MemberChange) []MemberChange {
	type key struct {
		room id.RoomID
		user id.UserID
	}
	last := make(map[key]bool, len(joins))
	for _, c := range joins {
		last[key{c.Room, c.User}] = c.Joined
	}
	var out []MemberChange
	for _, c := range joins {
		k := key{c.Room, c.User}
		if joined, ok := last[k]; ok && !joined {
			out = append(out, c)
			delete(last, k)
		}
	}
	return out
}
