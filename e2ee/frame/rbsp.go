package frame

import (
	"bytes"
	"slices"
)

// H.264 emulation prevention over the encrypted tail, so that ciphertext
// never forms a start code: after two zero bytes, any byte <= 3 is preceded
// by an inserted 0x03. Both directions jump between zero pairs with
// bytes.Index instead of walking byte by byte.

const emulationByte = 0x03

// appendEscaped appends src to dst with emulation-prevention bytes inserted.
func appendEscaped(dst, src []byte) []byte {
	dst = slices.Grow(dst, len(src)+len(src)/128+4)
	zeroPair := []byte{0, 0}
	done := 0 // src[:done] is in dst
	for i := 0; ; {
		p := bytes.Index(src[i:], zeroPair)
		if p < 0 {
			break
		}
		q := i + p + 2 // the byte after two zeros
		if q >= len(src) {
			break
		}
		if src[q] > emulationByte {
			i = q + 1
			continue
		}
		dst = append(append(dst, src[done:q]...), emulationByte)
		done, i = q, q // the zero count restarts at src[q]
	}
	return append(dst, src[done:]...)
}

// needsUnescape reports whether src holds 00 00 03 starting before its last
// three bytes; livekit-client unescapes only then, and receivers must do the
// same to see the same bytes.
func needsUnescape(src []byte) bool {
	return len(src) > 0 && bytes.Index(src[:len(src)-1], []byte{0, 0, emulationByte}) >= 0
}

// appendUnescaped appends src to dst with every 0x03 that follows 00 00
// removed.
func appendUnescaped(dst, src []byte) []byte {
	dst = slices.Grow(dst, len(src))
	escapedRun := []byte{0, 0, emulationByte}
	for {
		p := bytes.Index(src, escapedRun)
		if p < 0 {
			return append(dst, src...)
		}
		dst = append(dst, src[:p+2]...)
		src = src[p+3:]
	}
}
