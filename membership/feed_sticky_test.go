package membership

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
)

// wireEvent decodes a room event as the sync delivers it.
func wireEvent(t testing.TB, wire map[string]any) *event.Event {
	t.Helper()
	raw, err := json.Marshal(wire)
	if err != nil {
		t.Fatal(err)
	}
	var e event.Event
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	e.RoomID = feedRoom
	return &e
}

// rtcEvent is an rtc.member event of user's device (member id = sticky
// key = memberID) from src; sticky is its msc4354_sticky duration (none if
// zero); content replaces the membership content when not nil.
func rtcEvent(t testing.TB, src matrixbot.Source, eventID, user, device, memberID string, sticky time.Duration, content map[string]any) matrixbot.Event {
	t.Helper()
	if content == nil {
		content = map[string]any{
			"slot_id": "m.call#ROOM", "application": map[string]any{"type": "m.call"},
			"member":         map[string]any{"user_id": user, "device_id": device, "id": memberID},
			"rtc_transports": []any{map[string]any{"type": "livekit", "livekit_service_url": "https://lk"}},
			"versions":       []any{}, "msc4354_sticky_key": memberID,
		}
	}
	wire := map[string]any{"type": RTCStickyEventType, "event_id": eventID, "sender": user,
		"origin_server_ts": time.Now().UnixMilli(), "content": content}
	if sticky > 0 {
		wire["msc4354_sticky"] = map[string]any{"duration_ms": sticky.Milliseconds()}
	}
	return matrixbot.Event{Kind: matrixbot.KindTimeline, RoomID: feedRoom, Source: src, Evt: wireEvent(t, wire)}
}

// TestFeedReadsStickyMembershipsFromTimeline (#9 defect 5): a matrix_2_0
// member's sticky rtc.member event arrives in the timeline (MSC4354 does
// not repeat it in the sticky section) and is tracked; one that only
// carries its sticky key withdraws it; a timeline rtc.member without
// stickiness is no membership, as for matrix-js-sdk.
func TestFeedReadsStickyMembershipsFromTimeline(t *testing.T) {
	alice, bob := "@alice:example.org", "@bob:example.org"
	_, tr, _, send := runFeed(t)
	send(roomMemberEvent(feedBot, "join"), roomMemberEvent(alice, "join"), roomMemberEvent(bob, "join"),
		matrixbot.Event{Kind: matrixbot.KindSyncDone, Initial: true})

	send(rtcEvent(t, matrixbot.SourceTimeline, "$a", alice, "ADEV", "m-a", time.Hour, nil),
		rtcEvent(t, matrixbot.SourceTimeline, "$b", bob, "BDEV", "m-b", 0, nil),
		matrixbot.Event{Kind: matrixbot.KindSyncDone})
	if got := liveDevices(t, tr); !slices.Equal(got, []string{"ADEV"}) {
		t.Fatalf("after sticky and non-sticky timeline rtc.member: members %v, want [ADEV]", got)
	}

	// From the sticky section stickiness is implied.
	send(rtcEvent(t, matrixbot.SourceSticky, "$b2", bob, "BDEV", "m-b", 0, nil), matrixbot.Event{Kind: matrixbot.KindSyncDone})
	if got := liveDevices(t, tr); !slices.Equal(got, []string{"ADEV", "BDEV"}) {
		t.Fatalf("after a sticky-section rtc.member: members %v", got)
	}

	send(rtcEvent(t, matrixbot.SourceTimeline, "$a2", alice, "ADEV", "m-a", time.Hour, map[string]any{"msc4354_sticky_key": "m-a"}),
		matrixbot.Event{Kind: matrixbot.KindSyncDone})
	if got := liveDevices(t, tr); !slices.Equal(got, []string{"BDEV"}) {
		t.Fatalf("after alice's withdrawal: members %v, want [BDEV]", got)
	}
}

