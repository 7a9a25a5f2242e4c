package frame

import "errors"

// Errors returned by this package. Decrypt wraps them with the key index or
// codec; test with errors.Is.
var (
	// ErrNoKey means the ring has no key at the frame's key index (or at the
	// current index when encrypting).
	ErrNoKey = errors.New("frame: no key at this index")
	// ErrInvalidKey means the key index failed more often in a row than the
	// ring's failure tolerance; its frames are dropped untried until a key
	// is set at that index or the key there is ratcheted.
	ErrInvalidKey = errors.New("frame: key index marked invalid after repeated failures")
	// ErrMalformed means the frame is too short or its trailer is not one a
	// LiveKit sender writes.
	ErrMalformed = errors.New("frame: malformed frame")
	// ErrDecrypt means AES-GCM authentication failed with every key tried.
	ErrDecrypt = errors.New("frame: decryption failed")
	// ErrNoSlice means an H.264 frame to encrypt holds no slice NAL unit, so
	// it has no clear prefix receivers agree on.
	ErrNoSlice = errors.New("frame: H.264 frame without a slice NAL unit")
	// ErrServerInjected means the frame carries the room's server-injected
	// frame trailer but its payload is none of the blank frames the server
	// sends; receivers drop such frames.
	ErrServerInjected = errors.New("frame: server-injected frame with an unknown payload")
	// ErrConfig means a RingConfig, codec or key material is unusable.
	ErrConfig = errors.New("frame: invalid configuration")
)
