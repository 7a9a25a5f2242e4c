package membership

import (
	"context"
	"slices"
	"testing"

	"maunium.net/go/mautrix/event"

	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
)

const feedBot = "@bot:example.org"

// runFeed runs a feed over a fresh tracker and roster; events go to the
// returned function, which returns once they are in the tracker.
func runFeed(t *testing.T) (feed *Feed, tr *Tracker, roster *Roster, send func(...matrixbot.Event)) {
	t.Helper()
	tr, _, _ = startTracker(t)
	roster = NewRoster()
	feed = NewFeed(nil, tr, roster, nil)
	events := make(chan matrixbot.Event)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- feed.Run(ctx, events) }()
	t.Cleanup(func() { cancel(); <-done })
	send = func(evs ...matrixbot.Event) {
		t.Helper()
		for _, ev := range evs {
			events <- ev
		}
		// The feed takes the next event only when it has handled the last
		// one: a no-op event, then a tracker flush, sees the batch applied.
		events <- matrixbot.Event{Kind: matrixbot.KindOTKCounts}
		if err := tr.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	return feed, tr, roster, send
}

func syncDone(initial bool) matrixbot.Event {
	return matrixbot.Event{Kind: matrixbot.KindSyncDone, Initial: initial}
}

func botMembership(m event.Membership) matrixbot.Event {
	return matrixbot.Event{Kind: matrixbot.KindMembership, RoomID: feedRoom, Membership: m, Sender: feedBot}
}

// timeline turns a state event into one from the timeline section.
func timeline(ev matrixbot.Event) matrixbot.Event {
	ev.Source = matrixbot.SourceTimeline
	return ev
}

func liveDevices(t *testing.T, tr *Tracker) []string {
	t.Helper()
	ms, err := tr.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, string(m.DeviceID))
	}
	slices.Sort(out)
	return out
}

// TestFeedForgetsLeftRoom (#9 defect 1): the room's last events, which a
// sync delivers before the bot's own leave, must not bring a room the bot
// left back into the roster, where enforcement would judge it.
func TestFeedForgetsLeftRoom(t *testing.T) {
	joinedRoom := []matrixbot.Event{
		roomMemberEvent(feedBot, "join"), roomMemberEvent("@alice:example.org", "join"),
		famedlyEvent("@alice:example.org", "A"), syncDone(true),
	}
	for _, tc := range []struct {
		name   string
		before []matrixbot.Event // batches before the leave
		last   []matrixbot.Event // the leave batch
	}{
		{"voluntary leave", joinedRoom, []matrixbot.Event{
			timeline(famedlyEvent("@alice:example.org", "A")), timeline(roomMemberEvent(feedBot, "leave")),
			botMembership(event.MembershipLeave), syncDone(false)}},
		{"kicked", joinedRoom, []matrixbot.Event{
			timeline(roomMemberEvent("@alice:example.org", "join")), timeline(roomMemberEvent(feedBot, "leave")),
			botMembership(event.MembershipLeave), syncDone(false)}},
		{"banned", joinedRoom, []matrixbot.Event{
			timeline(roomMemberEvent(feedBot, "ban")), botMembership(event.MembershipBan), syncDone(false)}},
		{"invite refused by policy", []matrixbot.Event{syncDone(true), botMembership(event.MembershipInvite), syncDone(false)},
			[]matrixbot.Event{timeline(roomMemberEvent(feedBot, "leave")), timeline(famedlyEvent("@alice:example.org", "A")),
				botMembership(event.MembershipLeave), syncDone(false)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, tr, roster, send := runFeed(t)
			send(tc.before...)
			send(tc.last...)
			if roster.Knows(feedRoom) || slices.Contains(roster.Rooms(), feedRoom) {
				t.Fatalf("the roster still knows the room the bot left: %v", roster.Rooms())
			}
			if got := liveDevices(t, tr); len(got) != 0 {
				t.Fatalf("members of the left room are still tracked: %v", got)
			}
			// A later delta that still mentions the room (a late event)
			// must not bring it back either.
			send(timeline(roomMemberEvent("@alice:example.org", "join")), syncDone(false))
			if roster.Knows(feedRoom) {
				t.Fatal("a late event brought the left room back into the roster")
			}
		})
	}
}

// TestFeedLeaveAndRejoinInOneBatch (#9 defect 2): a user who leaves and
// rejoins within one sync batch ends it joined and keeps the call
// membership; the same on a full_state snapshot whose timeline has both.
func TestFeedLeaveAndRejoinInOneBatch(t *testing.T) {
	alice := "@alice:example.org"
	t.Run("delta", func(t *testing.T) {
		_, tr, roster, send := runFeed(t)
		send(roomMemberEvent(feedBot, "join"), roomMemberEvent(alice, "join"), famedlyEvent(alice, "A"), syncDone(true))
		send(timeline(roomMemberEvent(alice, "leave")), timeline(roomMemberEvent(alice, "join")), syncDone(false))
		if !roster.Joined(feedRoom, "@alice:example.org") {
			t.Fatal("alice is not joined after leave+join")
		}
		if got := liveDevices(t, tr); !slices.Equal(got, []string{"A"}) {
			t.Fatalf("after leave+join in one batch: members %v, want [A]", got)
		}
	})
	t.Run("full_state", func(t *testing.T) {
		_, tr, _, send := runFeed(t)
		send(roomMemberEvent(feedBot, "join"), roomMemberEvent(alice, "join"), famedlyEvent(alice, "A"),
			timeline(roomMemberEvent(alice, "leave")), timeline(roomMemberEvent(alice, "join")), syncDone(true))
		if got := liveDevices(t, tr); !slices.Equal(got, []string{"A"}) {
			t.Fatalf("after a full_state sync with leave+join: members %v, want [A]", got)
		}
	})
	t.Run("rejoin then leave", func(t *testing.T) {
		_, tr, _, send := runFeed(t)
		send(roomMemberEvent(feedBot, "join"), roomMemberEvent(alice, "join"), famedlyEvent(alice, "A"), syncDone(true))
		send(timeline(roomMemberEvent(alice, "leave")), timeline(roomMemberEvent(alice, "join")),
			timeline(roomMemberEvent(alice, "leave")), syncDone(false))
		if got := liveDevices(t, tr); len(got) != 0 {
			t.Fatalf("alice ended the batch outside the room but her membership stays: %v", got)
		}
	})
}
