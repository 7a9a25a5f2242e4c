package e2ee

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/switchboard-rtc/switchboard/membership"
)

// Key sizes and key-ring sizes of the dialects (frame-e2ee.md 1.1, 3.1).
const (
	FamedlyKeyLen       = 32  // secureRandomBytes(32), livekit_backend.dart
	MatrixRTCKeyLen     = 16  // getRandomValues(16), RTCEncryptionManager.ts
	FamedlyRingSize     = 16  // the SDK's keyRingSize; native rings drop kid >= 16
	MatrixRTCRingSize   = 256 // index mod 256; EC's keyringSize
	matrixRTCAltKeyLen  = 32  // MSC4195 asks for 32-byte secrets; accepted on receive
	maxEncodedKeyLength = 64  // longer strings cannot be a valid key of any dialect
)

// sizes are dialect d's key length and ring size (zeros if it has no key events).
func sizes(d membership.Dialect) (keyLen, ring int) {
	switch d {
	case membership.DialectFamedly:
		return FamedlyKeyLen, FamedlyRingSize
	case membership.DialectMatrixRTC:
		return MatrixRTCKeyLen, MatrixRTCRingSize
	}
	return 0, 0
}

// KeyLen is the length of the keys we generate for dialect d (0 if it has none).
func KeyLen(d membership.Dialect) int { n, _ := sizes(d); return n }

// RingSize is dialect d's index range: indices are 0..RingSize-1 (0 if d has
// no key events).
func RingSize(d membership.Dialect) int { _, n := sizes(d); return n }

// validKeyLen says whether a received key of n bytes is acceptable in d:
// Famedly sends 32 bytes; MatrixRTC clients send 16, MSC4195 asks for 32.
func validKeyLen(d membership.Dialect, n int) bool {
	return n == KeyLen(d) || (d == membership.DialectMatrixRTC && n == matrixRTCAltKeyLen)
}

// NewKey returns a fresh random key of dialect d's length.
func NewKey(d membership.Dialect) ([]byte, error) {
	n := KeyLen(d)
	if n == 0 {
		return nil, fmt.Errorf("e2ee: new key: %w: %v", ErrDialect, d)
	}
	k := make([]byte, n)
	rand.Read(k) // never fails (crypto/rand, Go >= 1.24)
	return k, nil
}

// NextIndex is the index after prev in dialect d's ring; the first key of a
// sender has index 0. Both SDKs count up and wrap at the ring size.
func NextIndex(d membership.Dialect, prev int) int {
	n := RingSize(d)
	if n == 0 {
		return 0
	}
	return ((prev+1)%n + n) % n
}

// EncodeKey is a key as both SDKs write it: standard base64 with padding.
func EncodeKey(key []byte) string { return base64.StdEncoding.EncodeToString(key) }

// decodeKey reads a key in standard or URL-safe base64, padded or not (the
// js-sdk decoder accepts all four; Dart needs padding), refusing line breaks
// and non-canonical trailing bits. Errors never quote the input.
func decodeKey(s string) ([]byte, error) {
	if s == "" || len(s) > maxEncodedKeyLength || strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("%w: key is not a base64 key of a sane length", ErrMalformed)
	}
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if !strings.HasSuffix(s, "=") && len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	b, err := enc.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: key is not valid base64", ErrMalformed)
	}
	return b, nil
}
