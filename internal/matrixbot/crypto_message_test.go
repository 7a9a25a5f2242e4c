package matrixbot

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
)

// megolmSender is a peer's outbound Megolm session in cryptoRoom whose key
// the bot holds (as if shared over Olm): its events decrypt offline.
type megolmSender struct {
	out *crypto.OutboundGroupSession
}

func newMegolmSender(t testing.TB, o *olmDevice) *megolmSender {
	t.Helper()
	out, err := crypto.NewOutboundGroupSession(cryptoRoom, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	out.Shared = true
	acc := crypto.NewOlmAccount()
	in, err := crypto.NewInboundGroupSession(acc.IdentityKey(), acc.SigningKey(), cryptoRoom, out.Internal.Key(), 0, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.mach.CryptoStore.PutGroupSession(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	return &megolmSender{out: out}
}

// message is the m.room.encrypted timeline event carrying an m.text
// message with body, sent at ts.
func (m *megolmSender) message(t testing.TB, eventID, body string, ts time.Time) *event.Event {
	t.Helper()
	plain, _ := json.Marshal(map[string]any{"type": "m.room.message", "room_id": cryptoRoom,
		"content": map[string]any{"msgtype": "m.text", "body": body}})
	ciphertext, err := m.out.Encrypt(plain)
	if err != nil {
		t.Fatal(err)
	}
	return roomEvent(t, map[string]any{"type": "m.room.encrypted", "event_id": eventID, "sender": peerUser,
		"origin_server_ts": ts.UnixMilli(), "room_id": cryptoRoom,
		"content": map[string]any{"algorithm": id.AlgorithmMegolmV1, "session_id": m.out.ID(),
			"ciphertext": string(ciphertext)}})
}

// TestEncryptedMessages (#13 room commands): a non-sticky Megolm event of
// the timeline (a chat message, a command) is decrypted when recent; one
// older than MessageWindow is left alone (no Olm work, no key request),
// though its key is at hand; a recent one whose key is missing is not
// emitted but kept, until its window ends, for when the key comes; and
// outside the timeline nothing non-sticky is decrypted.
func TestEncryptedMessages(t *testing.T) {
	leakcheck.Check(t)
	s := offlineSyncer(t)
	ctx := t.Context()
	now := time.Now()
	snd := newMegolmSender(t, s.olm)

	e, ok := s.roomEncrypted(ctx, cryptoRoom, SourceTimeline, snd.message(t, "$new", "!call join", now.Add(-time.Minute)))
	if !ok || !e.Decrypted || e.Undecryptable || e.Kind != KindTimeline || e.Source != SourceTimeline ||
		e.Evt.ID != "$new" || e.Evt.Type != event.EventMessage || e.Evt.Content.AsMessage().Body != "!call join" {
		t.Fatalf("recent message: ok=%v %+v", ok, e)
	}
	old := snd.message(t, "$old", "!call leave", now.Add(-MessageWindow-time.Minute))
	if e, ok := s.roomEncrypted(ctx, cryptoRoom, SourceTimeline, old); ok {
		t.Fatalf("a message older than the window was emitted: %+v", e)
	}
	if e, ok := s.roomEncrypted(ctx, cryptoRoom, SourceState, snd.message(t, "$st", "x", now)); ok {
		t.Fatalf("a non-sticky encrypted event outside the timeline was emitted: %+v", e)
	}
	if n, r := len(s.roomCrypto.pending), len(s.roomCrypto.requested); n != 0 || r != 0 {
		t.Fatalf("%d events waiting, %d key requests after decryptable and stale events", n, r)
	}

	// No key: nothing emitted, kept until its window ends, key asked for.
	sent := now.Add(-time.Minute)
	missing := megolmEvent(t, "$missing", "m", 0)
	missing.Timestamp = sent.UnixMilli()
	if e, ok := s.roomEncrypted(ctx, cryptoRoom, SourceTimeline, missing); ok {
		t.Fatalf("an undecryptable message was emitted: %+v", e)
	}
	if len(s.roomCrypto.pending) != 1 || !s.roomCrypto.pending[0].message ||
		!s.roomCrypto.pending[0].until.Equal(time.UnixMilli(sent.UnixMilli()).Add(MessageWindow)) {
		t.Fatalf("waiting: %+v", s.roomCrypto.pending)
	}
	if len(s.roomCrypto.requested) != 1 {
		t.Fatalf("%d key requests, want 1", len(s.roomCrypto.requested))
	}
	// Dated in the future: kept no longer than a window from now.
	future := megolmEvent(t, "$future", "f", 0)
	future.Timestamp = now.Add(24 * time.Hour).UnixMilli()
	s.roomEncrypted(ctx, cryptoRoom, SourceTimeline, future)
	if until := s.roomCrypto.pending[1].until; until.After(time.Now().Add(MessageWindow)) {
		t.Fatalf("a future-dated message is kept until %v", until)
	}
}

// TestPendingMessagesBounded (#13): a flood of undecryptable messages
// never evicts the sticky memberships waiting for their keys; messages
// have their own, smaller bound.
func TestPendingMessagesBounded(t *testing.T) {
	leakcheck.Check(t)
	s := offlineSyncer(t)
	ctx := t.Context()
	const sticky = 10
	for i := range sticky {
		if _, ok := s.roomEncrypted(ctx, cryptoRoom, SourceTimeline, megolmEvent(t, fmt.Sprintf("$m%d", i), "s", time.Hour)); !ok {
			t.Fatalf("membership %d not emitted as undecryptable", i)
		}
	}
	for i := range maxPendingMessages + 50 {
		s.roomEncrypted(ctx, cryptoRoom, SourceTimeline, megolmEvent(t, fmt.Sprintf("$c%d", i), "c", 0))
	}
	var members, messages int
	for _, u := range s.roomCrypto.pending {
		if u.message {
			messages++
		} else {
			members++
		}
	}
	if members != sticky || messages != maxPendingMessages {
		t.Fatalf("waiting: %d memberships (want %d), %d messages (want the bound %d)", members, sticky, messages, maxPendingMessages)
	}
	if !s.roomCrypto.has(id.EventID(fmt.Sprintf("$c%d", maxPendingMessages+49))) {
		t.Fatal("the newest message was evicted")
	}
}

// TestStalePlainMessages (#13): plain room messages of the timeline older
// than MessageWindow (an initial sync's backlog) are not emitted; recent
// ones are, as is any other old timeline event.
func TestStalePlainMessages(t *testing.T) {
	leakcheck.Check(t)
	s := offlineSyncer(t)
	now := time.Now()
	mk := func(eventID string, typ event.Type, ts time.Time) *event.Event {
		return &event.Event{ID: id.EventID(eventID), Type: typ, Sender: peerUser, Timestamp: ts.UnixMilli(),
			Content: event.Content{VeryRaw: json.RawMessage(`{"msgtype":"m.text","body":"!call status"}`)}}
	}
	evts := []*event.Event{
		mk("$old", event.EventMessage, now.Add(-MessageWindow-time.Minute)),
		mk("$new", event.EventMessage, now.Add(-time.Minute)),
		mk("$redaction", event.EventRedaction, now.Add(-2*MessageWindow)),
	}
	if err := s.roomEvents(t.Context(), cryptoRoom, SourceTimeline, evts); err != nil {
		t.Fatal(err)
	}
	var got []id.EventID
	for len(s.bot.events) > 0 {
		got = append(got, (<-s.bot.events).Evt.ID)
	}
	if fmt.Sprint(got) != "[$new $redaction]" {
		t.Fatalf("emitted %v, want [$new $redaction]", got)
	}
}
