package membership

import (
	"slices"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
)

// TestFeedIgnoresRoomMessages (#13): the bot's sync now delivers room
// messages (room commands), plain and decrypted; they are no memberships,
// nor do they change what the feed holds for the room.
func TestFeedIgnoresRoomMessages(t *testing.T) {
	alice := "@alice:example.org"
	_, tr, roster, send := runFeed(t)
	send(roomMemberEvent(feedBot, "join"), roomMemberEvent(alice, "join"), matrixbot.Event{Kind: matrixbot.KindSyncDone, Initial: true})
	send(rtcEvent(t, matrixbot.SourceTimeline, "$a", alice, "ADEV", "m-a", time.Hour, nil), matrixbot.Event{Kind: matrixbot.KindSyncDone})

	message := func(eventID string, decrypted bool) matrixbot.Event {
		wire := map[string]any{"type": "m.room.message", "event_id": eventID, "sender": alice,
			"origin_server_ts": time.Now().UnixMilli(), "content": map[string]any{"msgtype": "m.text", "body": "!call leave"}}
		return matrixbot.Event{Kind: matrixbot.KindTimeline, RoomID: feedRoom, Source: matrixbot.SourceTimeline,
			Evt: wireEvent(t, wire), Decrypted: decrypted}
	}
	send(message("$plain", false), message("$dec", true), matrixbot.Event{Kind: matrixbot.KindSyncDone})
	if got := liveDevices(t, tr); !slices.Equal(got, []string{"ADEV"}) {
		t.Fatalf("members %v after room messages, want [ADEV]", got)
	}
	if n := roster.Unreadable(feedRoom); n != 0 || !roster.Joined(feedRoom, "@alice:example.org") {
		t.Fatalf("after room messages: unreadable %d, alice joined %v", n, roster.Joined(feedRoom, "@alice:example.org"))
	}
}
