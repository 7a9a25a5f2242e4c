package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// oggOpusFile writes an Ogg Opus file with our writer's pages: OpusHead
// (mono, pre-skip 960), OpusTags, then one packet a page, the last page
// flagged end-of-stream.
func oggOpusFile(t testing.TB, packets ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := oggWriter{w: &buf, serial: 7}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.writePage(oggBOS, 0, opusHead(1)))
	must(w.writePage(0, 0, opusTags()))
	var pos int64
	for i, p := range packets {
		n, err := opusSamples(p)
		must(err)
		pos += int64(n)
		flags := byte(0)
		if i == len(packets)-1 {
			flags = oggEOS
		}
		must(w.writePage(flags, pos, p))
	}
	return buf.Bytes()
}

// rawPage makes one page of the given lacing values and body, with a
// correct CRC.
func rawPage(flags byte, granule int64, serial, seq uint32, lacing, body []byte) []byte {
	p := append([]byte("OggS\x00"), flags)
	p = binary.LittleEndian.AppendUint64(p, uint64(granule))
	p = binary.LittleEndian.AppendUint32(p, serial)
	p = binary.LittleEndian.AppendUint32(p, seq)
	p = append(p, 0, 0, 0, 0, byte(len(lacing)))
	p = append(p, lacing...)
	p = append(p, body...)
	binary.LittleEndian.PutUint32(p[22:], oggCRC(0, p))
	return p
}

// lacingOf returns the lacing values of a whole packet of n bytes.
func lacingOf(n int) []byte {
	l := bytes.Repeat([]byte{255}, n/255)
	return append(l, byte(n%255))
}

// headPages returns an OpusHead and an OpusTags page of stream serial.
func headPages(serial uint32) []byte {
	h, tags := opusHead(1), opusTags()
	return append(rawPage(oggBOS, 0, serial, 0, lacingOf(len(h)), h), rawPage(0, 0, serial, 1, lacingOf(len(tags)), tags)...)
}

// soundPackets returns a sound's packets, copied.
func soundPackets(s *OpusSound) (packets [][]byte, samples []int) {
	for i := range s.Len() {
		p, n := s.Packet(i)
		packets = append(packets, bytes.Clone(p))
		samples = append(samples, n)
	}
	return packets, samples
}

func TestParseOggOpus(t *testing.T) {
	in := [][]byte{celt20(1, 2, 3), {30 << 3, 9}, {3 << 3, 7, 7}, celt20(bytes.Repeat([]byte{5}, 300)...), {31<<3 | 3, 2, 1}}
	data := oggOpusFile(t, in...)
	s, err := ParseOggOpus(data)
	if err != nil {
		t.Fatal(err)
	}
	if s.Channels != 1 || s.PreSkip != opusPreSkip || s.InputRate != opusRate {
		t.Fatalf("head: %d channels, pre-skip %d, rate %d", s.Channels, s.PreSkip, s.InputRate)
	}
	packets, samples := soundPackets(s)
	if len(packets) != len(in) {
		t.Fatalf("%d packets, want %d", len(packets), len(in))
	}
	for i := range in {
		if !bytes.Equal(packets[i], in[i]) {
			t.Fatalf("packet %d is %x, want %x", i, packets[i], in[i])
		}
	}
	if want := []int{960, 480, 2880, 960, 1920}; !slices.Equal(samples, want) {
		t.Fatalf("samples %v, want %v", samples, want)
	}
	if got, want := s.Duration(), 150*time.Millisecond; got != want {
		t.Fatalf("duration %v, want %v", got, want)
	}
	if got, want := s.Length(), 150*time.Millisecond-20*time.Millisecond; got != want {
		t.Fatalf("length %v, want %v (the granule less the pre-skip)", got, want)
	}
	last := 27 + 1 + len(in[len(in)-1])
	if cut, err := ParseOggOpus(data[:len(data)-last]); err != nil || cut.Len() != len(in)-1 {
		t.Fatalf("without its end-of-stream page: %v", err)
	}
	clear(data) // the sound is its own
	if p, _ := s.Packet(0); !bytes.Equal(p, in[0]) {
		t.Fatal("the sound refers to the file's bytes")
	}
}

