package matrixbot

import (
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// eventIn matches an Event of room carrying the event eventID.
func eventIn(room id.RoomID, eventID id.EventID) func(Event) bool {
	return func(e Event) bool { return e.RoomID == room && e.Evt != nil && e.Evt.ID == eventID }
}

// textMessage is the content of an m.text message body.
func textMessage(body string) *event.MessageEventContent {
	return &event.MessageEventContent{MsgType: event.MsgText, Body: body}
}

// say has alice send an m.text message with body, unencrypted, into room.
func (sc *cryptoScene) say(t *testing.T, room id.RoomID, body string) id.EventID {
	t.Helper()
	resp, err := sc.aliceUser.Client.SendMessageEvent(t.Context(), room, event.EventMessage, textMessage(body))
	if err != nil {
		t.Fatal(err)
	}
	return resp.EventID
}

// checkMessage fails t unless e is the m.room.message from sender with
// body, from the timeline, decrypted or not as wanted.
func checkMessage(t *testing.T, e Event, sender id.UserID, body string, decrypted bool) {
	t.Helper()
	if e.Kind != KindTimeline || e.Source != SourceTimeline || e.Decrypted != decrypted || e.Undecryptable ||
		e.Evt.Type != event.EventMessage || e.Evt.Sender != sender || e.Evt.Content.AsMessage().Body != body {
		t.Fatalf("message: %+v, evt %+v", e, e.Evt)
	}
}

// TestRoomMessages (#13 room commands) runs the bot on the real Synapse: a
// plain m.room.message reaches Events; in a Megolm room, a message from
// alice's device comes out decrypted, and one under a session the bot was
// not given is not emitted until its key arrives (the bot asks alice's
// device for it), then comes out once, decrypted.
func TestRoomMessages(t *testing.T) {
	sc := newCryptoScene(t)
	r, alice, aliceUser, botUser := sc.bot, sc.alice, sc.aliceUser, sc.cfg.UserID
	ctx := t.Context()
	encRoom, plainRoom := sc.twoRooms(t)

	plain := sc.say(t, plainRoom, "!call status")
	checkMessage(t, r.next(t, 20*time.Second, "the plain message", eventIn(plainRoom, plain)),
		aliceUser.ID, "!call status", false)

	first, err := alice.SendRoomEncrypted(ctx, encRoom, event.EventMessage, textMessage("!call join"), aliceUser.ID, botUser)
	if err != nil {
		t.Fatal(err)
	}
	checkMessage(t, r.next(t, 20*time.Second, "the decrypted message", eventIn(encRoom, first)),
		aliceUser.ID, "!call join", true)

	// A new session the bot never got: nothing yet, and a key request.
	if err := alice.Machine.CryptoStore.RemoveOutboundGroupSession(ctx, encRoom); err != nil {
		t.Fatal(err)
	}
	late, err := alice.SendRoomEncrypted(ctx, encRoom, event.EventMessage, textMessage("!call leave"), aliceUser.ID)
	if err != nil {
		t.Fatal(err)
	}
	req := alice.Receive(t, 20*time.Second, testenv.OfType(event.ToDeviceRoomKeyRequest.Type))
	if body, _ := req.Content["body"].(map[string]any); req.Sender != botUser || body["room_id"] != encRoom.String() {
		t.Errorf("key request: %+v", req)
	}
	if err := alice.ForwardRoomKey(ctx, encRoom, map[id.UserID][]id.DeviceID{botUser: {r.Client().DeviceID}}); err != nil {
		t.Fatal(err)
	}
	e := r.next(t, 20*time.Second, "the late decryption", func(e Event) bool {
		if eventIn(encRoom, late)(e) && !e.Decrypted {
			t.Errorf("the message was emitted before its key came: %+v", e)
		}
		return eventIn(encRoom, late)(e) && e.Decrypted
	})
	checkMessage(t, e, aliceUser.ID, "!call leave", true)
}
