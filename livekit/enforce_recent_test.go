package livekit

import (
	"strconv"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/lkid"
	"github.com/switchboard-rtc/switchboard/membership"
)

// The enforcer's actions are kept, newest first, for the status page.
func TestEnforcerRecentActions(t *testing.T) {
	const room = id.RoomID("!call:example.org")
	alice := membership.Member{Dialect: membership.DialectFamedly, UserID: "@alice:example.org", DeviceID: "A",
		Call: membership.CallKey{Room: room, Application: "m.call", Scope: "m.room"}}
	lkRoom := lkid.Room(string(room), legacySlot)
	lk := &fakeLiveKit{rooms: map[string][]*livekit.ParticipantInfo{
		lkRoom: {std("@alice:example.org:A"), std("@mallory:example.org:M")},
	}}
	members := &fakeMembers{members: []membership.Member{alice}}
	clock := newStepClock()
	e := NewEnforcer(nil, EnforcerConfig{Grace: 30 * time.Second, Clock: clock}, lk, members, roomList(room))
	st := newEnforceState()
	if got := e.Recent(); len(got) != 0 {
		t.Fatalf("before any action: %v", got)
	}
	e.check(t.Context(), st)
	clock.add(30 * time.Second)
	e.check(t.Context(), st)
	removedAt := clock.Now().UTC()
	members.members = nil
	e.check(t.Context(), st)
	clock.add(30 * time.Second)
	e.check(t.Context(), st)
	got := e.Recent()
	if len(got) != 2 {
		t.Fatalf("actions %+v, want a removal and a deletion", got)
	}
	if d := got[0]; d.Kind != ActionDeleted || d.LiveKitRoom != lkRoom || d.Identity != "" || !d.At.Equal(clock.Now()) || d.Reason == "" {
		t.Errorf("newest: %+v", d)
	}
	if r := got[1]; r.Kind != ActionRemoved || r.LiveKitRoom != lkRoom || r.Identity != "@mallory:example.org:M" || !r.At.Equal(removedAt) {
		t.Errorf("older: %+v", r)
	}
}

func TestRecentActionsBounded(t *testing.T) {
	e := NewEnforcer(nil, EnforcerConfig{Clock: newStepClock()}, &fakeLiveKit{}, &fakeMembers{}, roomList())
	for i := range recentActionsMax + 7 {
		e.noted(ActionRemoved, "room", strconv.Itoa(i))
	}
	got := e.Recent()
	if len(got) != recentActionsMax || got[0].Identity != strconv.Itoa(recentActionsMax+6) || got[len(got)-1].Identity != "7" {
		t.Fatalf("%d actions, newest %q, oldest %q", len(got), got[0].Identity, got[len(got)-1].Identity)
	}
}
