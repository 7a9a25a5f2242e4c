package frame

import (
	"bytes"
	"crypto/cipher"
	"fmt"
	"slices"
)

// Decryptor decrypts the frames of one incoming track with the keys of the
// publishing participant's ring. It is not safe for concurrent use.
type Decryptor struct {
	ring    *KeyRing
	codec   Codec
	scratch []byte // H.264: unescaped tail
}

// sealedFrame is one reading of an encrypted frame.
type sealedFrame struct {
	aad, iv, ct []byte
}

// NewDecryptor returns a decryptor for codec's frames keyed by ring.
func NewDecryptor(ring *KeyRing, codec Codec) (*Decryptor, error) {
	if ring == nil || !codec.valid() {
		return nil, fmt.Errorf("%w: decryptor for %v", ErrConfig, codec)
	}
	return &Decryptor{ring: ring, codec: codec}, nil
}

// Decrypt appends the plaintext of frame to dst and returns the extended
// slice and the key index the frame named; dst must not overlap frame.
// Empty frames pass through, and so do the server's blank frames marked
// with the room's SIF trailer (trailer stripped; keyIndex 0). On error out
// is dst unchanged; treat ErrDecrypt like a lost frame (ask for a key
// frame), not as proof of a wrong key. A ratchet step that authenticates
// (RingConfig.RatchetWindow) becomes the slot's key.
func (d *Decryptor) Decrypt(dst, frame []byte) (out []byte, keyIndex uint8, err error) {
	if len(frame) == 0 {
		return dst, 0, nil
	}
	r := d.ring
	if len(r.sif) > 0 && bytes.HasSuffix(frame, r.sif) {
		p, ok := serverPayload(frame, r.sif)
		if !ok {
			return dst, 0, ErrServerInjected
		}
		return append(dst, p...), 0, nil
	}
	kid := frame[len(frame)-1]
	slot := int(kid)
	if slot >= r.size {
		return dst, kid, fmt.Errorf("frame: key index %d beyond ring size %d: %w", kid, r.size, ErrNoKey)
	}
	if r.invalid(slot) {
		return dst, kid, fmt.Errorf("frame: key index %d: %w", kid, ErrInvalidKey)
	}
	key := r.slots[slot].Load()
	if key == nil {
		r.failed(slot)
		return dst, kid, fmt.Errorf("frame: key index %d: %w", kid, ErrNoKey)
	}

	var frames [2]sealedFrame
	n := 0
	layouts, nl := d.layouts(frame)
	for _, l := range layouts[:nl] {
		if s, ok := d.parse(frame, l); ok {
			frames[n] = s
			n++
		}
	}
	if n == 0 {
		r.failed(slot)
		return dst, kid, fmt.Errorf("%w: %d-byte %v frame", ErrMalformed, len(frame), d.codec)
	}
	dst = slices.Grow(dst, len(frame))
	if out, ok := openAny(dst, key.aead, frames[:n]); ok {
		r.succeeded(slot)
		return out, kid, nil
	}
	for j, step := range key.chain {
		if out, ok := openAny(dst, step.aead, frames[:n]); ok {
			r.adopt(slot, key, j)
			r.succeeded(slot)
			return out, kid, nil
		}
	}
	r.failed(slot)
	return dst, kid, fmt.Errorf("frame: key index %d: %w", kid, ErrDecrypt)
}

// layouts lists the readings to try. An H.264 frame without a slice NAL
// unit is one livekit-client encrypted with its VP8 fallback (10 or 3 clear
// bytes by frame type, which the receiver does not know here; unescaped).
func (d *Decryptor) layouts(frame []byte) ([2]layout, int) {
	if l, ok := frameLayout(d.codec, frame); ok {
		return [2]layout{l}, 1
	}
	return [2]layout{{clear: vp8DeltaClear}, {clear: vp8KeyClear}}, 2
}

// parse splits frame by l into AAD, IV and ciphertext; ok is false if it
// cannot hold a LiveKit trailer (IV length other than 12, as native
// requires; livekit-client never sends another).
func (d *Decryptor) parse(frame []byte, l layout) (s sealedFrame, ok bool) {
	if l.clear > len(frame) {
		return s, false
	}
	tail := frame[l.clear:]
	if l.escaped && needsUnescape(tail) {
		d.scratch = appendUnescaped(d.scratch[:0], tail)
		tail = d.scratch
	}
	if len(tail) < tagSize+trailerSize || tail[len(tail)-2] != ivSize {
		return s, false
	}
	end := len(tail) - trailerSize
	return sealedFrame{aad: frame[:l.clear], iv: tail[end : end+ivSize], ct: tail[:end]}, true
}

// openAny appends aad ‖ plaintext of the first reading aead authenticates.
func openAny(dst []byte, aead cipher.AEAD, frames []sealedFrame) ([]byte, bool) {
	for _, s := range frames {
		if out, err := aead.Open(append(dst, s.aad...), s.iv, s.ct, s.aad); err == nil {
			return out, true
		}
	}
	return dst, false
}
