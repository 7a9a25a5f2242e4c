package frame

import "bytes"

// Blank frames livekit-server injects unencrypted into encrypted
// subscriptions (pkg/sfu/downtrack.go), the payloads livekit-client's
// sifPayload.ts and native IsKnownSifPayload let through.
const (
	sifVP8KeyFrame8x8 = "\x10\x02\x00\x9d\x01\x2a\x08\x00\x08\x00\x00\x47\x08\x85\x85\x88" +
		"\x85\x84\x88\x02\x02\x00\x0c\x0d\x60\x00\xfe\xff\xab\x50\x80"
	sifH264SPS = "\x67\x42\xc0\x1f\x0f\xd9\x1f\x88\x88\x84\x00\x00\x03\x00\x04\x00" +
		"\x00\x03\x00\xc8\x3c\x60\xc9\x20"
	sifH264PPS = "\x68\x87\xcb\x83\xcb\x20"
	sifH264IDR = "\x65\x88\x84\x0a\xf2\x62\x80\x00\xa7\xbe"
	// sifOpusSilence is the TOC f8 (CELT FB 20 ms) ff fe and 77 zeros.
	sifOpusSilence = "\xf8\xff\xfe" +
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	// sifOpusREDHeader is the RED block header (last block, PT 111) native
	// accepts in front of the silence frame.
	sifOpusREDHeader = "\x6f"
	sifG711Size      = 160 // 20 ms of PCMU (all 0xff) or PCMA (all 0xd5)
)

// serverPayload checks a frame that ended with the room's SIF trailer. It
// returns the payload and whether it is one of the server's blank frames;
// anything else is dropped, as livekit-client does.
func serverPayload(frame, trailer []byte) ([]byte, bool) {
	p := frame[:len(frame)-len(trailer)]
	switch string(p) {
	case sifVP8KeyFrame8x8, sifOpusSilence, sifOpusREDHeader + sifOpusSilence,
		sifH264SPS, sifH264PPS, sifH264IDR:
		return p, true
	}
	if len(p) == sifG711Size && (allBytes(p, 0xff) || allBytes(p, 0xd5)) {
		return p, true
	}
	return p, knownAnnexB(p)
}

func allBytes(p []byte, v byte) bool {
	for _, b := range p {
		if b != v {
			return false
		}
	}
	return true
}

// knownAnnexB reports whether p is a start-code-separated run of the
// server's blank H.264 NAL units, the form pion's depacketizer delivers.
func knownAnnexB(p []byte) bool {
	startCode := []byte{0, 0, 1}
	i := bytes.Index(p, startCode)
	if i < 0 || i > 1 || !allBytes(p[:i], 0) {
		return false
	}
	p = p[i+len(startCode):]
	for {
		nal := p
		j := bytes.Index(p, startCode)
		if j >= 0 {
			nal, p = p[:j], p[j+len(startCode):]
		}
		// Trailing zeros belong to a 4-byte start code; no known unit ends in one.
		switch string(bytes.TrimRight(nal, "\x00")) {
		case sifH264SPS, sifH264PPS, sifH264IDR:
		default:
			return false
		}
		if j < 0 {
			return true
		}
	}
}
