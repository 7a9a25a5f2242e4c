package testenv

import (
	"context"
	"fmt"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// RTCMember is the MSC4143 sticky membership event Element Call sends in
// its matrix_2_0 mode.
var RTCMember = event.Type{Type: "org.matrix.msc4143.rtc.member", Class: event.MessageEventType}

// RTCMemberContent is the membership content Element Call's matrix_2_0
// mode sends for user's device in the room call (matrixrtc-js.md 1.4):
// member id memberID, which is also its sticky key.
func RTCMemberContent(user id.UserID, device id.DeviceID, memberID, serviceURL string) map[string]any {
	return map[string]any{
		"slot_id":            "m.call#ROOM",
		"application":        map[string]any{"type": "m.call", "m.call.intent": "audio"},
		"member":             map[string]any{"user_id": user, "device_id": device, "id": memberID},
		"rtc_transports":     []any{map[string]any{"type": "livekit", "livekit_service_url": serviceURL}},
		"versions":           []any{},
		"msc4354_sticky_key": memberID,
	}
}

// SendSticky sends content as an MSC4354 sticky event of type typ into
// room, sticky for d (Element Call uses an hour).
func SendSticky(ctx context.Context, cli *mautrix.Client, room id.RoomID, typ event.Type, content any, d time.Duration) (id.EventID, error) {
	resp, err := cli.SendMessageEvent(ctx, room, typ, content, mautrix.ReqSendEvent{UnstableStickyDuration: d})
	if err != nil {
		return "", fmt.Errorf("send sticky %s: %w", typ.Type, err)
	}
	return resp.EventID, nil
}

// SendStickyEncrypted Megolm-encrypts content as an event of type typ for
// room and sends it sticky for d, as matrix-js-sdk does in an encrypted
// room. The room's Megolm session is made and shared (Olm-encrypted, over
// to-device) with every device of shareWith the first time; later calls
// reuse it, so users added to shareWith later get no key (see
// ForwardRoomKey).
func (c *CryptoClient) SendStickyEncrypted(ctx context.Context, room id.RoomID, typ event.Type, content any, d time.Duration, shareWith ...id.UserID) (id.EventID, error) {
	enc, err := c.encryptRoom(ctx, room, typ, content, shareWith)
	if err != nil {
		return "", err
	}
	return SendSticky(ctx, c.Client, room, event.EventEncrypted, enc, d)
}

// ForwardRoomKey sends the room's current outbound Megolm session, from its
// first message on, to the given devices as an Olm-encrypted
// m.forwarded_room_key: a late answer to a key request.
func (c *CryptoClient) ForwardRoomKey(ctx context.Context, room id.RoomID, to map[id.UserID][]id.DeviceID) error {
	out, err := c.Machine.CryptoStore.GetOutboundGroupSession(ctx, room)
	if err != nil || out == nil {
		return fmt.Errorf("no outbound megolm session in %s: %v", room, err)
	}
	in, err := c.Machine.CryptoStore.GetGroupSession(ctx, room, out.ID())
	if err != nil || in == nil {
		return fmt.Errorf("no inbound copy of megolm session %s: %v", out.ID(), err)
	}
	key, err := in.Internal.Export(in.Internal.FirstKnownIndex())
	if err != nil {
		return fmt.Errorf("export megolm session: %w", err)
	}
	own := c.Machine.OwnIdentity()
	content := &event.ForwardedRoomKeyEventContent{
		RoomKeyEventContent: event.RoomKeyEventContent{
			Algorithm:  id.AlgorithmMegolmV1,
			RoomID:     room,
			SessionID:  out.ID(),
			SessionKey: string(key),
		},
		SenderKey:          own.IdentityKey,
		SenderClaimedKey:   own.SigningKey,
		ForwardingKeyChain: []string{},
	}
	return c.SendEncrypted(ctx, event.ToDeviceForwardedRoomKey, to, content)
}
