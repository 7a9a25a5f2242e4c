package callsim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// The wire format, written here from the spec (matrixrtc-js.md) rather than
// taken from the packages under test, so a codec bug there cannot hide in
// both the coordinator and its test partners.

// KeysEventType is Element Call's to-device media key event.
const KeysEventType = "io.element.call.encryption_keys"

// keyRing is the js-sdk's key index range (indices 0..255); keyLen its key size.
const (
	keyRing = 256
	keyLen  = 16
)

var keysType = event.Type{Type: KeysEventType, Class: event.ToDeviceEventType}

// Session is the session-format membership Element Call publishes for dev
// in room's room-wide call (application m.call, call id ""), and its state
// key "_{user}_{device}_m.call" (rooms without owned state).
func Session(serviceURL string, room id.RoomID, user id.UserID, dev id.DeviceID) (stateKey string, content map[string]any) {
	return "_" + string(user) + "_" + string(dev) + "_m.call", map[string]any{
		"application": "m.call", "call_id": "", "scope": "m.room", "device_id": dev,
		"membershipID": string(user) + ":" + string(dev), "expires": (4 * time.Hour).Milliseconds(),
		"focus_active":   map[string]any{"type": "livekit", "focus_selection": "oldest_membership"},
		"foci_preferred": []any{map[string]any{"type": "livekit", "livekit_service_url": serviceURL, "livekit_alias": room}},
	}
}

// session is one membership in the room-wide call as a client reads it: the
// device and when it joined (created_ts, else the event's origin_server_ts).
type session struct {
	dev     Device
	created time.Time
}

// parseSession reads a call-member state event; ok is false for a leave
// (empty content) and for memberships of other calls.
func parseSession(evt *event.Event) (s session, ok bool, err error) {
	var c struct {
		Application string `json:"application"`
		CallID      string `json:"call_id"`
		Scope       string `json:"scope"`
		DeviceID    string `json:"device_id"`
		CreatedTS   *int64 `json:"created_ts"`
	}
	if err := json.Unmarshal(evt.Content.VeryRaw, &c); err != nil {
		return s, false, fmt.Errorf("call member %s: %w", *evt.StateKey, err)
	}
	if c.Application != "m.call" || c.CallID != "" || c.Scope != "m.room" || c.DeviceID == "" {
		return s, false, nil
	}
	s = session{dev: Device{evt.Sender, id.DeviceID(c.DeviceID)}, created: time.UnixMilli(evt.Timestamp)}
	if c.CreatedTS != nil {
		s.created = time.UnixMilli(*c.CreatedTS)
	}
	return s, true, nil
}

// keysContent is an io.element.call.encryption_keys content in the js-sdk's
// order (ToDeviceKeyTransport.sendKey).
type keysContent struct {
	Keys struct {
		Index int    `json:"index"`
		Key   string `json:"key"`
	} `json:"keys"`
	RoomID string `json:"room_id"`
	Member struct {
		ClaimedDeviceID string `json:"claimed_device_id"`
		ID              string `json:"id,omitempty"`
	} `json:"member"`
	Session struct {
		CallID      string `json:"call_id"`
		Application string `json:"application"`
		Scope       string `json:"scope"`
	} `json:"session"`
	SentTS int64 `json:"sent_ts,omitempty"`
}

func newKey() []byte {
	k := make([]byte, keyLen)
	rand.Read(k) // never fails (crypto/rand, Go >= 1.24)
	return k
}

func buildKeys(room id.RoomID, self Device, index int, key []byte) keysContent {
	var c keysContent
	c.Keys.Index, c.Keys.Key = index, base64.StdEncoding.EncodeToString(key)
	c.RoomID = string(room)
	c.Member.ClaimedDeviceID, c.Member.ID = string(self.Device), string(self.User)+":"+string(self.Device)
	c.Session.Application, c.Session.Scope = "m.call", "m.room"
	c.SentTS = time.Now().UnixMilli()
	return c
}

var errBadKey = errors.New("callsim: invalid key event")

// parseKeys reads a received key event for room and returns the device it
// claims, checking what the js-sdk checks: the room, a claimed device, one
// key of 16 or 32 bytes at an index of the ring.
func parseKeys(content map[string]any, room id.RoomID) (id.DeviceID, error) {
	raw, err := json.Marshal(content)
	if err != nil {
		return "", err
	}
	var c keysContent
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", fmt.Errorf("%w: %v", errBadKey, err)
	}
	key, err := base64.StdEncoding.DecodeString(c.Keys.Key)
	switch {
	case c.RoomID != string(room):
		return "", fmt.Errorf("%w: room %q, want %s", errBadKey, c.RoomID, room)
	case c.Member.ClaimedDeviceID == "":
		return "", fmt.Errorf("%w: no claimed device", errBadKey)
	case err != nil || (len(key) != keyLen && len(key) != 2*keyLen):
		return "", fmt.Errorf("%w: key of %d bytes (%v)", errBadKey, len(key), err)
	case c.Keys.Index < 0 || c.Keys.Index >= keyRing:
		return "", fmt.Errorf("%w: index %d", errBadKey, c.Keys.Index)
	}
	return id.DeviceID(c.Member.ClaimedDeviceID), nil
}
