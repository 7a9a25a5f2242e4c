package frame

import (
	"math/rand/v2"
	"testing"
)

type benchFrame struct {
	name  string
	codec Codec
	frame []byte
}

func benchFrames() []benchFrame {
	rng := rand.New(rand.NewPCG(6, 6))
	return []benchFrame{
		{"Opus100", Opus, testOpus(rng, 100)},
		{"VP8_1200", VP8, testVP8(rng, 1200, false)},
		{"VP8Key1200", VP8, testVP8(rng, 1200, true)},
		{"H264_1200", H264, testH264Slice(rng, 1200)},
	}
}

func benchRing(b *testing.B) *KeyRing {
	ring := newRing(b, RingConfig{})
	must(b, ring.SetKey(1, []byte("benchmark key material")))
	return ring
}

func BenchmarkEncrypt(b *testing.B) {
	for _, f := range benchFrames() {
		b.Run(f.name, func(b *testing.B) {
			e, err := NewEncryptor(benchRing(b), f.codec)
			must(b, err)
			dst := make([]byte, 0, 2*len(f.frame)+64)
			b.ReportAllocs()
			b.SetBytes(int64(len(f.frame)))
			for b.Loop() {
				if dst, err = e.Encrypt(dst[:0], f.frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecrypt(b *testing.B) {
	for _, f := range benchFrames() {
		b.Run(f.name, func(b *testing.B) {
			ring := benchRing(b)
			e, d := pipe(b, ring, f.codec)
			enc, err := e.Encrypt(nil, f.frame)
			must(b, err)
			dst := make([]byte, 0, 2*len(f.frame)+64)
			b.ReportAllocs()
			b.SetBytes(int64(len(f.frame)))
			for b.Loop() {
				if dst, _, err = d.Decrypt(dst[:0], enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
