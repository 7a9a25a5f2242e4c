package media

import (
	"errors"
	"fmt"
	"time"
)

// maxOpusPacket is the largest packet one page's lacing can carry (255
// lacing values, the last one below 255); RFC 6716's largest packet (120 ms
// of 1275-byte frames) is smaller.
const maxOpusPacket = 255*255 - 1

// ErrOpusPacket is returned for a packet RFC 6716 §3 does not allow.
var ErrOpusPacket = errors.New("media: malformed opus packet")

// opusSamples returns how many 48 kHz samples an Opus packet decodes to
// (RFC 6716 §3.1, §3.2), checking only what that needs.
func opusSamples(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, fmt.Errorf("%w: empty", ErrOpusPacket)
	}
	if len(p) > maxOpusPacket {
		return 0, fmt.Errorf("%w: %d bytes", ErrOpusPacket, len(p))
	}
	config := int(p[0] >> 3)
	var frame int
	switch {
	case config < 12: // SILK: 10, 20, 40, 60 ms
		frame = []int{480, 960, 1920, 2880}[config%4]
	case config < 16: // hybrid: 10, 20 ms
		frame = []int{480, 960}[config%2]
	default: // CELT: 2.5, 5, 10, 20 ms
		frame = []int{120, 240, 480, 960}[config%4]
	}
	switch p[0] & 3 {
	case 0:
		return frame, nil
	case 1:
		if (len(p)-1)%2 != 0 {
			return 0, fmt.Errorf("%w: two equal frames in an odd length", ErrOpusPacket)
		}
		return 2 * frame, nil
	case 2:
		if len(p) < 2 {
			return 0, fmt.Errorf("%w: no frame length", ErrOpusPacket)
		}
		return 2 * frame, nil
	}
	if len(p) < 2 {
		return 0, fmt.Errorf("%w: no frame count", ErrOpusPacket)
	}
	n := frame * int(p[1]&0x3f)
	if n == 0 || n > 5760 {
		return 0, fmt.Errorf("%w: %d frames of %d samples", ErrOpusPacket, p[1]&0x3f, frame)
	}
	return n, nil
}

// OpusDuration is how long an Opus packet plays, read from its TOC byte
// (RFC 6716 section 3.1); errors wrap ErrOpusPacket.
func OpusDuration(p []byte) (time.Duration, error) {
	n, err := opusSamples(p)
	if err != nil {
		return 0, err
	}
	return samplesDuration(int64(n), opusRate), nil
}
