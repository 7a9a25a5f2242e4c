package livekit

import (
	"slices"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/lkid"
	"github.com/switchboard-rtc/switchboard/membership"
)

const soundRoom = id.RoomID("!sound:example.org")

func std(ident string) *livekit.ParticipantInfo { return &livekit.ParticipantInfo{Identity: ident} }

func soundEnforcer(lk *fakeLiveKit, m *fakeMatrix, members []membership.Member, names *RoomNames) (*Enforcer, *stepClock) {
	clock := newStepClock()
	e := NewEnforcer(nil, EnforcerConfig{Grace: 30 * time.Second, Interval: 10 * time.Second, Clock: clock, Names: names},
		lk, &fakeMembers{members: members}, m)
	return e, clock
}

// TestEnforcerJudgesNamedRooms (#9 defect 6): LiveKit rooms whose names
// no live membership gives (a /get_token slot nobody is in, a named call
// whose members all left) are judged when the JWT service named them for
// a room the bot is in, and only then.
func TestEnforcerJudgesNamedRooms(t *testing.T) {
	slotRoom := lkid.Room(string(soundRoom), "m.call#elsewhere")
	unnamed := lkid.Room(string(soundRoom), "m.call#never-issued")
	foreign := lkid.Room("!foreign:example.org", "m.call#x")
	lk := &fakeLiveKit{rooms: map[string][]*livekit.ParticipantInfo{
		slotRoom: {std("stranger-hash")}, unnamed: {std("other")}, foreign: {std("foreigner")},
	}}
	names := NewRoomNames(0)
	names.Named(slotRoom, string(soundRoom))
	names.Named(foreign, "!foreign:example.org")
	e, clock := soundEnforcer(lk, roomList(soundRoom), nil, names)
	st := newEnforceState()
	e.check(t.Context(), st)
	clock.add(31 * time.Second)
	e.check(t.Context(), st)
	if !slices.Equal(lk.deleted, []string{slotRoom}) {
		t.Fatalf("deleted %v, want the room named for a token of our room only", lk.deleted)
	}

	// A named call: bob's membership names the room; after he leaves, the
	// name is still known and the room judged.
	named := lkid.Room(string(soundRoom), "m.call#named")
	bob := membership.Member{Dialect: membership.DialectMatrixRTC, UserID: "@bob:example.org", DeviceID: "B",
		MembershipID: "mid", Call: membership.CallKey{Room: soundRoom, Application: "m.call", CallID: "named", Scope: "m.room"}}
	lk.rooms[named] = []*livekit.ParticipantInfo{std(lkid.Hashed("@bob:example.org", "B", "mid"))}
	members := e.members.(*fakeMembers)
	members.members = []membership.Member{bob}
	e.check(t.Context(), st)
	members.members = nil
	e.check(t.Context(), st)
	clock.add(31 * time.Second)
	e.check(t.Context(), st)
	if !slices.Contains(lk.deleted, named) {
		t.Fatalf("deleted %v: the named call whose member left was not judged", lk.deleted)
	}
	if _, ok := lk.rooms[unnamed]; !ok {
		t.Fatal("a room no token or membership named was touched")
	}
}

// TestEnforcerGraceFromArrival (#9 defect 6): a lone participant who
// connects to a member-less room some time after it was made (a token
// request creates it) still gets the whole grace period.
func TestEnforcerGraceFromArrival(t *testing.T) {
	name := lkid.Room(string(soundRoom), legacySlot)
	lk := &fakeLiveKit{rooms: map[string][]*livekit.ParticipantInfo{name: nil}}
	e, clock := soundEnforcer(lk, roomList(soundRoom), nil, nil)
	st := newEnforceState()
	e.check(t.Context(), st) // the room is seen, empty
	clock.add(25 * time.Second)
	lk.rooms[name] = []*livekit.ParticipantInfo{std("@late:example.org:L")}
	e.check(t.Context(), st) // the participant arrives
	clock.add(10 * time.Second)
	e.check(t.Context(), st)
	if len(lk.deleted)+len(lk.removed) != 0 {
		t.Fatalf("10 s after arriving: deleted %v, removed %v", lk.deleted, lk.removed)
	}
	clock.add(21 * time.Second)
	e.check(t.Context(), st)
	if !slices.Equal(lk.deleted, []string{name}) {
		t.Fatalf("after its whole grace: deleted %v", lk.deleted)
	}
}

