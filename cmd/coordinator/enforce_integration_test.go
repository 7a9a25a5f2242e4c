package main

import (
	"slices"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/lkid"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// TestEnforcementOnLiveKit runs the coordinator against the real LiveKit:
// a participant connected with a valid LiveKit token but no Matrix call
// membership is removed once the grace period has passed, a member stays;
// when the member leaves the call, it is removed too and the room deleted.
func TestEnforcementOnLiveKit(t *testing.T) {
	env := testenv.Require(t)
	const grace = 3 * time.Second
	addr, botID := startBotCoordinator(t, env, map[string]string{
		"SWITCHBOARD_LIVEKIT_ENFORCE_GRACE": grace.String(), "SWITCHBOARD_LIVEKIT_ENFORCE_INTERVAL": "1s",
	})
	alice := env.RegisterUser(t, "alice")
	mallory := env.RegisterUser(t, "mallory")
	room := env.CreateRoom(t, alice)
	inviteBot(t, alice, room, botID)
	famedlyJoin(t, env, alice, room, "ALICEDEV")

	lkRoom := lkid.Room(room.String(), "m.call#ROOM")
	aliceIdent := lkid.Legacy(alice.ID.String(), "ALICEDEV")
	malloryIdent := lkid.Legacy(mallory.ID.String(), "MDEV")
	participants := func() []string { return lkParticipants(t, env, lkRoom) }
	roomExists := func() bool { return lkRoomExists(t, env, lkRoom) }

	lkConnect(t, env, addr, alice, room, "ALICEDEV")
	connected := time.Now() // before mallory starts connecting: LiveKit cannot have seen her earlier
	lkConnect(t, env, addr, mallory, room, "MDEV")
	want := []string{aliceIdent, malloryIdent}
	slices.Sort(want)
	waitFor(t, 5*time.Second, "both connected", func() bool { return slices.Equal(participants(), want) })

	waitFor(t, grace+10*time.Second, "mallory removed", func() bool { return slices.Equal(participants(), []string{aliceIdent}) })
	if early := time.Since(connected); early < grace {
		t.Fatalf("mallory removed after %v, before the %v grace period", early, grace)
	}
	// Alice, a member, stays well past the grace period.
	time.Sleep(grace + 2*time.Second)
	if got := participants(); !slices.Equal(got, []string{aliceIdent}) {
		t.Fatalf("after the grace period: %v, want alice alone", got)
	}

	// Alice leaves the call in Matrix but not LiveKit: removed, room deleted.
	if _, err := alice.Client.SendStateEvent(t.Context(), room, testenv.FamedlyCallMember, alice.ID.String(),
		map[string]any{"memberships": []any{}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, grace+15*time.Second, "the room deleted", func() bool { return !roomExists() })
}
