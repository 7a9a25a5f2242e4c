package livekit

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/internal/lkid"
	"github.com/switchboard-rtc/switchboard/membership"
)

// fakeLiveKit is a RoomService fake for the enforcer's decision logic; the
// real LiveKit is in cmd/coordinator's integration test.
type fakeLiveKit struct {
	rooms   map[string][]*livekit.ParticipantInfo
	removed []string
	deleted []string
}

func (f *fakeLiveKit) ListRooms(context.Context, *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error) {
	var out []*livekit.Room
	for name := range f.rooms {
		out = append(out, &livekit.Room{Name: name})
	}
	return &livekit.ListRoomsResponse{Rooms: out}, nil
}

func (f *fakeLiveKit) ListParticipants(_ context.Context, req *livekit.ListParticipantsRequest) (*livekit.ListParticipantsResponse, error) {
	return &livekit.ListParticipantsResponse{Participants: f.rooms[req.Room]}, nil
}

func (f *fakeLiveKit) RemoveParticipant(_ context.Context, req *livekit.RoomParticipantIdentity) (*livekit.RemoveParticipantResponse, error) {
	f.removed = append(f.removed, req.Identity)
	f.rooms[req.Room] = slices.DeleteFunc(f.rooms[req.Room], func(p *livekit.ParticipantInfo) bool { return p.Identity == req.Identity })
	return &livekit.RemoveParticipantResponse{}, nil
}

func (f *fakeLiveKit) DeleteRoom(_ context.Context, req *livekit.DeleteRoomRequest) (*livekit.DeleteRoomResponse, error) {
	f.deleted = append(f.deleted, req.Room)
	delete(f.rooms, req.Room)
	return &livekit.DeleteRoomResponse{}, nil
}

type fakeMembers struct{ members []membership.Member }

func (f *fakeMembers) Snapshot(context.Context) ([]membership.Member, error) { return f.members, nil }
func (f *fakeMembers) Subscribe(context.Context) (<-chan membership.Change, error) {
	return make(chan membership.Change), nil
}

// fakeMatrix is the bot's view of Matrix: rooms it is in, whether its sync
// is current, and unreadable events per room.
type fakeMatrix struct {
	rooms      []id.RoomID
	behind     bool
	unreadable map[id.RoomID]int
}

func (f *fakeMatrix) Rooms() []id.RoomID         { return f.rooms }
func (f *fakeMatrix) Current() bool              { return !f.behind }
func (f *fakeMatrix) Unreadable(r id.RoomID) int { return f.unreadable[r] }
func roomList(rooms ...id.RoomID) *fakeMatrix    { return &fakeMatrix{rooms: rooms} }

// stepClock is a clock tests set by hand; its timers are real (only Run
// uses them).
type stepClock struct{ now time.Time }

func (c *stepClock) Now() time.Time { return c.now }
func (c *stepClock) NewTimer(d time.Duration) membership.Timer {
	return membership.SystemClock{}.NewTimer(d)
}
func (c *stepClock) add(d time.Duration) { c.now = c.now.Add(d) }
func newStepClock() *stepClock           { return &stepClock{now: time.Unix(1_750_000_000, 0)} }

func TestEnforcerDecisions(t *testing.T) {
	const room = id.RoomID("!call:example.org")
	alice := membership.Member{Dialect: membership.DialectFamedly, UserID: "@alice:example.org", DeviceID: "A",
		Call: membership.CallKey{Room: room, Application: "m.call", Scope: "m.room"}}
	lkRoom := lkid.Room(string(room), legacySlot)
	other := lkid.Room("!elsewhere:example.org", legacySlot)
	lk := &fakeLiveKit{rooms: map[string][]*livekit.ParticipantInfo{
		lkRoom: {std("@alice:example.org:A"), std("@mallory:example.org:M"),
			{Identity: "egress", Kind: livekit.ParticipantInfo_EGRESS}},
		other: {std("@stranger:example.org:S")}, // a room of a Matrix room the bot is not in
	}}
	members := &fakeMembers{members: []membership.Member{alice}}
	clock := newStepClock()
	e := NewEnforcer(nil, EnforcerConfig{Grace: 30 * time.Second, Interval: 10 * time.Second, Clock: clock}, lk, members, roomList(room))
	st := newEnforceState()

	if next := e.check(t.Context(), st); next != 10*time.Second || len(lk.removed) != 0 {
		t.Fatalf("first sight: next %v, removed %v", next, lk.removed)
	}
	clock.add(25 * time.Second)
	if next := e.check(t.Context(), st); next != 5*time.Second || len(lk.removed) != 0 {
		t.Fatalf("within grace: next %v (want the 5 s left), removed %v", next, lk.removed)
	}
	clock.add(5 * time.Second)
	e.check(t.Context(), st)
	if !slices.Equal(lk.removed, []string{"@mallory:example.org:M"}) {
		t.Fatalf("after grace removed %v, want mallory only (not the member, the egress or the foreign room)", lk.removed)
	}
	// Alice leaves: her grace starts now; the room goes once it has passed.
	members.members = nil
	e.check(t.Context(), st)
	clock.add(30 * time.Second)
	e.check(t.Context(), st)
	if !slices.Equal(lk.deleted, []string{lkRoom}) {
		t.Fatalf("deleted %v, want the emptied room", lk.deleted)
	}
	if _, ok := lk.rooms[other]; !ok {
		t.Fatal("a room of a Matrix room the bot is not in was touched")
	}
}

// A participant known under the hashed identity of a MatrixRTC member is a
// member too (its client used /get_token).
func TestEnforcerAcceptsHashedIdentity(t *testing.T) {
	const room = id.RoomID("!call:example.org")
	bob := membership.Member{Dialect: membership.DialectMatrixRTC, UserID: "@bob:example.org", DeviceID: "B", MembershipID: "mid",
		Call: membership.CallKey{Room: room, Application: "m.call", CallID: "", Scope: "m.room"}}
	views := viewsByLiveKitRoom([]id.RoomID{room}, []membership.Member{bob})
	v := views[lkid.Room(string(room), "m.call#ROOM")]
	if v == nil || !v.identities[lkid.Hashed("@bob:example.org", "B", "mid")] || !v.identities["@bob:example.org:B"] {
		t.Fatalf("view %+v", v)
	}
	if views[string(room)] != v {
		t.Fatal("the bare room id alias does not map to the room")
	}
}

func TestEnforcerRunStopsOnClose(t *testing.T) {
	leakcheck.Check(t)
	lk := &fakeLiveKit{rooms: map[string][]*livekit.ParticipantInfo{}}
	e := NewEnforcer(nil, EnforcerConfig{Interval: time.Millisecond}, lk, &fakeMembers{}, roomList())
	done := make(chan error, 1)
	go func() { done <- e.Run(context.Background()) }()
	e.HandleLiveKitEvent(&livekit.WebhookEvent{Event: "participant_joined"})
	time.Sleep(20 * time.Millisecond)
	_ = e.Close()
	_ = e.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
