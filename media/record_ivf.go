package media

import (
	"encoding/binary"
	"io"
	"time"
)

// IVF, the container libvpx writes: a 32-byte file header, then per frame
// a 12-byte header (size, timestamp) and the frame. Our timebase is the
// RTP clock's, 1/ClockRate (1/90000 for VP8 and VP9), so a frame's
// timestamp is its RTP timestamp less the segment's first one, exactly,
// never a frame count.

const ivfHeaderSize = 32

// ivfTrack writes VP8 or VP9 frames to IVF, starting at a key frame.
type ivfTrack struct {
	fourcc  string
	rate    uint32
	maxGap  time.Duration
	u       rtpUnwrap
	first   int64
	last    int64
	lastDur int64 // the last frame's length, taken from the interval before it
	frames  uint32
	started bool
	hdr     [12]byte
}

func newIVFTrack(codec Codec, rate uint32, maxGap time.Duration) *ivfTrack {
	fourcc := "VP80"
	if codec == VP9 {
		fourcc = "VP90"
	}
	return &ivfTrack{fourcc: fourcc, rate: rate, maxGap: maxGap}
}

// ivfHeader is the file header; the frame count is patched in at the end
// (ivfTrack.patch).
func ivfHeader(fourcc string, width, height uint16, rate uint32) []byte {
	h := make([]byte, 0, ivfHeaderSize)
	h = append(h, "DKIF"...)
	h = binary.LittleEndian.AppendUint16(h, 0)
	h = binary.LittleEndian.AppendUint16(h, ivfHeaderSize)
	h = append(h, fourcc...)
	h = binary.LittleEndian.AppendUint16(h, width)
	h = binary.LittleEndian.AppendUint16(h, height)
	h = binary.LittleEndian.AppendUint32(h, rate) // timebase denominator
	h = binary.LittleEndian.AppendUint32(h, 1)    // timebase numerator
	return append(h, make([]byte, 8)...)          // frame count, unused
}

// vp8Size reads a VP8 key frame's dimensions (RFC 6386 §9.1); zero when f
// is not one. VP9's sit behind a bit-packed header, and IVF readers take
// them from the stream anyway: VP9 files say 0x0.
func vp8Size(f []byte) (width, height uint16) {
	if len(f) < 10 || f[0]&1 != 0 || f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a {
		return 0, 0
	}
	return binary.LittleEndian.Uint16(f[6:]) & 0x3fff, binary.LittleEndian.Uint16(f[8:]) & 0x3fff
}

func (t *ivfTrack) add(w io.Writer, f Frame) (verdict, error) {
	if len(f.Data) == 0 || uint64(len(f.Data)) > 1<<32-1 {
		return invalid, nil
	}
	ts := t.u.at(f.RTPTime)
	if !t.started {
		if !f.KeyFrame {
			return needKey, nil
		}
		width, height := uint16(0), uint16(0)
		if t.fourcc == "VP80" {
			width, height = vp8Size(f.Data)
		}
		if _, err := w.Write(ivfHeader(t.fourcc, width, height, t.rate)); err != nil {
			return take, err
		}
		t.started, t.first, t.last = true, ts, ts
	} else {
		d := ts - t.last
		switch {
		case outside(d, t.maxGap, t.rate):
			return jump, nil
		case d <= 0:
			return late, nil
		}
		t.lastDur = d
	}
	t.u.accept(ts)
	t.last = ts
	if f.Duration > 0 {
		t.lastDur = int64(f.Duration.Seconds() * float64(t.rate))
	}
	binary.LittleEndian.PutUint32(t.hdr[:], uint32(len(f.Data)))
	binary.LittleEndian.PutUint64(t.hdr[4:], uint64(ts-t.first))
	t.frames++
	if _, err := w.Write(t.hdr[:]); err != nil {
		return take, err
	}
	_, err := w.Write(f.Data)
	return take, err
}

func (t *ivfTrack) end(io.Writer) error { return nil }

// patch writes the frame count into the file header, once the frames are
// on disk.
func (t *ivfTrack) patch(w io.WriterAt) error {
	if !t.started {
		return nil
	}
	_, err := w.WriteAt(binary.LittleEndian.AppendUint32(nil, t.frames), 24)
	return err
}

func (t *ivfTrack) duration() time.Duration {
	if !t.started {
		return 0
	}
	return samplesDuration(t.last-t.first+t.lastDur, t.rate)
}
