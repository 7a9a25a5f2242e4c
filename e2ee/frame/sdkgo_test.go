package frame

import (
	"bytes"
	"math/rand/v2"
	"testing"

	lksdk "github.com/livekit/server-sdk-go/v2"
	lke2ee "github.com/livekit/server-sdk-go/v2/e2ee"
)

// server-sdk-go v2.18.1 implements the Opus and H.264 parts of the format
// (no VP8, no ratchet, a fresh cipher and allocations per frame), so the
// package uses the standard library; server-sdk-go serves here as a second,
// independent implementation.

func TestSameKeysAsServerSDKGo(t *testing.T) {
	t.Parallel()
	material := []byte("some raw matrix key")
	ours, err := DeriveKey(HKDF, DefaultSalt, material)
	must(t, err)
	theirs, err := lksdk.DeriveKeyFromBytes(material)
	must(t, err)
	if !bytes.Equal(ours, theirs) {
		t.Errorf("HKDF: %x, server-sdk-go %x", ours, theirs)
	}
	ours, err = DeriveKey(PBKDF2, DefaultSalt, []byte("passphrase"))
	must(t, err)
	theirs, err = lksdk.DeriveKeyFromString("passphrase")
	must(t, err)
	if !bytes.Equal(ours, theirs) {
		t.Errorf("PBKDF2: %x, server-sdk-go %x", ours, theirs)
	}
}

func TestInteropWithServerSDKGo(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(8, 8))
	material := randomBytes(rng, 16)
	key, err := DeriveKey(HKDF, DefaultSalt, material)
	must(t, err)
	ring := newRing(t, RingConfig{})
	must(t, ring.SetKey(4, material))

	type codecFuncs struct {
		codec   Codec
		plain   []byte
		encrypt func(sample, key []byte, kid uint8) ([]byte, error)
		decrypt func(sample, key, sif []byte) ([]byte, error)
	}
	for _, c := range []codecFuncs{
		{Opus, testOpus(rng, 100), lksdk.EncryptGCMAudioSample, lksdk.DecryptGCMAudioSample},
		{H264, testH264IDR(rng, 2000), lke2ee.EncryptGCMH264Sample, lke2ee.DecryptGCMH264Sample},
		{H264, testH264Slice(rng, 300), lke2ee.EncryptGCMH264Sample, lke2ee.DecryptGCMH264Sample},
	} {
		e, d := pipe(t, ring, c.codec)
		for range 20 {
			theirs, err := c.encrypt(c.plain, key, 4)
			must(t, err)
			if got, kid, err := d.Decrypt(nil, theirs); err != nil || kid != 4 || !bytes.Equal(got, c.plain) {
				t.Fatalf("%v from server-sdk-go: %x, %v", c.codec, got, err)
			}
			ours, err := e.Encrypt(nil, c.plain)
			must(t, err)
			if got, err := c.decrypt(ours, key, nil); err != nil || !bytes.Equal(got, c.plain) {
				t.Fatalf("%v to server-sdk-go: %x, %v", c.codec, got, err)
			}
		}
	}
}
