package media

import (
	"io"
	"time"
)

// A track turns one source's frames into one segment file's bytes, placing
// each frame by its RTP timestamp. Tracks are used by one goroutine.
type track interface {
	// add writes f, or says why not; only take writes.
	add(w io.Writer, f Frame) (verdict, error)
	// end writes what closes the stream.
	end(w io.Writer) error
	// duration is how long the segment plays so far.
	duration() time.Duration
}

// verdict is what a track did with a frame.
type verdict uint8

const (
	take    verdict = iota // written
	late                   // its time is already written: dropped
	invalid                // not a frame of the track's codec: dropped
	jump                   // too far from the last one: belongs in a new segment
	needKey                // video not preceded by its key frame: dropped
)

// rtpUnwrap extends 32-bit RTP timestamps to 64 bits, each around the last
// one accepted, so that a wrap (every 24.8 h at 48 kHz, 13.2 h at 90 kHz)
// is no jump.
type rtpUnwrap struct {
	last int64
	ok   bool
}

func (u rtpUnwrap) at(ts uint32) int64 {
	if !u.ok {
		return int64(ts)
	}
	return u.last + int64(int32(ts-uint32(u.last)))
}

func (u *rtpUnwrap) accept(ext int64) { u.last, u.ok = ext, true }

// maxReorder is how far before the last frame written a frame may come and
// still be taken as reordered (and dropped as late); further back, the
// sender has restarted its timestamps and a new segment starts.
const maxReorder = time.Second

// outside reports whether a frame d ticks after the last one belongs in a
// new segment: past maxGap ahead or maxReorder behind, at rate ticks/s.
func outside(d int64, maxGap time.Duration, rate uint32) bool {
	return d > int64(maxGap.Seconds()*float64(rate)) || -d > int64(maxReorder.Seconds()*float64(rate))
}

// silenceSizes are the silence packets' lengths in samples, longest first.
var silenceSizes = [...]int64{960, 480, 240, 120}

// opusTrack writes Ogg Opus whose granule positions follow the RTP
// timestamps (48 kHz, RFC 7587): a gap between a packet's timestamp and the
// end of the previous one (lost packets, DTX, a sender that stopped) is
// filled with silence packets, 20 ms each and shorter ones for the rest, to
// within 2.5 ms, which the next gap takes up again, so errors never add
// up. The file therefore plays as long as the sender's timestamps span.
type opusTrack struct {
	ogg    *oggOpusWriter
	serial uint32
	maxGap time.Duration
	u      rtpUnwrap
	next   int64 // the timestamp the written samples reach
	filled int64 // silence samples written
}

func newOpusTrack(serial uint32, maxGap time.Duration) *opusTrack {
	return &opusTrack{serial: serial, maxGap: maxGap}
}

func (t *opusTrack) add(w io.Writer, f Frame) (verdict, error) {
	n, err := opusSamples(f.Data)
	if err != nil {
		return invalid, nil
	}
	ts := t.u.at(f.RTPTime)
	if t.ogg == nil {
		t.ogg = newOggOpusWriter(w, t.serial)
		t.next = ts
	}
	gap := ts - t.next
	switch {
	case outside(gap, t.maxGap, opusRate):
		return jump, nil
	case ts+int64(n) <= t.next:
		return late, nil
	}
	t.u.accept(ts)
	for _, size := range silenceSizes {
		for ; gap >= size; gap -= size {
			if err := t.ogg.write(silence(int(size)), int(size)); err != nil {
				return take, err
			}
			t.next += size
			t.filled += size
		}
	}
	// A packet overlapping the end of the last one is written where that
	// one ended: the shift stays below a packet, and the next gap takes it
	// up.
	t.next += int64(n)
	return take, t.ogg.write(f.Data, n)
}

func (t *opusTrack) end(io.Writer) error {
	if t.ogg == nil {
		return nil
	}
	return t.ogg.close()
}

func (t *opusTrack) duration() time.Duration {
	if t.ogg == nil {
		return 0
	}
	return samplesDuration(t.ogg.pos-opusPreSkip, opusRate)
}
