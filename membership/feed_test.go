package membership

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
)

const feedRoom = id.RoomID("!feed:example.org")

func stateEvent(typ, sender, stateKey string, content any) matrixbot.Event {
	raw, _ := json.Marshal(content)
	sk := stateKey
	e := &event.Event{Type: event.Type{Type: typ, Class: event.StateEventType}, Sender: id.UserID(sender), StateKey: &sk,
		RoomID: feedRoom, Timestamp: time.Now().UnixMilli(), Content: event.Content{VeryRaw: raw}}
	return matrixbot.Event{Kind: matrixbot.KindState, RoomID: feedRoom, Source: matrixbot.SourceState, Evt: e}
}

func roomMemberEvent(user, membership string) matrixbot.Event {
	return stateEvent(event.StateMember.Type, user, user, map[string]string{"membership": membership})
}

func famedlyEvent(user, device string) matrixbot.Event {
	return stateEvent(FamedlyEventType, user, user, map[string]any{"memberships": []any{map[string]any{
		"call_id": "", "application": "m.call", "scope": "m.room", "device_id": device, "membershipID": "x",
		"expires_ts":  time.Now().Add(5 * time.Minute).UnixMilli(),
		"foci_active": []any{map[string]any{"type": "livekit", "livekit_service_url": "https://lk", "livekit_alias": string(feedRoom)}},
	}}})
}

// TestFeedCountsOnlyJoinedSenders: a membership whose sender is not joined
// is refused, and a member who leaves the room leaves every call there.
func TestFeedCountsOnlyJoinedSenders(t *testing.T) {
	tr, _, changes := startTracker(t)
	roster := NewRoster()
	feed := NewFeed(nil, tr, roster, nil)
	events := make(chan matrixbot.Event, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- feed.Run(ctx, events) }()
	defer func() { cancel(); <-done }()

	events <- roomMemberEvent("@alice:example.org", "join")
	events <- famedlyEvent("@alice:example.org", "A")
	events <- famedlyEvent("@mallory:example.org", "M") // never joined
	events <- matrixbot.Event{Kind: matrixbot.KindSyncDone, Initial: true}
	expectKind(t, changes, Joined, "A")
	<-feed.Ready()

	events <- roomMemberEvent("@alice:example.org", "leave")
	events <- matrixbot.Event{Kind: matrixbot.KindSyncDone}
	expectKind(t, changes, Left, "A")
	if err := tr.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ms, _ := tr.Snapshot(t.Context()); len(ms) != 0 {
		t.Fatalf("members left: %+v", ms)
	}
}

func TestTrackerForgetSender(t *testing.T) {
	tr, clock, changes := startTracker(t)
	exp := clock.Now().Add(time.Hour)
	a, b := member("@a:example.org", "A1", exp), member("@b:example.org", "B1", exp)
	a2 := member("@a:example.org", "A2", exp)
	for _, u := range []Update{
		{Source{Room: a.Call.Room, EventType: FamedlyEventType, StateKey: "@a:example.org"}, []Member{a, a2}},
		{Source{Room: b.Call.Room, EventType: FamedlyEventType, StateKey: "@b:example.org"}, []Member{b}},
	} {
		if err := tr.Ingest(t.Context(), u.Source, u.Members); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		next(t, changes)
	}
	if err := tr.ForgetSender(t.Context(), a.Call.Room, "@a:example.org"); err != nil {
		t.Fatal(err)
	}
	left := map[id.DeviceID]bool{}
	for range 2 {
		c := next(t, changes)
		if c.Kind != Left {
			t.Fatalf("got %s", c.Kind)
		}
		left[c.Member.DeviceID] = true
	}
	if !left["A1"] || !left["A2"] {
		t.Fatalf("left: %v", left)
	}
	if ms, _ := tr.Snapshot(t.Context()); len(ms) != 1 || ms[0].DeviceID != "B1" {
		t.Fatalf("after forgetting a: %+v", ms)
	}
}
