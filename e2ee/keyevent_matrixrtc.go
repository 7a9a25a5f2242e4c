package e2ee

import (
	"fmt"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/membership"
)

// maxSentTS bounds sent_ts to JavaScript's exact-integer range.
const maxSentTS = 1<<53 - 1

// ParseMatrixRTCKeys reads io.element.call.encryption_keys content
// (matrixrtc-js.md 3.2): {keys:{index,key}, member:{id, claimed_device_id},
// room_id, session:{call_id, application, scope}, sent_ts}. Required, as the
// js-sdk requires them: keys (ONE object), room_id and
// member.claimed_device_id. member.id, session and sent_ts are optional
// because older senders omit them. Newer js-sdk builds also send the key as
// "media_key" and the member id as "member_id"; those are read when "keys" or
// member.id are absent. Keys must be 16 (or, per MSC4195, 32) bytes at index
// 0..255.
func ParseMatrixRTCKeys(content []byte) (KeyEvent, error) {
	return parseNamed("matrixrtc keys", parseMatrixRTCKeys, content)
}

func parseMatrixRTCKeys(content []byte) (KeyEvent, error) {
	ev := KeyEvent{Dialect: membership.DialectMatrixRTC}
	o, err := readContent(content)
	if err != nil {
		return ev, err
	}
	keyField := "keys"
	if _, ok := o[keyField]; !ok {
		if _, ok := o["media_key"]; ok {
			keyField = "media_key"
		}
	}
	ko, err := o.sub(keyField, true)
	if err != nil {
		return ev, err
	}
	k, err := parseKey(ko, keyField, ev.Dialect)
	if err != nil {
		return ev, err
	}
	ev.Keys = []Key{k}
	room, err := o.roomID("room_id")
	if err != nil {
		return ev, err
	}
	member, err := o.sub("member", true)
	if err != nil {
		return ev, err
	}
	device, err := member.nonEmpty("claimed_device_id")
	if err != nil {
		return ev, fmt.Errorf("member: %w", err)
	}
	ev.DeviceID = id.DeviceID(device)
	if ev.MemberID, err = o.text("member_id", false, ""); err != nil {
		return ev, err
	}
	if ev.MemberID, err = member.text("id", false, ev.MemberID); err != nil {
		return ev, fmt.Errorf("member: %w", err)
	}
	if ev.Call, err = parseSession(o); err != nil {
		return ev, err
	}
	ev.Call.Room = id.RoomID(room)
	if _, ok := o["sent_ts"]; ok {
		ms, err := o.integer("sent_ts", 0, maxSentTS)
		if err != nil {
			return ev, err
		}
		ev.SentAt = time.UnixMilli(ms).UTC()
	}
	return ev, nil
}

// parseSession reads the optional "session" object, defaulting to the
// room-wide call js-sdk senders hard-code.
func parseSession(o object) (membership.CallKey, error) {
	var call membership.CallKey
	s, err := o.sub("session", false)
	if err != nil {
		return call, err
	}
	if call.CallID, err = s.text("call_id", false, ""); err != nil {
		return call, fmt.Errorf("session: %w", err)
	}
	if call.Application, err = s.text("application", false, "m.call"); err != nil {
		return call, fmt.Errorf("session: %w", err)
	}
	if call.Scope, err = s.text("scope", false, "m.room"); err != nil {
		return call, fmt.Errorf("session: %w", err)
	}
	return call, nil
}

// matrixRTCKeysJSON is the content in the js-sdk's key order
// (ToDeviceKeyTransport.sendKey).
type matrixRTCKeysJSON struct {
	Keys    keyJSON       `json:"keys"`
	RoomID  string        `json:"room_id"`
	Member  rtcMemberJSON `json:"member"`
	Session sessionJSON   `json:"session"`
	SentTS  *int64        `json:"sent_ts,omitempty"`
}

type rtcMemberJSON struct {
	ClaimedDeviceID string `json:"claimed_device_id"`
	ID              string `json:"id,omitempty"`
}

type sessionJSON struct {
	CallID      string `json:"call_id"`
	Application string `json:"application"`
	Scope       string `json:"scope"`
}

// BuildMatrixRTCKeys writes ev (exactly one key) as io.element.call.encryption_keys
// content. member.id is omitted when ev.MemberID is empty, sent_ts when
// ev.SentAt is zero.
func BuildMatrixRTCKeys(ev KeyEvent) ([]byte, error) {
	c, err := matrixRTCKeysOf(ev)
	if err != nil {
		return nil, fmt.Errorf("e2ee: build matrixrtc keys: %w", err)
	}
	return writeJSON(c)
}

func matrixRTCKeysOf(ev KeyEvent) (matrixRTCKeysJSON, error) {
	var c matrixRTCKeysJSON
	call := ev.Call
	if err := checkIDLen(string(call.Room), call.CallID, call.Application, call.Scope, string(ev.DeviceID), ev.MemberID); err != nil {
		return c, err
	}
	if ev.DeviceID == "" || len(call.Room) == 0 || call.Room[0] != '!' {
		return c, fmt.Errorf("%w: need a device id and a room id", ErrInvalidEvent)
	}
	if len(ev.Keys) != 1 {
		return c, fmt.Errorf("%w: %d keys, the event carries exactly one", ErrInvalidEvent, len(ev.Keys))
	}
	k := ev.Keys[0]
	if err := checkKey(k, membership.DialectMatrixRTC); err != nil {
		return c, err
	}
	c = matrixRTCKeysJSON{
		Keys:    keyJSON{Index: k.Index, Key: EncodeKey(k.Bytes)},
		RoomID:  string(call.Room),
		Member:  rtcMemberJSON{ClaimedDeviceID: string(ev.DeviceID), ID: ev.MemberID},
		Session: sessionJSON{CallID: call.CallID, Application: call.Application, Scope: call.Scope},
	}
	if !ev.SentAt.IsZero() {
		ms := ev.SentAt.UnixMilli()
		if ms < 0 || ms > maxSentTS {
			return c, fmt.Errorf("%w: sent_ts out of range", ErrInvalidEvent)
		}
		c.SentTS = &ms
	}
	return c, nil
}
