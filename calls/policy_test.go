package calls

import (
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/membership"
)

func TestWantedSeatsPolicy(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	m := func(room, user string, d membership.Dialect) membership.Member {
		return membership.Member{Dialect: d, Call: membership.CallKey{Room: id.RoomID(room), Application: "m.call"}, UserID: id.UserID(user), DeviceID: "D", ExpiresAt: exp}
	}
	members := []membership.Member{
		m("!a:x", "@u:x", membership.DialectFamedly), m("!a:x", "@v:x", membership.DialectRTCSticky),
		m("!b:x", "@bot:x", membership.DialectFamedly), // only us: never wanted
		m("!c:x", "@u:x", membership.DialectFamedly),   // overridden to never
		m("!d:x", "@u:x", membership.DialectMatrixRTC), // not invited
	}
	facts := factsOf{in: map[id.RoomID]bool{"!a:x": true, "!b:x": true, "!c:x": true, "!d:x": true}, invited: map[id.RoomID]bool{"!a:x": true}}
	policy := JoinPolicy{Default: JoinInvited, Rooms: map[id.RoomID]JoinMode{"!c:x": JoinNever}}
	want := wantedSeats(members, "@bot:x", func(r id.RoomID) bool { return policy.Allows(r, facts) })
	if len(want) != 2 {
		t.Fatalf("wanted %d seats: %+v", len(want), want)
	}
	for k := range want {
		if k.Call.Room != "!a:x" {
			t.Errorf("unexpected seat %+v", k)
		}
	}
	if _, ok := want[membership.SeatKey{Call: membership.CallKey{Room: "!a:x", Application: "m.call", Scope: "m.room"}, Dialect: membership.DialectMatrixRTC}]; !ok {
		t.Error("sticky member did not ask for a MatrixRTC seat in the room scope")
	}
	policy.Default = JoinAll
	if got := wantedSeats(members, "@bot:x", func(r id.RoomID) bool { return policy.Allows(r, facts) }); len(got) != 3 {
		t.Errorf("policy all: %d seats, want 3 (not the room with only us, not the room set to never)", len(got))
	}
}

type factsOf struct{ in, invited map[id.RoomID]bool }

func (f factsOf) InRoom(r id.RoomID) bool  { return f.in[r] }
func (f factsOf) Invited(r id.RoomID) bool { return f.invited[r] }
