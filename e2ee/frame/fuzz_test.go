package frame

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// fuzzRing has keys at 0 and 3, a ratchet window and a SIF trailer, so
// hostile frames reach every branch of Decrypt.
func fuzzRing(t testing.TB) *KeyRing {
	ring := newRing(t, RingConfig{Size: 16, RatchetWindow: 1, FailureTolerance: -1, SIFTrailer: []byte("SIF!")})
	must(t, ring.SetKey(0, unhex(t, specK)))
	must(t, ring.SetKey(3, unhex(t, specK)))
	return ring
}

var fuzzCodecs = []Codec{Opus, VP8, VP9, H264}

func FuzzDecrypt(f *testing.F) {
	for _, v := range frameVectors {
		f.Add(uint8(v.codec), unhex(f, v.enc))
	}
	ring := fuzzRing(f)
	rng := rand.New(rand.NewPCG(4, 4))
	for _, c := range fuzzCodecs {
		e, _ := NewEncryptor(ring, c)
		var plain []byte
		switch c {
		case Opus:
			plain = testOpus(rng, 60)
		case VP8:
			plain = testVP8(rng, 60, true)
		case H264:
			plain = testH264IDR(rng, 80)
		default:
			plain = randomBytes(rng, 60)
		}
		enc, err := e.Encrypt(nil, plain)
		must(f, err)
		f.Add(uint8(c), enc)
	}
	f.Add(uint8(VP8), append([]byte(sifVP8KeyFrame8x8), "SIF!"...))
	f.Add(uint8(H264), []byte("\x00\x00\x00\x01\x65\x88\x00\x00\x03\x00\x00\x03\x0c\x00"))
	f.Fuzz(func(t *testing.T, codec uint8, frame []byte) {
		d, err := NewDecryptor(fuzzRing(t), fuzzCodecs[int(codec)%len(fuzzCodecs)])
		must(t, err)
		dst := []byte("dst")
		out, _, err := d.Decrypt(dst, frame)
		if !bytes.HasPrefix(out, []byte("dst")) {
			t.Fatalf("dst lost: %x", out)
		}
		if err != nil && len(out) != len(dst) {
			t.Fatalf("error %v with output %x", err, out)
		}
		if err != nil && !errors.Is(err, ErrNoKey) && !errors.Is(err, ErrMalformed) &&
			!errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrServerInjected) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

// FuzzRoundTrip encrypts arbitrary frames; whatever is accepted must come
// back unchanged.
func FuzzRoundTrip(f *testing.F) {
	for _, v := range frameVectors {
		f.Add(uint8(v.codec), unhex(f, v.plain))
	}
	f.Fuzz(func(t *testing.T, codec uint8, frame []byte) {
		ring := fuzzRing(t)
		c := fuzzCodecs[int(codec)%len(fuzzCodecs)]
		e, d := pipe(t, ring, c)
		enc, err := e.Encrypt(nil, frame)
		if err != nil {
			if !errors.Is(err, ErrNoSlice) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("Encrypt: %v", err)
			}
			return
		}
		got, _, err := d.Decrypt(nil, enc)
		if err != nil || !bytes.Equal(got, frame) {
			t.Fatalf("%v %x: %x, %v", c, frame, got, err)
		}
	})
}
