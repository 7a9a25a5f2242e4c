package frame

import (
	"crypto/hkdf"
	"crypto/pbkdf2"
	"crypto/sha256"
	"fmt"
	"strings"
)

// KDF selects how key material becomes an AES key and how it is ratcheted.
// livekit-client picks it by how the material was imported (raw bytes: HKDF,
// a passphrase string: PBKDF2); native clients by KeyProviderOptions.
type KDF uint8

const (
	// HKDF is HKDF-SHA256 with info = 128 zero bytes: Element Call and
	// FluffyChat with raw Matrix keys.
	HKDF KDF = iota
	// PBKDF2 is PBKDF2-HMAC-SHA256 with 100000 iterations: passphrases and
	// the native/Famedly default. It costs tens of milliseconds per call.
	PBKDF2
)

const (
	// DefaultSalt is LiveKit's default ratchetSalt, used as KDF salt by
	// every SDK.
	DefaultSalt = "LKFrameEncryptionKey"

	keySize          = 16 // AES-128, the only size non-web SDKs support
	materialSize     = 32 // ratchet output
	hkdfInfoSize     = 128
	pbkdf2Iterations = 100000
)

func (k KDF) String() string {
	switch k {
	case HKDF:
		return "HKDF"
	case PBKDF2:
		return "PBKDF2"
	}
	return fmt.Sprintf("KDF(%d)", uint8(k))
}

// derive returns KDF(material, salt) of n bytes. For both KDFs the first 16
// bytes of the 32-byte output equal the 16-byte output, which lets one call
// give both the AES key and the ratcheted material.
func derive(kdf KDF, salt string, material []byte, n int) ([]byte, error) {
	if len(material) == 0 {
		return nil, fmt.Errorf("%w: empty key material", ErrConfig)
	}
	switch kdf {
	case HKDF:
		return hkdf.Key(sha256.New, material, []byte(salt), strings.Repeat("\x00", hkdfInfoSize), n)
	case PBKDF2:
		return pbkdf2.Key(sha256.New, string(material), []byte(salt), pbkdf2Iterations, n)
	}
	return nil, fmt.Errorf("%w: unknown %v", ErrConfig, kdf)
}

// DeriveKey returns the 16-byte AES key LiveKit derives from material.
func DeriveKey(kdf KDF, salt string, material []byte) ([]byte, error) {
	return derive(kdf, salt, material, keySize)
}

// RatchetMaterial returns the next 32-byte material in LiveKit's ratchet
// chain: KDF(material, salt) of 32 bytes.
func RatchetMaterial(kdf KDF, salt string, material []byte) ([]byte, error) {
	return derive(kdf, salt, material, materialSize)
}
