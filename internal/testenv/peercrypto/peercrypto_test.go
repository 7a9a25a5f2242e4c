package peercrypto

import (
	"bytes"
	"crypto/cipher"
	"errors"
	"testing"
)

func TestSealOpen(t *testing.T) {
	k := Key(t, bytes.Repeat([]byte{7}, 16))
	frame := []byte{0xf8, 1, 2, 3, 4}
	sealed := Seal(k, 3, frame)
	got, kid, err := Open(map[byte]cipher.AEAD{3: k}, sealed)
	if err != nil || kid != 3 || !bytes.Equal(got, frame) {
		t.Fatalf("open: %x %d %v", got, kid, err)
	}
	if _, _, err := Open(map[byte]cipher.AEAD{2: k}, sealed); !errors.Is(err, ErrFrame) {
		t.Fatalf("no key at its index: %v", err)
	}
	sealed[2] ^= 1
	if _, _, err := Open(map[byte]cipher.AEAD{3: k}, sealed); err == nil {
		t.Fatal("a tampered frame opened")
	}
}