// TestLateDecryptionDoesNotUndoNewerEvent (#9 defect 5): a membership
// decrypted late (its key came after a newer event of the same sticky key,
// here the withdrawal) does not bring the member back.
func TestLateDecryptionDoesNotUndoNewerEvent(t *testing.T) {
	alice := "@alice:example.org"
	_, tr, _, send := runFeed(t)
	send(roomMemberEvent(feedBot, "join"), roomMemberEvent(alice, "join"), matrixbot.Event{Kind: matrixbot.KindSyncDone, Initial: true})
	join := rtcEvent(t, matrixbot.SourceTimeline, "$join", alice, "ADEV", "m-a", time.Hour, nil)
	leave := rtcEvent(t, matrixbot.SourceTimeline, "$leave", alice, "ADEV", "m-a", time.Hour, map[string]any{"msc4354_sticky_key": "m-a"})
	join.Evt.Timestamp = leave.Evt.Timestamp - 1000
	join.Decrypted = true
	send(leave, matrixbot.Event{Kind: matrixbot.KindSyncDone})
	send(join, matrixbot.Event{Kind: matrixbot.KindSyncDone})
	if got := liveDevices(t, tr); len(got) != 0 {
		t.Fatalf("a late-decrypted older join undid the newer withdrawal: members %v", got)
	}
	// A newer join of the same key counts.
	again := rtcEvent(t, matrixbot.SourceTimeline, "$again", alice, "ADEV", "m-a", time.Hour, nil)
	again.Evt.Timestamp = leave.Evt.Timestamp + 1000
	send(again, matrixbot.Event{Kind: matrixbot.KindSyncDone})
	if got := liveDevices(t, tr); !slices.Equal(got, []string{"ADEV"}) {
		t.Fatalf("members %v, want [ADEV]", got)
	}
}

// TestStickyExpiryFromRemainingTTL: the server's unsigned sticky TTL is
// what is left from now, not from the event's origin: an old membership
// delivered late (after a restart, or to a bot that joined later) lasts
// until now + TTL.
func TestStickyExpiryFromRemainingTTL(t *testing.T) {
	now := time.Now()
	e := wireEvent(t, map[string]any{"type": RTCStickyEventType, "sender": "@a:example.org", "content": map[string]any{},
		"origin_server_ts": now.Add(-50 * time.Minute).UnixMilli(), "msc4354_sticky": map[string]any{"duration_ms": 3600000},
		"unsigned": map[string]any{"msc4354_sticky_duration_ttl_ms": 600000}})
	until, ok := stickyUntil(e, matrixbot.SourceSticky, now)
	if want := now.Add(10 * time.Minute); !ok || until.Sub(want).Abs() > time.Millisecond {
		t.Fatalf("until %v (%v), want %v", until, ok, want)
	}
}

// TestRosterUnreadable (#9 defect 5, "unknown is not absent"): events the
// bot could not decrypt that may be call memberships (sticky ones) make
// their room unreadable until they decrypt and that batch is committed,
// until their stickiness ends, or until the bot leaves the room.
func TestRosterUnreadable(t *testing.T) {
	alice := "@alice:example.org"
	_, tr, roster, send := runFeed(t)
	send(roomMemberEvent(feedBot, "join"), roomMemberEvent(alice, "join"), matrixbot.Event{Kind: matrixbot.KindSyncDone, Initial: true})

	encrypted := func(eventID string, sticky time.Duration) matrixbot.Event {
		wire := map[string]any{"type": "m.room.encrypted", "event_id": eventID, "sender": alice,
			"origin_server_ts": time.Now().UnixMilli(), "content": map[string]any{"algorithm": "m.megolm.v1.aes-sha2"}}
		if sticky > 0 {
			wire["msc4354_sticky"] = map[string]any{"duration_ms": sticky.Milliseconds()}
		}
		return matrixbot.Event{Kind: matrixbot.KindTimeline, RoomID: feedRoom, Source: matrixbot.SourceTimeline,
			Evt: wireEvent(t, wire), Undecryptable: true}
	}
	send(encrypted("$e1", time.Hour), encrypted("$chat", 0))
	if n := roster.Unreadable(feedRoom); n != 1 {
		t.Fatalf("Unreadable = %d after one sticky and one plain undecryptable event, want 1", n)
	}

	// It decrypts: the room stays unreadable until the batch is committed,
	// so the membership is in the tracker before the room looks complete.
	dec := rtcEvent(t, matrixbot.SourceTimeline, "$e1", alice, "ADEV", "m-a", time.Hour, nil)
	dec.Decrypted = true
	send(dec)
	if n := roster.Unreadable(feedRoom); n != 1 {
		t.Fatalf("Unreadable = %d before the batch with the decrypted event is committed, want 1", n)
	}
	send(matrixbot.Event{Kind: matrixbot.KindSyncDone})
	if n := roster.Unreadable(feedRoom); n != 0 {
		t.Fatalf("Unreadable = %d after the decrypted event's batch, want 0", n)
	}
	if got := liveDevices(t, tr); !slices.Equal(got, []string{"ADEV"}) {
		t.Fatalf("members %v, want the decrypted membership [ADEV]", got)
	}

	// Expiry: a mark counts only while the event is sticky.
	send(encrypted("$e2", time.Minute), matrixbot.Event{Kind: matrixbot.KindSyncDone})
	if n := roster.Unreadable(feedRoom); n != 1 {
		t.Fatalf("Unreadable = %d, want 1", n)
	}
	roster.mu.Lock()
	roster.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	roster.mu.Unlock()
	if n := roster.Unreadable(feedRoom); n != 0 {
		t.Fatalf("Unreadable = %d once the event's stickiness ended, want 0", n)
	}
	roster.mu.Lock()
	roster.now = time.Now
	roster.mu.Unlock()

	// Leaving the room forgets its marks.
	send(encrypted("$e3", time.Hour))
	send(matrixbot.Event{Kind: matrixbot.KindMembership, RoomID: feedRoom, Membership: event.MembershipLeave, Sender: feedBot},
		matrixbot.Event{Kind: matrixbot.KindSyncDone})
	if n := roster.Unreadable(feedRoom); n != 0 {
		t.Fatalf("Unreadable = %d after the bot left the room, want 0", n)
	}
}

