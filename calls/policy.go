package calls

import (
	"fmt"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/membership"
)

// JoinMode says which calls the coordinator takes part in.
type JoinMode int

const (
	JoinNever   JoinMode = iota // never write a membership of our own
	JoinInvited                 // calls in rooms whose invite the bot accepted
	JoinAll                     // every call in every room the bot is joined to
)

func (m JoinMode) String() string {
	switch m {
	case JoinInvited:
		return "invited"
	case JoinAll:
		return "all"
	default:
		return "never"
	}
}

// ParseJoinMode reads a config value: never, invited or all.
func ParseJoinMode(s string) (JoinMode, error) {
	switch s {
	case "never":
		return JoinNever, nil
	case "invited":
		return JoinInvited, nil
	case "all":
		return JoinAll, nil
	}
	return JoinNever, fmt.Errorf("calls: join mode %q is not one of never, invited, all", s)
}

// JoinPolicy is the configured mode with per-room overrides.
type JoinPolicy struct {
	Default JoinMode
	Rooms   map[id.RoomID]JoinMode
}

// Mode is the mode that applies to room.
func (p JoinPolicy) Mode(room id.RoomID) JoinMode {
	if m, ok := p.Rooms[room]; ok {
		return m
	}
	return p.Default
}

// RoomFacts answers what the policy needs to know about a room from the
// bot's side. The roster and the bot's invite record implement it.
type RoomFacts interface {
	// InRoom reports whether the bot is joined to room.
	InRoom(room id.RoomID) bool
	// Invited reports whether the bot joined room by accepting an invite.
	Invited(room id.RoomID) bool
}

// Allows reports whether the policy lets us take part in calls of room.
func (p JoinPolicy) Allows(room id.RoomID, facts RoomFacts) bool {
	if !facts.InRoom(room) {
		return false
	}
	switch p.Mode(room) {
	case JoinAll:
		return true
	case JoinInvited:
		return facts.Invited(room)
	}
	return false
}

// wantedSeats is the decision the engines act on: for every call that has
// at least one live member other than us, in a room the policy allows, one
// seat per dialect those members use (sticky members are answered in the
// MatrixRTC session format, which we can write). A call with nobody else
// in it is never wanted, so we never keep a call alive alone. allows is
// the policy with the rooms' command overrides.
func wantedSeats(others []membership.Member, self id.UserID, allows func(id.RoomID) bool) map[membership.SeatKey]membership.Member {
	want := map[membership.SeatKey]membership.Member{}
	allowed := map[id.RoomID]bool{}
	for _, m := range others {
		if m.UserID == self {
			continue
		}
		ok, seen := allowed[m.Call.Room]
		if !seen {
			ok = allows(m.Call.Room)
			allowed[m.Call.Room] = ok
		}
		if !ok {
			continue
		}
		d := m.Dialect
		if d == membership.DialectRTCSticky {
			d = membership.DialectMatrixRTC
		}
		k := membership.SeatKey{Call: m.Call, Dialect: d}
		if d == membership.DialectMatrixRTC {
			// Sticky calls have no scope; the session format's room call does.
			if k.Call.Scope == "" {
				k.Call.Scope = "m.room"
			}
		}
		// The template is the oldest member: clients adopt its focus.
		if cur, ok := want[k]; !ok || olderThan(m, cur) {
			want[k] = m
		}
	}
	return want
}

// olderThan orders members by creation, then by identity for stability.
func olderThan(a, b membership.Member) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return a.Identity() < b.Identity()
}
