package calls

import (
	"fmt"
	"maps"
	"sort"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/membership"
)

// Default bounds on our seats (calls.max_seats_per_room, calls.max_seats).
// Any room member can ask for a seat per call id and dialect it advertises,
// and each costs a delayed-leave restart every 4-5 s, state writes and a
// key session with every member device.
const (
	// A room's call in both dialects takes two seats; four leave room for
	// one more call, and one member advertising call ids gets no more.
	DefaultMaxSeatsPerRoom = 4
	// 200 seats restart their delayed leaves about 50 times a second in
	// all, a load one homeserver carries beside its users.
	DefaultMaxSeats = 200
)

// seatLimits decides which wanted seats we take within the bounds, and
// remembers its refusals so that each is logged once. Run's goroutine owns it.
type seatLimits struct {
	perRoom, total int
	since          map[membership.SeatKey]time.Time // when each seat was first wanted
	refused        map[membership.SeatKey]string    // the reason, by seat
}

func newSeatLimits(perRoom, total int) *seatLimits {
	return &seatLimits{perRoom: perRoom, total: total, since: map[membership.SeatKey]time.Time{}, refused: map[membership.SeatKey]string{}}
}

// grant picks the seats we take: the ones we hold keep theirs, so seats do
// not flap; then the longest wanted first, ties broken by the call's
// oldest member and then by name, while the room and the total have room.
// A MatrixRTC state key holds one membership, so a second call on the same
// key (same application and call id, another scope) is refused. It returns
// the granted seats and the refusals that are new or whose reason changed.
func (l *seatLimits) grant(want map[membership.SeatKey]membership.Member, held func(membership.SeatKey) bool, now time.Time) (map[membership.SeatKey]membership.Member, map[membership.SeatKey]string) {
	type candidate struct {
		k    membership.SeatKey
		m    membership.Member
		held bool
	}
	cands := make([]candidate, 0, len(want))
	for k, m := range want {
		if _, ok := l.since[k]; !ok {
			l.since[k] = now
		}
		cands = append(cands, candidate{k: k, m: m, held: held(k)})
	}
	for k := range l.since {
		if _, ok := want[k]; !ok {
			delete(l.since, k)
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		switch {
		case a.held != b.held:
			return a.held
		case !l.since[a.k].Equal(l.since[b.k]):
			return l.since[a.k].Before(l.since[b.k])
		case !a.m.CreatedAt.Equal(b.m.CreatedAt):
			return a.m.CreatedAt.Before(b.m.CreatedAt)
		}
		return a.k.Less(b.k)
	})
	granted := make(map[membership.SeatKey]membership.Member, len(cands))
	inRoom := map[id.RoomID]int{}
	rtcKeys := map[rtcStateKey]bool{}
	refused := make(map[membership.SeatKey]string)
	for _, c := range cands {
		room := c.k.Call.Room
		var reason string
		switch {
		case c.k.Dialect == membership.DialectMatrixRTC && rtcKeys[rtcKeyOf(c.k)]:
			reason = "another call of ours has the same MatrixRTC state key (same application and call id)"
		case inRoom[room] >= l.perRoom:
			reason = fmt.Sprintf("the room has calls.max_seats_per_room (%d) seats of ours", l.perRoom)
		case len(granted) >= l.total:
			reason = fmt.Sprintf("we hold calls.max_seats (%d) seats", l.total)
		}
		if reason != "" {
			refused[c.k] = reason
			continue
		}
		granted[c.k] = c.m
		inRoom[room]++
		if c.k.Dialect == membership.DialectMatrixRTC {
			rtcKeys[rtcKeyOf(c.k)] = true
		}
	}
	fresh := map[membership.SeatKey]string{}
	for k, reason := range refused {
		if l.refused[k] != reason {
			fresh[k] = reason
		}
	}
	l.refused = refused
	return granted, fresh
}

// refusals is a copy of the current refusals, for the admin view.
func (l *seatLimits) refusals() map[membership.SeatKey]string { return maps.Clone(l.refused) }

// rtcStateKey is what a MatrixRTC state key of ours names besides us: the
// room, application and call id (not the scope).
type rtcStateKey struct {
	room        id.RoomID
	application string
	callID      string
}

func rtcKeyOf(k membership.SeatKey) rtcStateKey {
	return rtcStateKey{room: k.Call.Room, application: k.Call.Application, callID: k.Call.CallID}
}
