package e2ee

import (
	"fmt"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/membership"
)

// To-device event types of the key exchange.
const (
	// FamedlyKeysEventType is what the Famedly SDK sends and listens for.
	FamedlyKeysEventType = "com.famedly.call.member.encryption_keys"
	// FamedlyKeysEventTypeAlias is the name the SDK's README uses.
	FamedlyKeysEventTypeAlias = "com.famedly.call.encryption_keys"
	// FamedlyKeyRequestEventType is what the Famedly SDK sends and listens for.
	FamedlyKeyRequestEventType = "com.famedly.call.member.encryption_keys_request"
	// FamedlyKeyRequestEventTypeAlias is the name the SDK's README uses.
	FamedlyKeyRequestEventTypeAlias = "com.famedly.call.encryption_keys.request"
	// MatrixRTCKeysEventType is the js-sdk / Element Call key event.
	MatrixRTCKeysEventType = "io.element.call.encryption_keys"
)

// Key is one media key at one index of its sender's ring.
type Key struct {
	Index int
	Bytes []byte
}

// String never shows the key bytes, so keys can be logged by accident safely.
func (k Key) String() string { return fmt.Sprintf("key#%d(%d bytes)", k.Index, len(k.Bytes)) }

// KeyEvent is a parsed key event of either dialect. The sender's user is not
// in the content: it is the to-device sender (see Transport).
type KeyEvent struct {
	Dialect membership.Dialect // DialectFamedly or DialectMatrixRTC
	// Call is the call the keys are for. Famedly: the room and conf_id (the
	// group call id, which is the membership's call_id), application
	// "m.call", scope "m.room". MatrixRTC: the room and "session" (default
	// {call_id "", "m.call", "m.room"} when absent, as older senders omit it).
	Call     membership.CallKey
	DeviceID id.DeviceID // the device the content claims (Famedly device_id, MatrixRTC member.claimed_device_id)
	MemberID string      // MatrixRTC member.id ("" when absent); Famedly has none
	SentAt   time.Time   // MatrixRTC sent_ts (zero when absent); Famedly has none
	Keys     []Key       // Famedly: 1..MaxFamedlyKeys; MatrixRTC: exactly one
}

// DialectOfEventType says which dialect a to-device event type belongs to and
// whether it is a key request, or fails with ErrUnknownEventType.
func DialectOfEventType(eventType string) (d membership.Dialect, request bool, err error) {
	switch eventType {
	case FamedlyKeysEventType, FamedlyKeysEventTypeAlias:
		return membership.DialectFamedly, false, nil
	case FamedlyKeyRequestEventType, FamedlyKeyRequestEventTypeAlias:
		return membership.DialectFamedly, true, nil
	case MatrixRTCKeysEventType:
		return membership.DialectMatrixRTC, false, nil
	}
	return membership.DialectUnknown, false, fmt.Errorf("e2ee: %w: %q", ErrUnknownEventType, eventType)
}

// ParseKeyEvent parses the content of a key event of either dialect, chosen
// by its to-device event type.
func ParseKeyEvent(eventType string, content []byte) (KeyEvent, error) {
	d, request, err := DialectOfEventType(eventType)
	if err != nil || request {
		return KeyEvent{}, fmt.Errorf("e2ee: %w: %q carries no keys", ErrUnknownEventType, eventType)
	}
	if d == membership.DialectFamedly {
		return ParseFamedlyKeys(content)
	}
	return ParseMatrixRTCKeys(content)
}

// parseNamed runs parse, returning the zero value and an error prefixed with
// what on failure.
func parseNamed[T any](what string, parse func([]byte) (T, error), content []byte) (T, error) {
	v, err := parse(content)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("e2ee: %s: %w", what, err)
	}
	return v, nil
}

// parseKey reads one {index, key} object of dialect d.
func parseKey(o object, what string, d membership.Dialect) (Key, error) {
	idx, err := o.integer("index", 0, int64(RingSize(d)-1))
	if err != nil {
		return Key{}, fmt.Errorf("%s: %w", what, err)
	}
	v, ok := o["key"]
	if !ok {
		return Key{}, fmt.Errorf("%s: %w: key is required", what, ErrMalformed)
	}
	s, ok := v.(string)
	if !ok {
		return Key{}, fmt.Errorf("%s: %w: key must be a string", what, ErrMalformed)
	}
	b, err := decodeKey(s)
	if err != nil {
		return Key{}, fmt.Errorf("%s: %w", what, err)
	}
	if !validKeyLen(d, len(b)) {
		return Key{}, fmt.Errorf("%s: %w: key is %d bytes, %v keys are %d", what, ErrMalformed, len(b), d, KeyLen(d))
	}
	return Key{Index: int(idx), Bytes: b}, nil
}

// checkKey refuses a key that Build* cannot write for dialect d.
func checkKey(k Key, d membership.Dialect) error {
	if k.Index < 0 || k.Index >= RingSize(d) {
		return fmt.Errorf("%w: index %d outside 0..%d", ErrInvalidEvent, k.Index, RingSize(d)-1)
	}
	if !validKeyLen(d, len(k.Bytes)) {
		return fmt.Errorf("%w: key is %d bytes, %v keys are %d", ErrInvalidEvent, len(k.Bytes), d, KeyLen(d))
	}
	return nil
}

// keyJSON is one {index, key} as both SDKs write it.
type keyJSON struct {
	Index int    `json:"index"`
	Key   string `json:"key"`
}

// checkIDLen refuses ids a parser would refuse as too long.
func checkIDLen(ids ...string) error {
	for _, s := range ids {
		if len(s) > MaxIDLen {
			return fmt.Errorf("%w: an id is %d bytes, limit %d", ErrInvalidEvent, len(s), MaxIDLen)
		}
	}
	return nil
}
