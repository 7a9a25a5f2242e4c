package frame

import (
	"crypto/cipher"
	"fmt"
	"slices"
)

// Encryptor encrypts the frames of one outgoing track with the ring's
// current key. It is not safe for concurrent use.
type Encryptor struct {
	ring    *KeyRing
	codec   Codec
	iv      ivCounter
	scratch []byte // H.264: sealed tail before escaping
}

// NewEncryptor returns an encryptor for codec's frames keyed by ring.
func NewEncryptor(ring *KeyRing, codec Codec) (*Encryptor, error) {
	if ring == nil || !codec.valid() {
		return nil, fmt.Errorf("%w: encryptor for %v", ErrConfig, codec)
	}
	var floor byte
	if codec == H264 {
		floor = ivFloor
	}
	iv, err := newIVCounter(floor)
	if err != nil {
		return nil, err
	}
	return &Encryptor{ring: ring, codec: codec, iv: iv}, nil
}

// Encrypt appends the encrypted form of frame to dst and returns the
// extended slice; dst must not overlap frame. Empty frames (Opus DTX) are
// sent as they are, like livekit-client does. With enough capacity in dst it
// allocates nothing. For VP8 the key/delta prefix is read from the frame's
// P bit, the same bit libwebrtc receivers use.
func (e *Encryptor) Encrypt(dst, frame []byte) ([]byte, error) {
	if len(frame) == 0 {
		return dst, nil
	}
	slot := int(e.ring.current.Load())
	key := e.ring.slots[slot].Load()
	if key == nil {
		return dst, fmt.Errorf("frame: encrypt with key index %d: %w", slot, ErrNoKey)
	}
	l, ok := frameLayout(e.codec, frame)
	if !ok {
		return dst, ErrNoSlice
	}
	if l.clear > len(frame) {
		return dst, fmt.Errorf("%w: %d-byte %v frame shorter than its %d-byte clear prefix", ErrMalformed, len(frame), e.codec, l.clear)
	}
	iv := e.iv.next()
	return e.seal(dst, key.aead, frame, l, iv, byte(slot)), nil
}

// seal appends head ‖ E(AES-GCM(body, aad = head) ‖ iv ‖ ivLen ‖ kid) to dst,
// where E escapes for H.264.
func (e *Encryptor) seal(dst []byte, aead cipher.AEAD, frame []byte, l layout, iv []byte, kid byte) []byte {
	head, body := frame[:l.clear], frame[l.clear:]
	out := slices.Grow(dst, len(frame)+tagSize+trailerSize)
	out = append(out, head...)
	if !l.escaped {
		out = aead.Seal(out, iv, body, head)
		return append(append(out, iv...), byte(len(iv)), kid)
	}
	sealed := aead.Seal(e.scratch[:0], iv, body, head)
	sealed = append(append(sealed, iv...), byte(len(iv)), kid)
	e.scratch = sealed
	return appendEscaped(out, sealed)
}
