package testenv

import (
	"errors"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// RoomEvent is a room event as a CryptoClient's user reads it: Evt is
// decrypted when it came as m.room.encrypted (then Encrypted is true).
type RoomEvent struct {
	Evt       *event.Event
	Encrypted bool
}

// roomHistory is how many of a room's latest events FindRoomEvent reads.
const roomHistory = 100

// FindRoomEvent returns the oldest of room's latest events that match
// accepts, decrypting encrypted ones with the room keys c has received. It
// syncs (taking room keys in) and reads the room again until one matches
// or timeout passes (then the test fails). Events that do not decrypt
// (yet) are passed over.
func (c *CryptoClient) FindRoomEvent(t testing.TB, timeout time.Duration, room id.RoomID, match func(RoomEvent) bool) RoomEvent {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := c.Client.Messages(t.Context(), room, "", "", mautrix.DirectionBackward, nil, roomHistory)
		if err != nil {
			t.Fatalf("%s: messages of %s: %v", c.User.ID, room, err)
		}
		for _, evt := range slices.Backward(resp.Chunk) {
			if re, ok := c.readable(t, room, evt); ok && match(re) {
				return re
			}
		}
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("%s: no matching event in %s within %v", c.User.ID, room, timeout)
		}
		if err := c.Sync(t.Context(), min(left, 2*time.Second)); err != nil {
			t.Fatalf("%s: sync: %v", c.User.ID, err)
		}
	}
}

// readable is evt as c's user reads it, or false when it does not
// decrypt.
func (c *CryptoClient) readable(t testing.TB, room id.RoomID, evt *event.Event) (RoomEvent, bool) {
	if evt == nil {
		return RoomEvent{}, false
	}
	evt.RoomID = room
	if evt.Type.Type != event.EventEncrypted.Type {
		// Types mautrix has no struct for (or knows only as state, which
		// /messages does not mark) stay raw: no match reads them.
		err := evt.Content.ParseRaw(evt.Type)
		if err != nil && !errors.Is(err, event.ErrContentAlreadyParsed) && !errors.Is(err, event.ErrUnsupportedContentType) {
			t.Logf("%s: unparsable event %s: %v", c.User.ID, evt.ID, err)
		}
		return RoomEvent{Evt: evt}, true
	}
	evt.Type = event.EventEncrypted
	if err := evt.Content.ParseRaw(evt.Type); err != nil && !errors.Is(err, event.ErrContentAlreadyParsed) {
		return RoomEvent{}, false
	}
	dec, err := c.Machine.DecryptMegolmEvent(t.Context(), evt)
	if err != nil {
		return RoomEvent{}, false
	}
	return RoomEvent{Evt: dec, Encrypted: true}, true
}

// IsNotice matches m.notice messages whose body is body, from sender.
func IsNotice(sender id.UserID, body string) func(RoomEvent) bool {
	return func(re RoomEvent) bool {
		m := re.Evt.Content.AsMessage()
		return re.Evt.Sender == sender && re.Evt.Type.Type == event.EventMessage.Type && m.MsgType == event.MsgNotice && m.Body == body
	}
}
