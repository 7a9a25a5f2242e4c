package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// oggPage is a page read back: the packets that complete on it.
type oggPage struct {
	flags   byte
	granule int64
	serial  uint32
	seq     uint32
	packets [][]byte
}

// readOgg parses a whole Ogg stream, checking capture patterns, CRCs,
// page sequence numbers and that continued packets continue.
func readOgg(data []byte) ([]oggPage, error) {
	var (
		pages   []oggPage
		pending []byte
		open    bool
	)
	for len(data) > 0 {
		if len(data) < 27 || string(data[:5]) != "OggS\x00" {
			return nil, errors.New("no page header")
		}
		hdr := 27 + int(data[26])
		if len(data) < hdr {
			return nil, errors.New("short lacing")
		}
		lacing := data[27:hdr]
		size := hdr
		for _, l := range lacing {
			size += int(l)
		}
		if len(data) < size {
			return nil, errors.New("short page")
		}
		raw := bytes.Clone(data[:size])
		want := binary.LittleEndian.Uint32(raw[22:])
		clear(raw[22:26])
		if got := oggCRC(0, raw); got != want {
			return nil, errors.New("bad CRC")
		}
		p := oggPage{
			flags:   raw[5],
			granule: int64(binary.LittleEndian.Uint64(raw[6:])),
			serial:  binary.LittleEndian.Uint32(raw[14:]),
			seq:     binary.LittleEndian.Uint32(raw[18:]),
		}
		if len(pages) > 0 && p.seq != pages[len(pages)-1].seq+1 {
			return nil, errors.New("page sequence skips")
		}
		if (p.flags&1 != 0) != open {
			return nil, errors.New("continuation flag does not match")
		}
		body := raw[hdr:]
		for _, l := range lacing {
			pending = append(pending, body[:l]...)
			body = body[l:]
			open = true
			if l < 255 {
				p.packets = append(p.packets, pending)
				pending, open = nil, false
			}
		}
		pages = append(pages, p)
		data = data[size:]
	}
	return pages, nil
}

// celt20 is a 20 ms CELT-only Opus packet with payload b.
func celt20(b ...byte) []byte { return append([]byte{31 << 3}, b...) }

// checkOpusStream checks an Ogg Opus stream's headers and that every page's
// granule position counts the samples of the packets so far, and returns
// the audio packets with the granule each completed at.
func checkOpusStream(t *testing.T, data []byte) (packets [][]byte, granules []int64) {
	t.Helper()
	pages, err := readOgg(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) < 3 {
		t.Fatalf("%d pages", len(pages))
	}
	head := pages[0]
	if head.flags != oggBOS || len(head.packets) != 1 || !bytes.HasPrefix(head.packets[0], []byte("OpusHead\x01")) || head.granule != 0 {
		t.Fatalf("first page %+v is no OpusHead", head)
	}
	if skip := binary.LittleEndian.Uint16(head.packets[0][10:]); skip != opusPreSkip {
		t.Fatalf("pre-skip %d, want %d", skip, opusPreSkip)
	}
	if len(pages[1].packets) != 1 || !bytes.HasPrefix(pages[1].packets[0], []byte("OpusTags")) || pages[1].granule != 0 {
		t.Fatalf("second page %+v is no OpusTags", pages[1])
	}
	var pos int64
	for i, p := range pages[2:] {
		for _, pkt := range p.packets {
			n, err := opusSamples(pkt)
			if err != nil {
				t.Fatalf("page %d: %v", i+2, err)
			}
			pos += int64(n)
			packets = append(packets, pkt)
			granules = append(granules, pos)
		}
		if p.granule != pos {
			t.Fatalf("page %d has granule %d after %d samples", i+2, p.granule, pos)
		}
		if last := i == len(pages)-3; last != (p.flags&oggEOS != 0) {
			t.Fatalf("page %d of %d has flags %#x", i+2, len(pages), p.flags)
		}
	}
	if len(packets) < 2 || !bytes.Equal(packets[0], silence(opusPreSkip)) || granules[0] != opusPreSkip {
		t.Fatalf("the stream does not lead with %d samples of silence", opusPreSkip)
	}
	return packets[1:], granules[1:]
}

func TestOpusSamples(t *testing.T) {
	for _, tc := range []struct {
		p    []byte
		want int
	}{
		{[]byte{1 << 3}, 960},              // SILK NB 20 ms
		{[]byte{3 << 3}, 2880},             // SILK NB 60 ms
		{[]byte{13 << 3}, 960},             // hybrid 20 ms
		{[]byte{28 << 3}, 120},             // CELT 2.5 ms
		{[]byte{31<<3 | 1, 5, 5}, 1920},    // two equal 20 ms frames
		{[]byte{31<<3 | 2, 1, 5, 5}, 1920}, // two frames
		{[]byte{31<<3 | 3, 3}, 2880},       // three 20 ms frames
	} {
		if got, err := opusSamples(tc.p); err != nil || got != tc.want {
			t.Errorf("opusSamples(%x) = %d, %v; want %d", tc.p, got, err, tc.want)
		}
	}
	for _, bad := range [][]byte{nil, {31<<3 | 1, 5}, {31<<3 | 2}, {31<<3 | 3}, {31<<3 | 3, 0}, {31<<3 | 3, 7}} {
		if _, err := opusSamples(bad); !errors.Is(err, ErrOpusPacket) {
			t.Errorf("opusSamples(%x) = %v, want ErrOpusPacket", bad, err)
		}
	}
}

