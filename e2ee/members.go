package e2ee

import (
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/membership"
)

// MemberIndex answers Validator look-ups from the membership tracker's
// change stream: the owner applies every change (and a snapshot at start).
//
// Concurrency: not safe for concurrent use; it belongs to the goroutine that
// owns the Validator.
type MemberIndex struct {
	byDevice map[deviceKey][]membership.Member
}

type deviceKey struct {
	room   id.RoomID
	user   id.UserID
	device id.DeviceID
}

var _ Members = (*MemberIndex)(nil)

// NewMemberIndex returns an empty index.
func NewMemberIndex() *MemberIndex {
	return &MemberIndex{byDevice: map[deviceKey][]membership.Member{}}
}

func keyOf(m membership.Member) deviceKey { return deviceKey{m.Call.Room, m.UserID, m.DeviceID} }

// sameMembership: one device's membership in one call and dialect.
func sameMembership(a, b membership.Member) bool { return a.Dialect == b.Dialect && a.Call == b.Call }

// Apply records one tracker change.
func (x *MemberIndex) Apply(c membership.Change) {
	switch c.Kind {
	case membership.Joined, membership.Updated:
		x.Put(c.Member)
	case membership.Left, membership.Expired:
		x.Remove(c.Member)
	}
}

// Put adds or replaces m.
func (x *MemberIndex) Put(m membership.Member) {
	k := keyOf(m)
	list := x.byDevice[k]
	for i := range list {
		if sameMembership(list[i], m) {
			list[i] = m
			return
		}
	}
	x.byDevice[k] = append(list, m)
}

// Remove drops m (matched by device, call and dialect).
func (x *MemberIndex) Remove(m membership.Member) {
	k := keyOf(m)
	list := x.byDevice[k]
	for i := range list {
		if sameMembership(list[i], m) {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(x.byDevice, k)
	} else {
		x.byDevice[k] = list
	}
}

// DeviceMembers implements Members.
func (x *MemberIndex) DeviceMembers(room id.RoomID, user id.UserID, device id.DeviceID) []membership.Member {
	return x.byDevice[deviceKey{room, user, device}]
}
