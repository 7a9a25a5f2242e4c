package membership

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"
)

const roomA, roomB = id.RoomID("!a:example.org"), id.RoomID("!b:example.org")

// memberIn is member() in another room.
func memberIn(room id.RoomID, user string, expires time.Time) Member {
	m := member(user, "D", expires)
	m.Call.Room = room
	return m
}

func ingestIn(t *testing.T, tr *Tracker, room id.RoomID, user string, expires time.Time) {
	t.Helper()
	must(t, tr.Ingest(t.Context(), Source{Room: room, EventType: FamedlyEventType, StateKey: user},
		[]Member{memberIn(room, user, expires)}))
}

func onlyRoom(room id.RoomID) func(id.RoomID) bool {
	return func(r id.RoomID) bool { return r == room }
}

// TestSubscribeRoomsQueuesOnlyMatchingRooms: room B's change, made first,
// never reaches a subscriber of room A (order is kept, so it would have
// come first); the unfiltered subscription still sees both.
func TestSubscribeRoomsQueuesOnlyMatchingRooms(t *testing.T) {
	tr, clock, all := startTracker(t)
	onlyA, err := tr.SubscribeRooms(t.Context(), onlyRoom(roomA))
	if err != nil {
		t.Fatal(err)
	}
	exp := clock.Now().Add(time.Hour)
	ingestIn(t, tr, roomB, "@b:example.org", exp)
	ingestIn(t, tr, roomA, "@a:example.org", exp)
	if c := next(t, onlyA); c.Kind != Joined || c.Member.Call.Room != roomA {
		t.Fatalf("room A's subscriber got %v in %s first", c.Kind, c.Member.Call.Room)
	}
	if b, a := next(t, all), next(t, all); b.Member.Call.Room != roomB || a.Member.Call.Room != roomA {
		t.Fatalf("unfiltered subscriber got %s then %s", b.Member.Call.Room, a.Member.Call.Room)
	}
}

// TestSubscribeRoomsOtherRoomsCauseNoResync: a filtered subscriber that
// does not read is not pushed past its bound by other rooms' traffic; its
// own rooms' backlog past the bound still becomes a Resync.
func TestSubscribeRoomsOtherRoomsCauseNoResync(t *testing.T) {
	tr, clock, _ := startTracker(t)
	onlyA, err := tr.SubscribeRooms(t.Context(), onlyRoom(roomA))
	if err != nil {
		t.Fatal(err)
	}
	exp := clock.Now().Add(time.Hour)
	for i := range 2*maxQueued + 2 {
		ingestIn(t, tr, roomB, "@b"+strconv.Itoa(i)+":example.org", exp)
	}
	ingestIn(t, tr, roomA, "@a:example.org", exp)
	if c := next(t, onlyA); c.Kind != Joined || c.Member.Call.Room != roomA {
		t.Fatalf("after other rooms' traffic room A's subscriber got %v in %s", c.Kind, c.Member.Call.Room)
	}

	for i := range 2*maxQueued + 2 {
		ingestIn(t, tr, roomA, "@a"+strconv.Itoa(i)+":example.org", exp)
	}
	must(t, tr.Flush(t.Context()))
	for got := 0; ; got++ {
		c := next(t, onlyA)
		if c.Kind == Resync {
			break
		}
		if c.Member.Call.Room != roomA || got > maxQueued+1 {
			t.Fatalf("change %d: %v in %s, no Resync", got, c.Kind, c.Member.Call.Room)
		}
	}
}

// TestSubscribeRoomsCancelled: cancelling a filtered subscription whose
// consumer stopped reading with changes waiting closes its channel and
// makes the tracker forget it. The channel is closed by the subscription's
// goroutine as it returns, and startTracker's leak check covers the rest.
func TestSubscribeRoomsCancelled(t *testing.T) {
	tr, clock, _ := startTracker(t)
	ctx, cancel := context.WithCancel(t.Context())
	onlyA, err := tr.SubscribeRooms(ctx, onlyRoom(roomA))
	if err != nil {
		t.Fatal(err)
	}
	waitSubs(t, tr, 2)
	exp := clock.Now().Add(time.Hour)
	ingestIn(t, tr, roomA, "@a:example.org", exp)
	ingestIn(t, tr, roomA, "@a2:example.org", exp)
	must(t, tr.Flush(t.Context()))
	cancel()
	waitSubs(t, tr, 1)
	// Nothing was read, so the goroutine left on the cancellation, not on
	// a consumer, and it delivers nothing more: the first receive is the
	// close.
	select {
	case c, ok := <-onlyA:
		if ok {
			t.Fatalf("a change (%v) arrived after cancelling", c.Kind)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the cancelled subscription's channel never closed")
	}
}

func TestSubscribeRoomsAfterClose(t *testing.T) {
	tr := NewTracker(nil, newFakeClock())
	tr.Close()
	if _, err := tr.SubscribeRooms(t.Context(), onlyRoom(roomA)); err != ErrClosed {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
}

func TestSnapshotRoom(t *testing.T) {
	tr, clock, _ := startTracker(t)
	exp := clock.Now().Add(time.Hour)
	ingestIn(t, tr, roomA, "@a:example.org", exp)
	ingestIn(t, tr, roomB, "@b:example.org", exp)
	for i := range smallRoom + 1 { // past smallRoom the room is indexed
		ingestIn(t, tr, roomB, "@b"+strconv.Itoa(i)+":example.org", exp)
	}
	got, err := tr.SnapshotRoom(t.Context(), roomA)
	if err != nil || len(got) != 1 || got[0].UserID != "@a:example.org" {
		t.Fatalf("room A = %v, %v", got, err)
	}
	got, err = tr.SnapshotRoom(t.Context(), roomB)
	if err != nil || len(got) != smallRoom+2 || slices.ContainsFunc(got, func(m Member) bool { return m.Call.Room != roomB }) {
		t.Fatalf("room B = %d members, %v", len(got), err)
	}
	if got, err := tr.SnapshotRoom(t.Context(), "!none:example.org"); err != nil || len(got) != 0 {
		t.Fatalf("a room without a call = %v, %v", got, err)
	}
}
