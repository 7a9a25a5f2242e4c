package e2ee

import "errors"

// Sentinel errors of the key-event codecs. Every error of a Parse* or Build*
// function wraps exactly one of them (test with errors.Is). Messages name the
// field and the reason but never quote key material.
var (
	// ErrMalformed: the content does not match the dialect's schema: a
	// required field is missing, has the wrong JSON type or an invalid value
	// (bad base64, wrong key length, index outside the dialect's ring).
	ErrMalformed = errors.New("malformed key event")
	// ErrTooLarge: the content exceeds a hostile-input bound (size, list
	// length, string length).
	ErrTooLarge = errors.New("key event too large")
	// ErrInvalidEvent: a Build* function was given a value it cannot encode
	// so that it parses back to the same value.
	ErrInvalidEvent = errors.New("key event cannot be encoded")
	// ErrUnknownEventType: the event type is none of the key events.
	ErrUnknownEventType = errors.New("not a key event type")
	// ErrDialect: the dialect has no key events (or no key requests).
	ErrDialect = errors.New("dialect has no such key event")
)

// Bounds applied to untrusted content.
const (
	MaxContentBytes = 16 << 10 // whole to-device content
	MaxIDLen        = 255      // bytes of room, device, call, application, scope and member ids
	// MaxFamedlyKeys caps the Famedly "keys" list: the SDK sends one entry,
	// its old mesh code sent the whole ring (16).
	MaxFamedlyKeys = 16
)