// spanningFile has a 600-byte packet over three pages, a 510-byte packet
// (ending in a zero lacing value) and a small one sharing a page with
// both packets' ends.
func spanningFile() (data []byte, want [][]byte) {
	big := celt20(bytes.Repeat([]byte{0xB1}, 599)...)
	even := celt20(bytes.Repeat([]byte{0xE2}, 509)...)
	small := celt20(3)
	data = headPages(1)
	data = append(data, rawPage(0, -1, 1, 2, []byte{255}, big[:255])...)
	data = append(data, rawPage(oggContinued, -1, 1, 3, []byte{255}, big[255:510])...)
	body := append(append(bytes.Clone(big[510:]), even...), small...)
	lacing := append(append([]byte{90}, lacingOf(len(even))...), lacingOf(len(small))...)
	data = append(data, rawPage(oggContinued|oggEOS, 3*960, 1, 4, lacing, body)...)
	return data, [][]byte{big, even, small}
}

func TestParseOggOpusSpanning(t *testing.T) {
	data, want := spanningFile()
	s, err := ParseOggOpus(data)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := soundPackets(s)
	if len(got) != len(want) {
		t.Fatalf("%d packets, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("packet %d: %d bytes, want %d", i, len(got[i]), len(want[i]))
		}
	}
}

// TestParseOggOpusOtherStreams: another stream multiplexed with ours is
// skipped, and nothing after our end-of-stream page is read.
func TestParseOggOpusOtherStreams(t *testing.T) {
	other := func(flags byte, seq uint32) []byte { return rawPage(flags, 0, 99, seq, []byte{4}, []byte("junk")) }
	a, b := celt20(1), celt20(2)
	var data []byte
	data = append(data, rawPage(oggBOS, 0, 1, 0, lacingOf(19), opusHead(1))...)
	data = append(data, other(oggBOS, 0)...)
	data = append(data, rawPage(0, 0, 1, 1, lacingOf(len(opusTags())), opusTags())...)
	data = append(data, rawPage(0, 960, 1, 2, []byte{byte(len(a))}, a)...)
	data = append(data, other(0, 1)...)
	data = append(data, rawPage(oggEOS, 1920, 1, 3, []byte{byte(len(b))}, b)...)
	data = append(data, headPages(5)...) // a chained stream
	data = append(data, "not even a page"...)
	s, err := ParseOggOpus(data)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := soundPackets(s); len(got) != 2 || !bytes.Equal(got[0], a) || !bytes.Equal(got[1], b) {
		t.Fatalf("packets %x", got)
	}
}

