package frame

import "fmt"

// Codec selects the clear-prefix rule of a track's frames.
type Codec uint8

const (
	// Opus covers every audio codec: the first byte (Opus TOC) stays clear.
	Opus Codec = iota + 1
	// VP8 keeps 10 bytes of key frames and 3 of delta frames clear; the
	// frame tag's P bit tells them apart, as libwebrtc's depacketizer does.
	VP8
	// VP9 encrypts the whole frame.
	VP9
	// H264 keeps everything up to and including the first two bytes of the
	// first slice NAL unit clear and escapes the encrypted tail.
	H264
)

// Clear-prefix lengths from livekit-client's UNENCRYPTED_BYTES.
const (
	audioClear    = 1
	vp8KeyClear   = 10
	vp8DeltaClear = 3
)

func (c Codec) String() string {
	switch c {
	case Opus:
		return "opus"
	case VP8:
		return "vp8"
	case VP9:
		return "vp9"
	case H264:
		return "h264"
	}
	return fmt.Sprintf("Codec(%d)", uint8(c))
}

func (c Codec) valid() bool { return c >= Opus && c <= H264 }

// layout is where a frame's encrypted part starts and whether that part is
// H.264-escaped.
type layout struct {
	clear   int
	escaped bool
}

// vp8Clear is the clear-prefix length of a non-empty VP8 frame.
func vp8Clear(frame []byte) int {
	if frame[0]&0x01 == 0 {
		return vp8KeyClear
	}
	return vp8DeltaClear
}

// frameLayout returns the layout of a non-empty plaintext or encrypted frame.
// ok is false for an H.264 frame without a slice NAL unit.
func frameLayout(c Codec, frame []byte) (l layout, ok bool) {
	switch c {
	case Opus:
		return layout{clear: audioClear}, true
	case VP8:
		return layout{clear: vp8Clear(frame)}, true
	case H264:
		if i := firstSliceNAL(frame); i >= 0 {
			return layout{clear: i + 2, escaped: true}, true
		}
		return layout{}, false
	}
	return layout{}, true // VP9
}

// firstSliceNAL returns the index of the header byte of the first H.264
// slice NAL unit (type 1 or 5) in an Annex-B frame, or -1. It follows
// livekit-client's scan exactly, since both ends must agree on the prefix:
// only zero bytes may precede the first start code, and a NAL unit that
// starts within the last three bytes is not seen.
func firstSliceNAL(frame []byte) int {
	n := len(frame)
	first := true
	for i := 0; i+3 < n; i++ {
		if frame[i] != 0 || frame[i+1] != 0 || frame[i+2] != 1 {
			continue
		}
		if first {
			for _, b := range frame[:i] {
				if b != 0 {
					return -1
				}
			}
			first = false
		}
		nal := i + 3
		if nal >= n-3 {
			return -1
		}
		if t := frame[nal] & 0x1f; t == 1 || t == 5 {
			return nal
		}
		i = nal - 1
	}
	return -1
}
