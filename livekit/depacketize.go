package livekit

import (
	"errors"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/switchboard-rtc/switchboard/media"
)

// maxFrameSize bounds a reassembled video frame: RTP from the SFU is
// untrusted, and a stream that never sets the marker must not grow memory.
const maxFrameSize = 4 << 20

// errUnknownCodec: a track of a codec we cannot depacketize.
var errUnknownCodec = errors.New("livekit: no depacketizer for this codec")

// assembled is one encoded frame (still encrypted) out of the assembler.
type assembled struct {
	data     []byte // owned by the assembler until the next Push
	rtpTime  uint32
	duration time.Duration
	keyFrame bool
}

// assembler turns one track's RTP packets, in arrival order, into whole
// encoded frames. Audio packets are frames; a video frame is the payloads of
// consecutive packets with one timestamp, from a packet that starts a frame
// to the one with the marker bit. A sequence gap or a timestamp change
// before the marker drops the frame (counted); the rest of its packets are
// skipped and the next frame starts clean. Not safe for concurrent use.
type assembler struct {
	codec media.Codec

	buf      []byte
	ts       uint32 // of the frame being built or skipped
	lastSeq  uint16
	started  bool // a packet was seen (lastSeq is valid)
	building bool // buf holds the start of the frame with timestamp ts
	skipping bool // packets with timestamp ts are ignored
	dropped  int  // frames dropped as incomplete or unreadable

	vp8  codecs.VP8Packet
	vp9  codecs.VP9Packet
	h264 codecs.H264Packet
}

func newAssembler(c media.Codec) *assembler { return &assembler{codec: c} }

// Push takes one packet and returns a completed frame if this packet ended
// one. The frame's data is valid until the next Push.
func (a *assembler) Push(p *rtp.Packet) (assembled, bool) {
	gap := a.started && p.SequenceNumber != a.lastSeq+1
	a.started, a.lastSeq = true, p.SequenceNumber
	if a.codec == media.Opus {
		if len(p.Payload) == 0 {
			return assembled{}, false
		}
		a.buf = append(a.buf[:0], p.Payload...)
		return assembled{data: a.buf, rtpTime: p.Timestamp, duration: opusDuration(p.Payload)}, true
	}
	if a.building && (p.Timestamp != a.ts || gap) {
		a.drop(a.ts)
	}
	if a.skipping && p.Timestamp == a.ts {
		return assembled{}, false
	}
	a.skipping = false
	part, start, err := a.depacketize(p.Payload)
	if err != nil || (!a.building && !start) {
		a.drop(p.Timestamp)
		return assembled{}, false
	}
	if !a.building {
		a.building, a.ts, a.buf = true, p.Timestamp, a.buf[:0]
	}
	if len(a.buf)+len(part) > maxFrameSize {
		a.drop(a.ts)
		return assembled{}, false
	}
	a.buf = append(a.buf, part...)
	if !p.Marker {
		return assembled{}, false
	}
	a.building = false
	if len(a.buf) == 0 {
		return assembled{}, false
	}
	return assembled{data: a.buf, rtpTime: a.ts, keyFrame: a.isKey(a.buf)}, true
}

// drop abandons the frame with timestamp ts: it is counted once and its
// remaining packets are skipped.
func (a *assembler) drop(ts uint32) {
	if !a.skipping || a.ts != ts {
		a.dropped++
	}
	a.building, a.skipping, a.ts = false, true, ts
}

// depacketize returns the frame bytes a packet carries and whether it
// starts a frame.
func (a *assembler) depacketize(payload []byte) ([]byte, bool, error) {
	switch a.codec {
	case media.VP8:
		b, err := a.vp8.Unmarshal(payload)
		return b, a.vp8.S == 1 && a.vp8.PID == 0, err
	case media.VP9:
		b, err := a.vp9.Unmarshal(payload)
		return b, a.vp9.B, err
	case media.H264:
		b, err := a.h264.Unmarshal(payload)
		// Any packet may open an H.264 access unit: a new timestamp does.
		return b, true, err
	}
	return nil, false, errUnknownCodec
}

// isKey reports whether an assembled video frame is one a decoder can
// start from.
func (a *assembler) isKey(f []byte) bool {
	switch a.codec {
	case media.VP8:
		return f[0]&0x01 == 0 // the frame tag's P bit, as frame crypto reads it
	case media.VP9:
		return !a.vp9.P
	}
	return false
}

// opusDuration is an Opus packet's duration; 20 ms, the usual frame, when
// the packet cannot say.
func opusDuration(p []byte) time.Duration {
	if d, err := media.OpusDuration(p); err == nil {
		return d
	}
	return 20 * time.Millisecond
}
