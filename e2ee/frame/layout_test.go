package frame

import (
	"bytes"
	"testing"
)

func TestFirstSliceNAL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		frame string
		want  int
	}{
		{"4-byte start code", "\x00\x00\x00\x01\x65\x88\x80\x00\x01", 4},
		{"3-byte start code after AUD", "\x00\x00\x01\x09\xf0\x00\x00\x01\x41\x9a\x00\x00\x00", 8},
		{"SPS then non-IDR", "\x00\x00\x00\x01\x67\x42\x00\x00\x00\x01\x21\x9a\x01\x02", 10},
		{"leading zeros are fine", "\x00\x00\x00\x00\x00\x01\x65\x88\x80\x00\x01", 6},
		{"leading data", "\x09\x00\x00\x01\x65\x88\x80\x00\x01", -1},
		{"no start code", "\x65\x88\x80\x00\x01\x02", -1},
		{"no slice", "\x00\x00\x00\x01\x67\x42\x00\x00\x00\x01\x68\xce\x01\x02", -1},
		{"slice within the last three bytes", "\x00\x00\x00\x01\x09\xf0\x00\x00\x01\x65\x88\x80", -1},
		{"slice just early enough", "\x00\x00\x00\x01\x09\xf0\x00\x00\x01\x65\x88\x80\x01", 9},
		{"too short", "\x00\x00\x01", -1},
	}
	for _, tt := range tests {
		if got := firstSliceNAL([]byte(tt.frame)); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestRBSP(t *testing.T) {
	t.Parallel()
	tests := []struct{ raw, escaped string }{
		{"\x00\x00\x00", "\x00\x00\x03\x00"},
		{"\x00\x00\x01\x00\x00\x02", "\x00\x00\x03\x01\x00\x00\x03\x02"},
		{"\x00\x00\x04\x00\x00", "\x00\x00\x04\x00\x00"},
		{"\x00\x00\x00\x00\x00", "\x00\x00\x03\x00\x00\x03\x00"},
		{"\x00\x00\x03", "\x00\x00\x03\x03"},
	}
	for _, tt := range tests {
		if got := appendEscaped(nil, []byte(tt.raw)); string(got) != tt.escaped {
			t.Errorf("escape %x = %x, want %x", tt.raw, got, tt.escaped)
		}
		if got := appendUnescaped(nil, []byte(tt.escaped)); string(got) != tt.raw {
			t.Errorf("unescape %x = %x, want %x", tt.escaped, got, tt.raw)
		}
	}
	// livekit-client looks for 00 00 03 only before the last three bytes.
	if needsUnescape([]byte("\x07\x00\x00\x03")) || !needsUnescape([]byte("\x00\x00\x03\x07")) {
		t.Error("needsUnescape boundary differs from livekit-client")
	}
}

func FuzzRBSP(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x01\x00\x00\x03"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		esc := appendEscaped(nil, raw)
		if want := escapeSimple(raw); !bytes.Equal(esc, want) {
			t.Fatalf("escape(%x) = %x, want %x", raw, esc, want)
		}
		if got := appendUnescaped(nil, esc); !bytes.Equal(got, raw) {
			t.Fatalf("unescape(escape(%x)) = %x", raw, got)
		}
		if bytes.Contains(esc, []byte{0, 0, 1}) || bytes.Contains(esc, []byte{0, 0, 0}) {
			t.Fatalf("escape(%x) = %x holds a start code", raw, esc)
		}
		appendUnescaped(nil, raw) // any input is accepted
	})
}

func FuzzFirstSliceNAL(f *testing.F) {
	f.Add([]byte(specH264))
	f.Add([]byte("\x00\x00\x01\x09\xf0\x00\x00\x01\x41\x9a\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, frame []byte) {
		i := firstSliceNAL(frame)
		if i < 0 {
			return
		}
		if i < 3 || i >= len(frame)-3 || frame[i-1] != 1 || frame[i-2] != 0 || frame[i-3] != 0 {
			t.Fatalf("index %d in %x", i, frame)
		}
		if typ := frame[i] & 0x1f; typ != 1 && typ != 5 {
			t.Fatalf("index %d is NAL type %d", i, typ)
		}
	})
}

// escapeSimple is the byte-at-a-time definition appendEscaped must match.
func escapeSimple(src []byte) []byte {
	var dst []byte
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
