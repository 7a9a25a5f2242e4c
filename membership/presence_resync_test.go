package membership

import (
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"
)

// stallingRooms is in every room, and can hold up whoever asks (Run's
// goroutine, in reconcile) until released.
type stallingRooms struct {
	stall   atomic.Bool
	entered chan struct{} // 1-buffered: someone is held
	release chan struct{} // closed: let everyone go
}

func (s *stallingRooms) InRoom(id.RoomID) bool {
	if s.stall.Load() {
		select {
		case s.entered <- struct{}{}:
		default:
		}
		<-s.release
	}
	return true
}

func (s *stallingRooms) Invited(id.RoomID) bool { return true }

// TestPresenceResync: a presence that fell so far behind that the tracker
// dropped its queued changes for a Resync reads the members again: it
// leaves the call that ended meanwhile and joins the one that started.
func TestPresenceResync(t *testing.T) {
	facts := &stallingRooms{entered: make(chan struct{}, 1), release: make(chan struct{})}
	p, w, tr, clock := echoingPresence(t, nil, PresenceConfig{}, facts)
	const roomA, roomB = id.RoomID("!a:example.org"), id.RoomID("!b:example.org")
	in := func(room id.RoomID, user string, expires time.Time) {
		t.Helper()
		var ms []Member
		if !expires.IsZero() {
			m := famedlyMember(user, "D", "", expires)
			m.Call.Room = room
			ms = []Member{m}
		}
		if err := tr.Ingest(t.Context(), Source{Room: room, EventType: FamedlyEventType, StateKey: user}, ms); err != nil {
			t.Fatal(err)
		}
	}
	ourCalls := func(room id.RoomID) int {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(famedlyCalls(string(w.state[string(room)+"|"+FamedlyEventType+"|"+string(botUser)])))
	}
	exp := clock.Now().Add(time.Hour)
	in(roomA, "@alice:example.org", exp)
	runPresence(t, p)
	putsUntil(t, w, clock, "our join in room A", func(string) bool { return ourCalls(roomA) == 1 })

	// Hold Run's goroutine in its next reconcile, then make far more
	// changes than a subscriber may have queued: alice refreshes, then
	// leaves; carol starts a call in room B.
	facts.stall.Store(true)
	in(roomA, "@alice:example.org", exp.Add(time.Second))
	for held := false; !held; {
		select {
		case <-facts.entered:
			held = true
		case <-time.After(10 * time.Millisecond):
			clock.Advance(50 * time.Millisecond)
		}
	}
	for i := range 2 * maxQueued {
		in(roomA, "@alice:example.org", exp.Add(time.Duration(i)*time.Millisecond))
	}
	in(roomA, "@alice:example.org", time.Time{})
	in(roomB, "@carol:example.org", exp)
	if err := tr.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	facts.stall.Store(false)
	close(facts.release)
	putsUntil(t, w, clock, "our leave in room A and join in room B", func(string) bool {
		return ourCalls(roomA) == 0 && ourCalls(roomB) == 1
	})
}