// TestEnforcerUnknownIsNotAbsent (#9 defects 5 and 12): nobody is judged
// while the bot's sync is not current, nor in a room with events it cannot
// read yet.
func TestEnforcerUnknownIsNotAbsent(t *testing.T) {
	name := lkid.Room(string(soundRoom), legacySlot)
	lk := &fakeLiveKit{rooms: map[string][]*livekit.ParticipantInfo{name: {std("@maybe:example.org:M")}}}
	m := roomList(soundRoom)
	e, clock := soundEnforcer(lk, m, nil, nil)
	st := newEnforceState()

	m.behind = true
	for range 4 {
		e.check(t.Context(), st)
		clock.add(31 * time.Second)
	}
	m.behind = false
	m.unreadable = map[id.RoomID]int{soundRoom: 1}
	for range 4 {
		e.check(t.Context(), st)
		clock.add(31 * time.Second)
	}
	if len(lk.deleted)+len(lk.removed) != 0 {
		t.Fatalf("judged while unknown: deleted %v, removed %v", lk.deleted, lk.removed)
	}
	// Once everything is known and still nobody has a membership, the
	// grace applies as usual.
	m.unreadable = nil
	e.check(t.Context(), st)
	clock.add(31 * time.Second)
	e.check(t.Context(), st)
	if !slices.Equal(lk.deleted, []string{name}) {
		t.Fatalf("after the view became certain: deleted %v", lk.deleted)
	}
}

// TestRoomNamesBounded: the registry never holds more than its bound and
// forgets names LiveKit no longer has once their retention passed.
func TestRoomNamesBounded(t *testing.T) {
	n := NewRoomNames(3)
	now := time.Unix(1_750_000_000, 0)
	n.now = func() time.Time { return now }
	for i, name := range []string{"a", "b", "c", "d"} {
		now = now.Add(time.Duration(i) * time.Second)
		n.Named(name, string(soundRoom))
	}
	if _, ok := n.lookup("a"); ok || len(n.names) != 3 {
		t.Fatalf("after 4 names with room for 3: %v", n.names)
	}
	n.prune(map[string]bool{"b": true}, now.Add(2*time.Hour), time.Hour)
	if _, ok := n.lookup("b"); !ok || len(n.names) != 1 {
		t.Fatalf("after pruning: %v, want b alone (LiveKit still has it)", n.names)
	}
}

// TestEnforcerFeedsObserver (#10): each room the enforcer lists is passed
// on to the observer (the delegated leaves), disconnecting participants
// left out, so LiveKit is polled once for both.
func TestEnforcerFeedsObserver(t *testing.T) {
	name := lkid.Room(string(soundRoom), "m.call#obs")
	gone := std("leaving")
	gone.State = livekit.ParticipantInfo_DISCONNECTED
	lk := &fakeLiveKit{rooms: map[string][]*livekit.ParticipantInfo{name: {std("here"), gone}}}
	names := NewRoomNames(0)
	names.Named(name, string(soundRoom))
	type seen struct {
		room string
		ids  []string
	}
	var got []seen
	e, clock := soundEnforcer(lk, roomList(soundRoom), nil, names)
	e.cfg.Observer = ObserverFunc(func(room string, ids []string, at time.Time) {
		if at.After(clock.now) {
			t.Errorf("observation at %v is later than the listing (%v)", at, clock.now)
		}
		got = append(got, seen{room, ids})
	})
	e.check(t.Context(), newEnforceState())
	if len(got) != 1 || got[0].room != name || !slices.Equal(got[0].ids, []string{"here"}) {
		t.Fatalf("observer saw %+v, want one listing of %s with [here]", got, name)
	}
}