// TestOpusTrackGranulesFollowRTP: lost packets and a 1 s silence become
// silence of their length, so each packet completes at its timestamp's
// granule, and the file is 1 s longer than its packets.
func TestOpusTrackGranulesFollowRTP(t *testing.T) {
	var buf bytes.Buffer
	tr := newOpusTrack(7, time.Minute)
	base := uint32(0xFFFF_F000) // wraps inside the stream
	var sent []uint32
	for i := range 100 {
		if i == 10 || i == 11 { // lost
			continue
		}
		ts := base + uint32(960*i)
		if i >= 50 {
			ts += 48000 // the sender stopped for 1 s
		}
		sent = append(sent, ts-base)
		if v, err := tr.add(&buf, Frame{Data: celt20(byte(i), 0xAA), RTPTime: ts}); v != take || err != nil {
			t.Fatalf("packet %d: %v, %v", i, v, err)
		}
	}
	if v, _ := tr.add(&buf, Frame{Data: celt20(1), RTPTime: base + 960*90 + 48000}); v != late {
		t.Fatalf("a packet 200 ms old got %v, want late", v)
	}
	if v, _ := tr.add(&buf, Frame{Data: celt20(1), RTPTime: base + 960*5}); v != jump {
		t.Fatalf("a packet 2.9 s old got %v, want jump (a restarted stream)", v)
	}
	if v, _ := tr.add(&buf, Frame{Data: []byte{}, RTPTime: base + 960*200}); v != invalid {
		t.Fatalf("an empty packet got %v, want invalid", v)
	}
	if v, _ := tr.add(&buf, Frame{Data: celt20(1), RTPTime: base + 960*100 + 48000 + 61*48000}); v != jump {
		t.Fatalf("a 61 s jump got %v, want jump", v)
	}
	if err := tr.end(&buf); err != nil {
		t.Fatal(err)
	}
	if got, want := tr.duration(), 3*time.Second; got != want {
		t.Fatalf("duration %v, want %v (2 s of packets and a 1 s gap)", got, want)
	}
	packets, granules := checkOpusStream(t, buf.Bytes())
	var real int
	for i, p := range packets {
		if bytes.Equal(p, silence(960)) {
			continue
		}
		if want := int64(sent[real]) + 960 + opusPreSkip; granules[i] != want {
			t.Fatalf("packet with RTP offset %d completes at granule %d, want %d", sent[real], granules[i], want)
		}
		real++
	}
	if real != len(sent) {
		t.Fatalf("%d packets read back, %d sent", real, len(sent))
	}
	if want := int64(2*960 + 48000); tr.filled != want {
		t.Fatalf("filled %d samples, want %d", tr.filled, want)
	}
}

// TestOpusTrackOddGap: a gap that is no multiple of 20 ms is filled with
// shorter silence to within 2.5 ms, and the next gap takes up the rest.
func TestOpusTrackOddGap(t *testing.T) {
	var buf bytes.Buffer
	tr := newOpusTrack(1, time.Minute)
	for _, ts := range []uint32{0, 960 + 1000, 2*960 + 1000 + 1100} {
		if v, err := tr.add(&buf, Frame{Data: celt20(1), RTPTime: ts}); v != take || err != nil {
			t.Fatalf("packet at %d: %v, %v", ts, v, err)
		}
	}
	tr.end(&buf)
	// A 1000-sample gap gets 960 of silence (40 left over), the next
	// one, 1140, gets 960+120 (60 left over).
	if got, want := tr.ogg.pos-opusPreSkip, int64(3*960+960+960+120); got != want {
		t.Fatalf("wrote %d samples, want %d", got, want)
	}
	checkOpusStream(t, buf.Bytes())
}

func FuzzOpusSamples(f *testing.F) {
	f.Add([]byte{31<<3 | 3, 3})
	f.Add([]byte{1 << 3, 1, 2})
	f.Fuzz(func(t *testing.T, p []byte) {
		n, err := opusSamples(p)
		if err == nil && (n < 120 || n > 5760 || n%120 != 0) {
			t.Fatalf("opusSamples(%x) = %d", p, n)
		}
	})
}

// FuzzOpusTrack feeds packets at arbitrary timestamps: whatever comes, the
// stream parses back with every granule counting its samples.
func FuzzOpusTrack(f *testing.F) {
	f.Add([]byte{31 << 3, 1, 2, 3}, uint32(0), uint32(960), uint32(5000))
	f.Add([]byte{3 << 3, 9}, uint32(0xFFFFFF00), uint32(100), uint32(0x80000000))
	f.Fuzz(func(t *testing.T, p []byte, t0, d1, d2 uint32) {
		var buf bytes.Buffer
		tr := newOpusTrack(1, time.Minute)
		for _, ts := range []uint32{t0, t0 + d1, t0 + d1 + d2, t0 + d1} {
			if _, err := tr.add(&buf, Frame{Data: p, RTPTime: ts}); err != nil {
				t.Fatal(err)
			}
		}
		if err := tr.end(&buf); err != nil {
			t.Fatal(err)
		}
		if buf.Len() > 0 {
			checkOpusStream(t, buf.Bytes())
		}
	})
}

// TestOpusHeadChannels: the channel count is the first packet's.
func TestOpusHeadChannels(t *testing.T) {
	for _, tc := range []struct {
		toc  byte
		want byte
	}{{31 << 3, 1}, {31<<3 | 4, 2}} {
		var buf bytes.Buffer
		tr := newOpusTrack(1, time.Minute)
		tr.add(&buf, Frame{Data: []byte{tc.toc, 1}})
		tr.end(&buf)
		pages, err := readOgg(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if got := pages[0].packets[0][9]; got != tc.want {
			t.Errorf("TOC %#x: %d channels, want %d", tc.toc, got, tc.want)
		}
	}
}