// TestParseOggOpusBad: every damage is an error wrapping ErrBadOgg.
func TestParseOggOpusBad(t *testing.T) {
	good := oggOpusFile(t, celt20(1), celt20(2))
	headLen := 27 + 1 + 19
	tagsEnd := headLen + 27 + 1 + len(opusTags())
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	recrc := func(page []byte) []byte {
		clear(page[22:26])
		binary.LittleEndian.PutUint32(page[22:], oggCRC(0, page))
		return page
	}
	withHeadPage := func(granule int64, h []byte) []byte {
		return append(rawPage(oggBOS, granule, 7, 0, lacingOf(len(h)), h), good[headLen:]...)
	}
	withHead := func(h []byte) []byte { return withHeadPage(0, h) }
	withTags := func(tags []byte) []byte {
		data := bytes.Clone(good[:headLen])
		data = append(data, rawPage(0, 0, 7, 1, lacingOf(len(tags)), tags)...)
		return append(data, good[tagsEnd:]...)
	}
	audio := func(pages ...[]byte) []byte {
		data := bytes.Clone(good[:tagsEnd])
		for _, p := range pages {
			data = append(data, p...)
		}
		return data
	}
	family1 := func(streams, coupled byte, table ...byte) []byte {
		h := opusHead(byte(len(table)))
		h[18] = 1
		return withHead(append(append(h, streams, coupled), table...))
	}
	huge := celt20(bytes.Repeat([]byte{1}, maxOpusPacket)...)
	for name, data := range map[string][]byte{
		"empty":             {},
		"bad CRC":           edit(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }),
		"truncated":         good[:len(good)-1],
		"truncated header":  good[:20],
		"truncated lacing":  append(bytes.Clone(good[:tagsEnd]), rawPage(0, 0, 7, 2, bytes.Repeat([]byte{255}, 255), nil)[:100]...),
		"huge segments":     append(bytes.Clone(good[:tagsEnd]), rawPage(0, 0, 7, 2, bytes.Repeat([]byte{255}, 255), []byte{1})...),
		"no capture":        edit(func(b []byte) []byte { b[0] = 'o'; return b }),
		"version 1":         edit(func(b []byte) []byte { b[4] = 1; return recrc(b[:headLen]) }),
		"unknown flag":      edit(func(b []byte) []byte { b[5] |= 0x08; return recrc(b[:headLen]) }),
		"no BOS":            edit(func(b []byte) []byte { b[5] = 0; return recrc(b[:headLen]) }),
		"not opus":          withHead(append([]byte("X"), opusHead(1)[1:]...)),
		"head version 0":    withHead(func() []byte { h := opusHead(1); h[8] = 0; return h }()),
		"head version 16":   withHead(func() []byte { h := opusHead(1); h[8] = 16; return h }()),
		"zero channels":     withHead(opusHead(0)),
		"three channels":    withHead(opusHead(3)),
		"short head":        withHead(opusHead(1)[:18]),
		"family 2":          withHead(func() []byte { h := opusHead(1); h[18] = 2; return h }()),
		"family 1 streams":  family1(2, 0, 0, 1),
		"family 1 mapping":  family1(1, 1, 1, 0),
		"family 1 short":    withHead(func() []byte { h := opusHead(2); h[18] = 1; return append(h, 1, 1) }()),
		"head granule":      withHeadPage(5, opusHead(1)),
		"no tags":           withTags([]byte("OpusHead")),
		"tags vendor":       withTags(binary.LittleEndian.AppendUint32([]byte("OpusTags"), 1000)),
		"tags count":        withTags(append(binary.LittleEndian.AppendUint32([]byte("OpusTags\x00\x00\x00\x00"), 1<<30), 1, 2, 3, 4)),
		"tags comment":      withTags(append(binary.LittleEndian.AppendUint32([]byte("OpusTags\x00\x00\x00\x00"), 1), 9, 0, 0, 0)),
		"tags no count":     withTags([]byte("OpusTags\x00\x00\x00\x00")),
		"empty packet":      audio(rawPage(oggEOS, 0, 7, 2, []byte{0}, nil)),
		"bad packet":        audio(rawPage(oggEOS, 0, 7, 2, []byte{1}, []byte{31<<3 | 3})),
		"no audio":          good[:tagsEnd],
		"ends in a packet":  audio(rawPage(0, -1, 7, 2, []byte{255}, bytes.Repeat([]byte{31 << 3}, 255))),
		"lost page":         audio(rawPage(oggEOS, 960, 7, 3, []byte{1}, celt20())),
		"BOS again":         audio(rawPage(oggBOS, 960, 7, 2, []byte{1}, celt20())),
		"unexpected cont":   audio(rawPage(oggContinued, 960, 7, 2, []byte{1}, celt20())),
		"missing cont":      audio(rawPage(0, -1, 7, 2, []byte{255}, bytes.Repeat([]byte{31 << 3}, 255)), rawPage(0, 960, 7, 3, []byte{1}, celt20())),
		"packet too large":  audio(rawPage(0, -1, 7, 2, lacingOf(len(huge))[:255], huge[:255*255]), rawPage(oggContinued, 0, 7, 3, []byte{2}, huge[255*255:])),
		"head not alone":    append(rawPage(oggBOS, 0, 7, 0, append(lacingOf(19), lacingOf(len(opusTags()))...), append(opusHead(1), opusTags()...)), good[tagsEnd:]...),
		"audio beside tags": append(bytes.Clone(good[:headLen]), rawPage(0, 0, 7, 1, append(lacingOf(len(opusTags())), 1), append(opusTags(), 31<<3))...),
		"audio begun with tags": append(bytes.Clone(good[:headLen]),
			rawPage(0, 0, 7, 1, append(lacingOf(len(opusTags())), 255), append(opusTags(), bytes.Repeat([]byte{31 << 3}, 255)...))...),
	} {
		if _, err := ParseOggOpus(data); !errors.Is(err, ErrBadOgg) {
			t.Errorf("%s: %v, want ErrBadOgg", name, err)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// TestParseOggOpusOpusenc reads what opusenc makes of sox's tones: the
// length the file states is the input's to the sample, and the packets'
// duration is that plus the pre-skip, rounded up to whole 20 ms frames.
func TestParseOggOpusOpusenc(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name     string
		rate     uint32
		channels int
	}{{"mono48k", 48000, 1}, {"stereo44k", 44100, 2}} {
		wav, enc := filepath.Join(dir, tc.name+".wav"), filepath.Join(dir, tc.name+".opus")
		run(t, "sox", "-n", "-r", strconv.Itoa(int(tc.rate)), "-c", strconv.Itoa(tc.channels), "-b", "16", wav, "synth", "1.5", "sine", "440")
		run(t, "opusenc", "--quiet", wav, enc)
		data, err := os.ReadFile(enc)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ParseOggOpus(data)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if s.Channels != tc.channels || s.InputRate != tc.rate || s.PreSkip == 0 {
			t.Fatalf("%s: %d channels, input rate %d, pre-skip %d", tc.name, s.Channels, s.InputRate, s.PreSkip)
		}
		if got, want := s.Length(), 1500*time.Millisecond; got != want {
			t.Errorf("%s: length %v, want %v", tc.name, got, want)
		}
		frames := (72000 + s.PreSkip + 959) / 960
		if got, want := s.Duration(), time.Duration(frames)*20*time.Millisecond; got != want {
			t.Errorf("%s: packets last %v, want %v (%d frames of 20 ms)", tc.name, got, want, frames)
		}
	}
}

// withCRCs returns data with the CRC of each whole page at its start, one
// after another, set right.
func withCRCs(data []byte) []byte {
	data = bytes.Clone(data)
	for off := 0; off+27 <= len(data) && string(data[off:off+4]) == "OggS"; {
		hdr := off + 27 + int(data[off+26])
		if hdr > len(data) {
			break
		}
		end := hdr
		for _, l := range data[off+27 : hdr] {
			end += int(l)
		}
		if end > len(data) {
			break
		}
		clear(data[off+22 : off+26])
		binary.LittleEndian.PutUint32(data[off+22:], oggCRC(0, data[off:end]))
		off = end
	}
	return data
}

// FuzzOggOpusReader: whatever the bytes, ParseOggOpus returns a sound of
// valid packets or an error wrapping ErrBadOgg, without panicking.
func FuzzOggOpusReader(f *testing.F) {
	f.Add(oggOpusFile(f, celt20(1, 2), []byte{3 << 3, 7}, []byte{31<<3 | 3, 4}), false)
	spanning, _ := spanningFile()
	f.Add(spanning, false)
	f.Add(oggOpusFile(f, celt20(1)), true)
	f.Fuzz(func(t *testing.T, data []byte, fixCRC bool) {
		if fixCRC { // past the CRCs, to the headers and packets
			data = withCRCs(data)
		}
		s, err := ParseOggOpus(data)
		if err != nil {
			if !errors.Is(err, ErrBadOgg) {
				t.Fatalf("error %v does not wrap ErrBadOgg", err)
			}
			return
		}
		var total int64
		size := 0
		for i := range s.Len() {
			p, n := s.Packet(i)
			if m, err := opusSamples(p); err != nil || m != n {
				t.Fatalf("packet %d: %d samples, opusSamples says %d, %v", i, n, m, err)
			}
			total += int64(n)
			size += len(p)
		}
		if s.Len() == 0 || size > len(data) || s.Duration() != samplesDuration(total, opusRate) || s.Length() > s.Duration() {
			t.Fatalf("%d packets of %d bytes from %d, duration %v, length %v", s.Len(), size, len(data), s.Duration(), s.Length())
		}
	})
}

// BenchmarkParseOggOpus reads a minute of 20 ms packets of 80 bytes.
func BenchmarkParseOggOpus(b *testing.B) {
	packets := make([][]byte, 3000)
	for i := range packets {
		packets[i] = celt20(bytes.Repeat([]byte{byte(i)}, 79)...)
	}
	data := oggOpusFile(b, packets...)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseOggOpus(data); err != nil {
			b.Fatal(err)
		}
	}
}
