package membership

import (
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"
)

// leavableRooms: the bot is in every room until it leaves one.
type leavableRooms struct {
	mu   sync.Mutex
	left map[id.RoomID]bool
}

func (r *leavableRooms) leave(room id.RoomID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.left == nil {
		r.left = map[id.RoomID]bool{}
	}
	r.left[room] = true
}

func (r *leavableRooms) InRoom(room id.RoomID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.left[room]
}

func (r *leavableRooms) Invited(id.RoomID) bool { return true }

// TestPresenceStopsInLeftRoom: when the bot leaves or is kicked from a room
// (the feed forgets it in the roster, then the tracker forgets its members,
// ours included), our seats there stop without writing to the room, which
// the bot can no longer do: no rewrite of the vanished membership, no leave,
// no fired MatrixRTC leave; only the delayed leaves are cancelled.
func TestPresenceStopsInLeftRoom(t *testing.T) {
	facts := &leavableRooms{}
	p, w, tr, clock := echoingPresence(t, nil, PresenceConfig{}, facts)
	exp := clock.Now().Add(time.Hour)
	alice := famedlyMember("@alice:example.org", "A", "", exp)
	bob := Member{Dialect: DialectMatrixRTC, Call: CallKey{Room: presRoom, Application: "m.call", Scope: "m.room"},
		UserID: "@bob:example.org", DeviceID: "B", MembershipID: "@bob:example.org:B",
		ActiveFoci: []Focus{{Type: "livekit", FocusSelection: "oldest_membership"}}, CreatedAt: clock.Now(), ExpiresAt: exp}
	if err := tr.IngestBatch(t.Context(), []Update{
		{Source: Source{Room: presRoom, EventType: FamedlyEventType, StateKey: "@alice:example.org"}, Members: []Member{alice}},
		{Source: Source{Room: presRoom, EventType: MatrixRTCEventType, StateKey: "_@bob:example.org_B_m.call"}, Members: []Member{bob}},
	}); err != nil {
		t.Fatal(err)
	}
	stop := runPresence(t, p)
	// Both seats write their join (the Famedly one reaches the tracker).
	joins := 0
	putsUntil(t, w, clock, "both joins", func(string) bool { joins++; return joins == 2 })
	waitSeats(t, p, func(st []SeatStatus) bool { return len(st) == 2 && st[0].State == "joined" && st[1].State == "joined" })

	// The bot is kicked: the roster forgets the room first, then the
	// tracker its members.
	facts.leave(presRoom)
	if err := tr.ForgetRoom(t.Context(), presRoom); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); len(p.Seats()) > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("seats still there: %+v", p.Seats())
		}
		clock.Advance(50 * time.Millisecond)
	}
	stop()
	var after []string
	for len(w.ops) > 0 {
		op := <-w.ops
		if !strings.HasPrefix(op, "restart ") {
			after = append(after, op)
		}
	}
	for _, op := range after {
		if !strings.HasPrefix(op, "cancel ") {
			t.Errorf("after leaving the room: %.80s", op)
		}
	}
	if len(after) != 2 {
		t.Errorf("operations after leaving the room: %q, want the two delayed leaves cancelled", after)
	}
}
