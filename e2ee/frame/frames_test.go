package frame

import "math/rand/v2"

// Plausible plaintext frames for round trips, benchmarks and fuzz seeds.

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// testOpus is an Opus packet: TOC 0x78 (SILK WB 20 ms) and payload.
func testOpus(rng *rand.Rand, size int) []byte {
	b := randomBytes(rng, size)
	b[0] = 0x78
	return b
}

// testVP8 is a VP8 key frame (P bit 0, start code, 8x8) or a delta frame.
func testVP8(rng *rand.Rand, size int, key bool) []byte {
	b := randomBytes(rng, size)
	if key {
		copy(b, sifVP8KeyFrame8x8[:10])
	} else {
		b[0] |= 0x01
	}
	return b
}

// testH264IDR is SPS ‖ PPS ‖ IDR slice with 4-byte start codes, as pion
// depacketizes a key frame.
func testH264IDR(rng *rand.Rand, size int) []byte {
	b := []byte{0, 0, 0, 1}
	b = append(b, sifH264SPS...)
	b = append(b, 0, 0, 0, 1)
	b = append(b, sifH264PPS...)
	b = append(b, 0, 0, 0, 1, 0x65, 0x88)
	return appendEscaped(b, randomBytes(rng, max(size-len(b), 1)))
}

// testH264Slice is AUD ‖ non-IDR slice with 3-byte start codes, the form a
// browser encoder can emit.
func testH264Slice(rng *rand.Rand, size int) []byte {
	b := []byte{0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x41, 0x9a}
	return appendEscaped(b, randomBytes(rng, max(size-len(b), 1)))
}
