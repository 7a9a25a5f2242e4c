package livekit

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/switchboard-rtc/switchboard/media"
)

// vp8Packets packetizes frame as a sender does (pion's VP8 payloader, a
// small MTU so frames span several packets).
func vp8Packets(frame []byte, seq uint16, ts uint32) []*rtp.Packet {
	pay := &codecs.VP8Payloader{EnablePictureID: true}
	var out []*rtp.Packet
	parts := pay.Payload(40, frame)
	for i, p := range parts {
		out = append(out, &rtp.Packet{Header: rtp.Header{SequenceNumber: seq + uint16(i), Timestamp: ts,
			Marker: i == len(parts)-1}, Payload: p})
	}
	return out
}

func testFrame(n, size int, key bool) []byte {
	f := make([]byte, size)
	for i := range f {
		f[i] = byte(n*7 + i)
	}
	f[0] &^= 1
	if !key {
		f[0] |= 1
	}
	return f
}

// TestAssemblerVP8 reassembles multi-packet VP8 frames, tells key frames
// from delta frames, and drops exactly the frame that lost a packet.
func TestAssemblerVP8(t *testing.T) {
	a := newAssembler(media.VP8)
	var got [][]byte
	var keys []bool
	push := func(ps []*rtp.Packet) {
		for _, p := range ps {
			if f, ok := a.Push(p); ok {
				got = append(got, bytes.Clone(f.data))
				keys = append(keys, f.keyFrame)
			}
		}
	}
	f0, f1, f2 := testFrame(0, 150, true), testFrame(1, 90, false), testFrame(2, 120, false)
	p0 := vp8Packets(f0, 100, 1000)
	p1 := vp8Packets(f1, 100+uint16(len(p0)), 4000)
	p2 := vp8Packets(f2, 100+uint16(len(p0)+len(p1)), 7000)
	push(p0)
	push(append(p1[:1:1], p1[2:]...)) // f1 loses its second packet
	push(p2)
	if len(got) != 2 || !bytes.Equal(got[0], f0) || !bytes.Equal(got[1], f2) {
		t.Fatalf("assembled %d frames, want f0 and f2 intact", len(got))
	}
	if !keys[0] || keys[1] {
		t.Errorf("key frame flags %v, want [true false]", keys)
	}
	if a.dropped != 1 {
		t.Errorf("dropped %d frames, want 1", a.dropped)
	}
}

// TestAssemblerVP8NoStart: a frame whose first packet is lost is dropped
// once, and one that never ends is dropped when the next begins.
func TestAssemblerVP8NoStart(t *testing.T) {
	a := newAssembler(media.VP8)
	p0 := vp8Packets(testFrame(0, 150, true), 1, 10)
	p1 := vp8Packets(testFrame(1, 150, false), 1+uint16(len(p0)), 20)
	p2 := vp8Packets(testFrame(2, 30, false), 1+uint16(len(p0)+len(p1)), 30)
	n := 0
	for _, p := range append(append(p0[1:], p1[:len(p1)-1]...), p2...) {
		if _, ok := a.Push(p); ok {
			n++
		}
	}
	if n != 1 || a.dropped != 2 {
		t.Errorf("got %d frames, dropped %d; want 1 and 2", n, a.dropped)
	}
}

// TestAssemblerOpus: every packet is a frame, its duration read from the
// TOC byte.
func TestAssemblerOpus(t *testing.T) {
	a := newAssembler(media.Opus)
	for _, tc := range []struct {
		payload []byte
		want    time.Duration
	}{
		{[]byte{0xf8, 1, 2}, 20 * time.Millisecond},    // CELT FB 20 ms
		{[]byte{0x78, 1}, 20 * time.Millisecond},       // SILK WB 20 ms
		{[]byte{0x7b, 0x03, 1}, 60 * time.Millisecond}, // SILK WB 20 ms, code 3, 3 frames
		{[]byte{0xe1, 1, 2}, 5 * time.Millisecond},     // CELT 2.5 ms, code 1 (2 equal frames: an even length)
		{[]byte{0x0b, 0x00}, 20 * time.Millisecond},    // code 3 with no frame count: fallback
	} {
		f, ok := a.Push(&rtp.Packet{Payload: tc.payload})
		if !ok || !bytes.Equal(f.data, tc.payload) || f.duration != tc.want {
			t.Errorf("%x: ok %v duration %v, want %v", tc.payload, ok, f.duration, tc.want)
		}
	}
	if _, ok := a.Push(&rtp.Packet{}); ok {
		t.Error("an empty packet became a frame")
	}
}

// FuzzAssembler feeds untrusted RTP (as the SFU relays it) to every
// codec's assembler: no panic, frames bounded.
func FuzzAssembler(f *testing.F) {
	for _, p := range vp8Packets(testFrame(0, 100, true), 1, 1) {
		b, _ := p.Marshal()
		f.Add(uint8(1), b)
	}
	f.Add(uint8(0), []byte{0x80, 0x6f, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xf8, 1})
	f.Add(uint8(2), []byte{0x80, 0xe0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x88, 0x80, 1})
	f.Add(uint8(3), []byte{0x80, 0xe0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x7c, 0x85, 1, 2})
	f.Fuzz(func(t *testing.T, codec uint8, data []byte) {
		c := []media.Codec{media.Opus, media.VP8, media.VP9, media.H264}[codec%4]
		a := newAssembler(c)
		// Split the input into packets at a marker-like boundary so one
		// input drives several packets through the state machine.
		for len(data) > 0 {
			n := min(len(data), 12+int(data[0]%64))
			var p rtp.Packet
			if err := p.Unmarshal(data[:n]); err == nil {
				if fr, ok := a.Push(&p); ok && len(fr.data) > maxFrameSize {
					t.Fatalf("frame of %d bytes", len(fr.data))
				}
			}
			data = data[n:]
		}
	})
}

// TestAssemblerH264: an access unit of several NAL units, one of them
// fragmented (FU-A), comes out as the Annex-B frame that went in.
func TestAssemblerH264(t *testing.T) {
	sps := []byte{0x67, 0x42, 0xc0, 0x1f, 0x0f}
	pps := []byte{0x68, 0x87, 0xcb}
	idr := append([]byte{0x65}, bytes.Repeat([]byte{0x88}, 300)...)
	var au []byte
	for _, nal := range [][]byte{sps, pps, idr} {
		au = append(append(au, 0, 0, 0, 1), nal...)
	}
	pay := &codecs.H264Payloader{}
	a := newAssembler(media.H264)
	parts := pay.Payload(100, au)
	var got []byte
	for i, p := range parts {
		if f, ok := a.Push(&rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(i), Timestamp: 9, Marker: i == len(parts)-1}, Payload: p}); ok {
			got = bytes.Clone(f.data)
		}
	}
	if !bytes.Equal(got, au) {
		t.Errorf("assembled %x\nwant      %x", got, au)
	}
}
