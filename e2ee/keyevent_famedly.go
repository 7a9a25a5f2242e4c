package e2ee

import (
	"fmt"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/membership"
)

// ParseFamedlyKeys reads com.famedly.call.member.encryption_keys content
// (famedly-voip.md 2.2): {keys:[{index,key}], call_id, conf_id, device_id,
// room_id}. Every field is required with the SDK's types; call_id is read but
// not used (the SDK writes the group call id into both call_id and conf_id
// and looks the call up by conf_id). Keys must be 32 bytes at index 0..15; one
// bad entry refuses the whole event, as the SDK's cast does.
func ParseFamedlyKeys(content []byte) (KeyEvent, error) {
	return parseNamed("famedly keys", parseFamedlyKeys, content)
}

func parseFamedlyKeys(content []byte) (KeyEvent, error) {
	ev := KeyEvent{Dialect: membership.DialectFamedly}
	o, err := readContent(content)
	if err != nil {
		return ev, err
	}
	if ev.Call, ev.DeviceID, err = famedlyCallFields(o); err != nil {
		return ev, err
	}
	if _, err := o.text("call_id", true, ""); err != nil {
		return ev, err
	}
	raw, ok := o["keys"]
	if !ok {
		return ev, fmt.Errorf("%w: keys is required", ErrMalformed)
	}
	list, ok := raw.([]any)
	switch {
	case !ok:
		return ev, fmt.Errorf("%w: keys must be a list", ErrMalformed)
	case len(list) == 0:
		return ev, fmt.Errorf("%w: keys is empty", ErrMalformed)
	case len(list) > MaxFamedlyKeys:
		return ev, fmt.Errorf("%w: keys has %d entries, limit %d", ErrTooLarge, len(list), MaxFamedlyKeys)
	}
	for i, e := range list {
		what := fmt.Sprintf("keys[%d]", i)
		m, ok := e.(map[string]any)
		if !ok {
			return ev, fmt.Errorf("%s: %w: must be an object", what, ErrMalformed)
		}
		k, err := parseKey(m, what, ev.Dialect)
		if err != nil {
			return ev, err
		}
		ev.Keys = append(ev.Keys, k)
	}
	return ev, nil
}

// famedlyCallFields reads the fields keys and key requests share: conf_id,
// device_id and room_id.
func famedlyCallFields(o object) (membership.CallKey, id.DeviceID, error) {
	call := membership.CallKey{Application: "m.call", Scope: "m.room"}
	room, err := o.roomID("room_id")
	if err != nil {
		return call, "", err
	}
	call.Room = id.RoomID(room)
	if call.CallID, err = o.text("conf_id", true, ""); err != nil {
		return call, "", err
	}
	device, err := o.nonEmpty("device_id")
	return call, id.DeviceID(device), err
}

// famedlyKeysJSON is the content in the SDK's key order
// (EncryptionKeysEventContent.toJson, then conf_id, device_id, room_id).
type famedlyKeysJSON struct {
	Keys   []keyJSON `json:"keys"`
	CallID string    `json:"call_id"`
	famedlyRequestJSON
}

// BuildFamedlyKeys writes ev as com.famedly.call.member.encryption_keys
// content, with ev.Call.CallID as both call_id and conf_id, as the SDK does.
// Only the room and call id of ev.Call are written.
func BuildFamedlyKeys(ev KeyEvent) ([]byte, error) {
	if err := checkFamedlyCall(ev.Call, ev.DeviceID); err != nil {
		return nil, fmt.Errorf("e2ee: build famedly keys: %w", err)
	}
	if len(ev.Keys) == 0 || len(ev.Keys) > MaxFamedlyKeys {
		return nil, fmt.Errorf("e2ee: build famedly keys: %w: %d keys, want 1..%d", ErrInvalidEvent, len(ev.Keys), MaxFamedlyKeys)
	}
	c := famedlyKeysJSON{CallID: ev.Call.CallID, famedlyRequestJSON: famedlyRequestJSONOf(ev.Call, ev.DeviceID)}
	for _, k := range ev.Keys {
		if err := checkKey(k, membership.DialectFamedly); err != nil {
			return nil, fmt.Errorf("e2ee: build famedly keys: %w", err)
		}
		c.Keys = append(c.Keys, keyJSON{Index: k.Index, Key: EncodeKey(k.Bytes)})
	}
	return writeJSON(c)
}

// checkFamedlyCall refuses a call or device the Famedly parsers would refuse.
func checkFamedlyCall(call membership.CallKey, device id.DeviceID) error {
	if err := checkIDLen(string(call.Room), call.CallID, string(device)); err != nil {
		return err
	}
	if device == "" || len(call.Room) == 0 || call.Room[0] != '!' {
		return fmt.Errorf("%w: need a device id and a room id", ErrInvalidEvent)
	}
	return nil
}
