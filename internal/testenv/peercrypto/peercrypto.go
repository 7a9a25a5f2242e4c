// Package peercrypto is a test participant's LiveKit frame crypto for Opus
// frames, written from shared/reference/frame-e2ee.md and independent of
// our e2ee/frame, so that tests of our media path check it against the
// wire format rather than against itself: AES-128-GCM under an HKDF-SHA256
// key (salt "LKFrameEncryptionKey", info 128 zero bytes), the Opus TOC byte
// in the clear as additional data, and the trailer IV ‖ 12 ‖ key index.
package peercrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"
)

// ErrFrame: the frame is too short, has no GCM trailer, or names a key
// index we hold no key for.
var ErrFrame = errors.New("peercrypto: not a frame we can open")

// Key derives a participant's frame key from its raw Matrix key material.
func Key(tb testing.TB, material []byte) cipher.AEAD {
	tb.Helper()
	key, err := hkdf.Key(sha256.New, material, []byte("LKFrameEncryptionKey"), string(make([]byte, 128)), 16)
	if err != nil {
		tb.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		tb.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		tb.Fatal(err)
	}
	return aead
}

// Seal encrypts an Opus frame under the key at index kid.
func Seal(aead cipher.AEAD, kid byte, frame []byte) []byte {
	iv := make([]byte, 12)
	_, _ = rand.Read(iv)
	out := aead.Seal(append([]byte(nil), frame[0]), iv, frame[1:], frame[:1])
	return append(append(out, iv...), 12, kid)
}

// Open decrypts a frame with the key at its index; it returns the frame
// (TOC byte included) and the index.
func Open(keys map[byte]cipher.AEAD, f []byte) ([]byte, byte, error) {
	if len(f) < 1+16+14 || f[len(f)-2] != 12 {
		return nil, 0, ErrFrame
	}
	kid := f[len(f)-1]
	aead := keys[kid]
	if aead == nil {
		return nil, kid, ErrFrame
	}
	body, iv := f[1:len(f)-14], f[len(f)-14:len(f)-2]
	plain, err := aead.Open(append([]byte(nil), f[0]), iv, body, f[:1])
	if err != nil {
		return nil, kid, err
	}
	return plain, kid, nil
}
