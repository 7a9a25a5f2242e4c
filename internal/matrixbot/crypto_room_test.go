package matrixbot

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
)

const cryptoRoom = id.RoomID("!enc:localhost")

// offlineSyncer is a sync loop's state over an offline Olm device, joined
// to cryptoRoom, for feeding it room events directly.
func offlineSyncer(t testing.TB) *syncer {
	t.Helper()
	b, o := offlineOlm(t)
	return &syncer{bot: b, olm: o, roomCrypto: newRoomCrypto(), joined: map[id.RoomID]struct{}{cryptoRoom: {}}}
}

// megolmEvent is a sticky m.room.encrypted room event of session sid (a
// session the bot has no key for).
func megolmEvent(t testing.TB, eventID, sid string, sticky time.Duration) *event.Event {
	t.Helper()
	wire := map[string]any{"type": "m.room.encrypted", "event_id": eventID, "sender": peerUser,
		"origin_server_ts": time.Now().UnixMilli(), "room_id": cryptoRoom,
		"content": map[string]any{"algorithm": id.AlgorithmMegolmV1, "session_id": fmt.Sprintf("%-43s", sid)[:43],
			"ciphertext": strings.Repeat("A", 100), "sender_key": "k", "device_id": "D"}}
	if sticky > 0 {
		wire["msc4354_sticky"] = map[string]any{"duration_ms": sticky.Milliseconds()}
	}
	return roomEvent(t, wire)
}

// roomEvent decodes the timeline event wire of cryptoRoom as the sync does.
func roomEvent(t testing.TB, wire map[string]any) *event.Event {
	t.Helper()
	raw, _ := json.Marshal(wire)
	var evt event.Event
	if err := json.Unmarshal(raw, &evt); err != nil {
		t.Fatal(err)
	}
	prepare(&evt, cryptoRoom, event.MessageEventType)
	return &evt
}

// TestUndecryptableBounded (#9 defect 5): an encrypted sticky event whose
// key is missing is emitted once as Undecryptable and kept for a retry;
// the queue is bounded, non-sticky encrypted events (chat) are skipped
// without work, and events of a room the bot leaves are dropped.
func TestUndecryptableBounded(t *testing.T) {
	leakcheck.Check(t)
	s := offlineSyncer(t)
	ctx := t.Context()
	for i := range maxUndecryptable + 20 {
		e, ok := s.roomEncrypted(ctx, cryptoRoom, SourceTimeline, megolmEvent(t, fmt.Sprintf("$e%d", i), fmt.Sprintf("s%d", i%300), time.Hour))
		if !ok || !e.Undecryptable || e.Decrypted || e.Kind != KindTimeline || e.Evt.ID != id.EventID(fmt.Sprintf("$e%d", i)) {
			t.Fatalf("event %d: ok=%v %+v", i, ok, e)
		}
	}
	if n := len(s.roomCrypto.pending); n != maxUndecryptable {
		t.Fatalf("%d events waiting, want the bound %d", n, maxUndecryptable)
	}
	if n := len(s.roomCrypto.requested); n > maxKeyRequests {
		t.Fatalf("%d key requests remembered, bound %d", n, maxKeyRequests)
	}
	last := fmt.Sprintf("$e%d", maxUndecryptable+19)
	if e, ok := s.roomEncrypted(ctx, cryptoRoom, SourceTimeline, megolmEvent(t, last, "s", time.Hour)); ok {
		t.Fatalf("an undecryptable event was emitted twice: %+v", e)
	}
	if e, ok := s.roomEncrypted(ctx, cryptoRoom, SourceTimeline, megolmEvent(t, "$chat", "s", 0)); ok {
		t.Fatalf("a non-sticky encrypted event was emitted: %+v", e)
	}
	old := megolmEvent(t, "$old", "s", time.Minute)
	old.Timestamp = time.Now().Add(-2 * time.Minute).UnixMilli()
	if e, ok := s.roomEncrypted(ctx, cryptoRoom, SourceSticky, old); ok {
		t.Fatalf("an event no longer sticky was emitted: %+v", e)
	}
	if e, ok := s.roomEncrypted(ctx, "!other:localhost", SourceTimeline, megolmEvent(t, "$x", "s", time.Hour)); ok {
		t.Fatalf("an event of a room the bot is not in was emitted: %+v", e)
	}

	s.roomCrypto.forget(cryptoRoom)
	if n := len(s.roomCrypto.pending); n != 0 {
		t.Fatalf("%d events still waiting after the room was left", n)
	}
}

// FuzzRoomEncrypted feeds arbitrary room events (as the sync decodes them)
// to the Megolm layer: hostile input must never panic, and nothing comes out
// decrypted without a key.
func FuzzRoomEncrypted(f *testing.F) {
	s := offlineSyncer(f)
	valid, _ := json.Marshal(megolmEvent(f, "$e", "s", time.Hour))
	f.Add(valid)
	f.Add([]byte(`{"type":"m.room.encrypted","event_id":"$x","sender":"@a:localhost","msc4354_sticky":{"duration_ms":60000},"content":{"algorithm":"m.megolm.v1.aes-sha2","ciphertext":"!!","session_id":"x"}}`))
	f.Add([]byte(`{"type":"m.room.encrypted","msc4354_sticky":{"duration_ms":-1},"content":null}`))
	f.Add([]byte(`{"type":"m.room.encrypted","unsigned":{"msc4354_sticky_duration_ttl_ms":1},"content":{"algorithm":"m.olm.v1.curve25519-aes-sha2"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var evt event.Event
		if json.Unmarshal(data, &evt) != nil {
			return
		}
		prepare(&evt, cryptoRoom, event.MessageEventType)
		if evt.Type != event.EventEncrypted {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e, ok := s.roomEncrypted(ctx, cryptoRoom, SourceTimeline, &evt)
		if ok && (e.Decrypted || !e.Undecryptable || e.Evt != &evt) {
			t.Fatalf("emitted %+v without a key", e)
		}
		s.roomCrypto.forget(cryptoRoom)
	})
}