// TestRosterUnreadableBounded: marks per room are bounded; the room stays
// unreadable when the bound drops some.
func TestRosterUnreadableBounded(t *testing.T) {
	r := NewRoster()
	now := time.Now()
	for i := range maxUnreadablePerRoom + 10 {
		r.markUnreadable(feedRoom, id.EventID(fmt.Sprintf("$e%d", i)), now.Add(time.Hour+time.Duration(i)*time.Second))
	}
	if n := r.Unreadable(feedRoom); n != maxUnreadablePerRoom {
		t.Fatalf("Unreadable = %d, want the bound %d", n, maxUnreadablePerRoom)
	}
	r.markUnreadable(feedRoom, "$old", now.Add(-time.Second))
	if n := r.Unreadable(feedRoom); n != maxUnreadablePerRoom {
		t.Fatalf("an already expired event was counted: %d", n)
	}
	if n := r.Unreadable("!other:example.org"); n != 0 {
		t.Fatalf("another room: %d", n)
	}
}

// FuzzDecodeSticky feeds arbitrary rtc.member content to the sticky
// decoder: hostile input must never panic, and whatever it yields names
// its source by the sender and a sticky key.
func FuzzDecodeSticky(f *testing.F) {
	f.Add([]byte(`{"msc4354_sticky_key":"k"}`), int64(3600000), true)
	f.Add([]byte(`{"sticky_key":"k","msc4354_sticky_key":"k"}`), int64(0), false)
	f.Add([]byte(`{"slot_id":"m.call#ROOM","application":{"type":"m.call"},"member":{"user_id":"@a:example.org","device_id":"D","id":"m"},"rtc_transports":[],"msc4354_sticky_key":"m"}`), int64(60000), true)
	f.Add([]byte(`{"sticky_key":1}`), int64(-1), false)
	feed := &Feed{logger: slog.New(slog.DiscardHandler), roster: NewRoster()}
	f.Fuzz(func(t *testing.T, content []byte, stickyMS int64, timeline bool) {
		e := &event.Event{Type: event.Type{Type: RTCStickyEventType, Class: event.MessageEventType}, Sender: "@a:example.org",
			ID: "$e", RoomID: feedRoom, Timestamp: time.Now().UnixMilli(), Content: event.Content{VeryRaw: content}}
		if stickyMS != 0 {
			e.Sticky = &event.Sticky{}
			e.Sticky.Duration.Duration = time.Duration(stickyMS) * time.Millisecond
		}
		src := matrixbot.SourceSticky
		if timeline {
			src = matrixbot.SourceTimeline
		}
		u, ok := feed.decodeSticky(matrixbot.Event{Kind: matrixbot.KindTimeline, RoomID: feedRoom, Source: src, Evt: e})
		if !ok {
			return
		}
		if len(u.Members) > 1 || u.Source.Room != feedRoom || len(u.Source.StateKey) <= len("@a:example.org|") {
			t.Fatalf("update %+v", u)
		}
		if len(u.Members) == 1 && u.Source.StateKey != "@a:example.org|"+u.Members[0].StateKey {
			t.Fatalf("source %q for a member with sticky key %q", u.Source.StateKey, u.Members[0].StateKey)
		}
	})
}
