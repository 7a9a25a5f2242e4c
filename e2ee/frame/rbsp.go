package frame

// H.264 emulation prevention over the encrypted tail, so that ciphertext
// never forms a start code: after two zero bytes, any byte <= 3 is preceded
// by an inserted 0x03.

const emulationByte = 0x03

// appendEscaped appends src to dst with emulation-prevention bytes inserted.
func appendEscaped(dst, src []byte) []byte {
	zeros := 0
	for _, b := range src {
		if b <= emulationByte && zeros >= 2 {
			dst = append(dst, emulationByte)
			zeros = 0
		}
		dst = append(dst, b)
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return dst
}

// needsUnescape reports whether src holds 00 00 03 starting before its last
// three bytes; livekit-client unescapes only then, and receivers must do the
// same to see the same bytes.
func needsUnescape(src []byte) bool {
	for i := 0; i+3 < len(src); i++ {
		if src[i] == 0 && src[i+1] == 0 && src[i+2] == emulationByte {
			return true
		}
	}
	return false
}

// appendUnescaped appends src to dst with every 0x03 that follows 00 00
// removed.
func appendUnescaped(dst, src []byte) []byte {
	for i := 0; i < len(src); i++ {
		dst = append(dst, src[i])
		if src[i] == 0 && i+2 < len(src) && src[i+1] == 0 && src[i+2] == emulationByte {
			dst = append(dst, 0)
			i += 2
		}
	}
	return dst
}
