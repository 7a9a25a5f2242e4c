package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Reading Ogg Opus files (RFC 3533 pages, RFC 7845 headers) to play them
// as they are. The files are untrusted (a room member's upload): every
// length is checked against what is there, nothing is allocated beyond a
// small multiple of the input, and a bad file is an error wrapping
// ErrBadOgg, never a panic.
//
// Only the first logical stream is read: pages of other streams
// multiplexed beside it are checked and skipped, and nothing after its
// end-of-stream page is read (a chained stream that follows is not
// played). A file cut short (no end-of-stream page) plays up to its last
// whole page, unless that page leaves a packet unfinished.

// Sound file limits.
const (
	// DefaultMaxSoundBytes bounds a sound file when the configuration
	// sets nothing.
	DefaultMaxSoundBytes = 16 << 20
	// MaxSoundBytes is the largest sound file ParseOggOpus reads at all.
	MaxSoundBytes = 256 << 20
	// maxOggPage is the largest page RFC 3533 §6 allows: its header, 255
	// lacing values and 255 segments of 255 bytes.
	maxOggPage = 27 + 255 + 255*255
)

// ErrBadOgg is returned for a file that is no Ogg Opus stream we can play.
var ErrBadOgg = errors.New("media: bad ogg opus file")

// oggContinued flags a page whose first segment continues a packet.
const oggContinued = 0x01

// oggPageView is one checked page; lacing and body alias the input.
type oggPageView struct {
	flags   byte
	granule int64
	serial  uint32
	seq     uint32
	lacing  []byte
	body    []byte
	size    int
}

// nextOggPage reads and checks the page at the start of data.
func nextOggPage(data []byte) (oggPageView, error) {
	if len(data) < 27 {
		return oggPageView{}, errors.New("truncated page header")
	}
	if string(data[:4]) != "OggS" {
		return oggPageView{}, errors.New("no capture pattern")
	}
	if data[4] != 0 {
		return oggPageView{}, fmt.Errorf("stream structure version %d", data[4])
	}
	p := oggPageView{
		flags:   data[5],
		granule: int64(binary.LittleEndian.Uint64(data[6:])),
		serial:  binary.LittleEndian.Uint32(data[14:]),
		seq:     binary.LittleEndian.Uint32(data[18:]),
	}
	if p.flags&^(oggContinued|oggBOS|oggEOS) != 0 {
		return oggPageView{}, fmt.Errorf("unknown header flags %#x", p.flags)
	}
	hdr := 27 + int(data[26])
	if len(data) < hdr {
		return oggPageView{}, errors.New("truncated lacing values")
	}
	p.lacing = data[27:hdr]
	p.size = hdr
	for _, l := range p.lacing {
		p.size += int(l)
	}
	if p.size > maxOggPage { // cannot happen with byte-sized counts; kept as the spec's bound
		return oggPageView{}, fmt.Errorf("page of %d bytes", p.size)
	}
	if len(data) < p.size {
		return oggPageView{}, fmt.Errorf("truncated page: %d of %d bytes", len(data), p.size)
	}
	p.body = data[hdr:p.size]
	// The CRC is computed with its own field zeroed, without copying.
	crc := oggCRC(0, data[:22])
	crc = oggCRC(crc, []byte{0, 0, 0, 0})
	crc = oggCRC(crc, data[26:p.size])
	if want := binary.LittleEndian.Uint32(data[22:]); crc != want {
		return oggPageView{}, fmt.Errorf("CRC %#08x, page says %#08x", crc, want)
	}
	return p, nil
}

// OpusSound is an Ogg Opus file's audio, read and checked by ParseOggOpus:
// its Opus packets as they are, each with its length in 48 kHz samples.
// It is read-only and may be played by several calls at once.
type OpusSound struct {
	// Channels, PreSkip and InputRate are the OpusHead's. Pre-skip (the
	// encoder's delay, to be dropped by a decoder) is the receiver's
	// business: a WebRTC receiver does not know it and plays those few
	// milliseconds, so every packet is sent.
	Channels  int
	PreSkip   int
	InputRate uint32

	payload []byte        // the packets one after another
	packets []soundPacket // where each ends in payload
	samples int64         // all packets' samples
	granule int64         // the last granule position of the stream; -1 if none
}

type soundPacket struct {
	end     uint32
	samples uint16 // at most 5760 (120 ms)
}

// Len returns the number of audio packets.
func (s *OpusSound) Len() int { return len(s.packets) }

// Packet returns audio packet i (0 ≤ i < Len) and its 48 kHz samples. The
// data is the sound's own: read it, never change it.
func (s *OpusSound) Packet(i int) (data []byte, samples int) {
	start := uint32(0)
	if i > 0 {
		start = s.packets[i-1].end
	}
	p := s.packets[i]
	return s.payload[start:p.end:p.end], int(p.samples)
}

// Duration is how long the packets play, pre-skip included: the time a
// sender takes to send them all in real time.
func (s *OpusSound) Duration() time.Duration { return samplesDuration(s.samples, opusRate) }

// Length is the playback length the file states (its last granule
// position less the pre-skip, as opusinfo reports it): the packets'
// Duration less pre-skip and any end trimming.
func (s *OpusSound) Length() time.Duration {
	n := min(s.granule, s.samples) - int64(s.PreSkip)
	return samplesDuration(max(n, 0), opusRate)
}

// oggOpusParser holds ParseOggOpus's state between pages.
type oggOpusParser struct {
	sound      OpusSound
	n          int    // packets of our stream completed: OpusHead, OpusTags, then audio
	pending    []byte // a packet continued on the next page
	continuing bool
}

// ParseOggOpus reads an Ogg Opus file (RFC 7845): OpusHead (version 1 to
// 15, mapping family 0, or 1 with a single mono or stereo stream: what
// WebRTC plays), OpusTags, then the audio packets, each of which must be
// an Opus packet RFC 6716 allows. Errors wrap ErrBadOgg and say where.
// The sound keeps no reference to data.
func ParseOggOpus(data []byte) (*OpusSound, error) {
	if len(data) > MaxSoundBytes {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrBadOgg, len(data), MaxSoundBytes)
	}
	p := oggOpusParser{sound: OpusSound{granule: -1}}
	var serial, seq uint32
	for off := 0; off < len(data); {
		pg, err := nextOggPage(data[off:])
		if err != nil {
			return nil, fmt.Errorf("%w: page at byte %d: %w", ErrBadOgg, off, err)
		}
		at := off
		off += pg.size
		switch {
		case at == 0:
			if pg.flags&oggBOS == 0 {
				return nil, fmt.Errorf("%w: the first page does not begin a stream", ErrBadOgg)
			}
			serial = pg.serial
		case pg.serial != serial:
			continue // another stream multiplexed with ours
		case pg.flags&oggBOS != 0:
			return nil, fmt.Errorf("%w: page at byte %d begins the stream again", ErrBadOgg, at)
		case pg.seq != seq+1:
			return nil, fmt.Errorf("%w: page %d follows page %d: pages are missing", ErrBadOgg, pg.seq, seq)
		}
		seq = pg.seq
		if err := p.page(pg); err != nil {
			return nil, fmt.Errorf("%w: page %d at byte %d: %w", ErrBadOgg, pg.seq, at, err)
		}
		if pg.flags&oggEOS != 0 {
			break
		}
	}
	switch {
	case p.continuing:
		return nil, fmt.Errorf("%w: the stream ends inside a packet", ErrBadOgg)
	case p.n < 2:
		return nil, fmt.Errorf("%w: no OpusHead and OpusTags headers", ErrBadOgg)
	case len(p.sound.packets) == 0:
		return nil, fmt.Errorf("%w: no audio", ErrBadOgg)
	}
	return &p.sound, nil
}

// page takes one page of our stream: its packets, and a packet begun on
// it that the next page continues.
func (p *oggOpusParser) page(pg oggPageView) error {
	if (pg.flags&oggContinued != 0) != p.continuing {
		return errors.New("continuation flag does not match the previous page")
	}
	before := p.n
	start := 0 // of the current packet's part in pg.body
	end := 0
	for _, l := range pg.lacing {
		end += int(l)
		if l == 255 {
			continue
		}
		pkt := pg.body[start:end]
		if p.continuing {
			p.pending = append(p.pending, pkt...)
			pkt, p.continuing = p.pending, false
		}
		if err := p.packet(pkt); err != nil {
			return err
		}
		p.pending = p.pending[:0]
		start = end
	}
	if len(pg.lacing) > 0 && pg.lacing[len(pg.lacing)-1] == 255 {
		p.pending = append(p.pending, pg.body[start:]...)
		p.continuing = true
		if p.n >= 2 && len(p.pending) > maxOpusPacket {
			return fmt.Errorf("audio packet of more than %d bytes", maxOpusPacket)
		}
	}
	switch {
	case before == 0 && (p.n != 1 || p.continuing):
		return errors.New("OpusHead is not alone on the first page")
	case before == 0 && pg.granule != 0:
		return fmt.Errorf("OpusHead page has granule position %d", pg.granule)
	case before <= 1 && (p.n > 2 || p.n == 2 && p.continuing):
		return errors.New("audio shares a page with OpusTags")
	}
	if pg.granule != -1 && p.n > 2 {
		p.sound.granule = pg.granule
	}
	return nil
}

// packet takes one whole packet of our stream.
func (p *oggOpusParser) packet(pkt []byte) error {
	defer func() { p.n++ }()
	switch p.n {
	case 0:
		return p.sound.readHead(pkt)
	case 1:
		return readTags(pkt)
	}
	n, err := opusSamples(pkt)
	if err != nil {
		return fmt.Errorf("audio packet %d: %w", p.n-2, err)
	}
	p.sound.payload = append(p.sound.payload, pkt...)
	p.sound.packets = append(p.sound.packets, soundPacket{end: uint32(len(p.sound.payload)), samples: uint16(n)})
	p.sound.samples += int64(n)
	return nil
}

// readHead reads RFC 7845 §5.1's identification header.
func (s *OpusSound) readHead(h []byte) error {
	if len(h) < 19 || !bytes.HasPrefix(h, []byte("OpusHead")) {
		return errors.New("the first packet is no OpusHead")
	}
	if v := h[8]; v == 0 || v > 15 {
		return fmt.Errorf("OpusHead version %d", v)
	}
	s.Channels = int(h[9])
	s.PreSkip = int(binary.LittleEndian.Uint16(h[10:]))
	s.InputRate = binary.LittleEndian.Uint32(h[12:])
	if s.Channels < 1 || s.Channels > 2 {
		return fmt.Errorf("%d channels: only mono or stereo plays in a call", s.Channels)
	}
	switch family := h[18]; family {
	case 0:
		return nil
	case 1:
		// Family 1 can describe a plain mono or stereo stream too: one
		// stream, coupled when stereo, channels mapped in order.
		if len(h) < 21+s.Channels {
			return errors.New("OpusHead channel mapping table is truncated")
		}
		streams, coupled, table := h[19], h[20], h[21:21+s.Channels]
		if streams != 1 || int(coupled) != s.Channels-1 {
			return fmt.Errorf("%d streams, %d coupled: only a single Opus stream plays in a call", streams, coupled)
		}
		for i, c := range table {
			if int(c) != i {
				return fmt.Errorf("channel %d mapped to %d", i, c)
			}
		}
		return nil
	default:
		return fmt.Errorf("channel mapping family %d", family)
	}
}

// readTags checks RFC 7845 §5.2's comment header; its contents are not
// used.
func readTags(t []byte) error {
	if !bytes.HasPrefix(t, []byte("OpusTags")) {
		return errors.New("the second packet is no OpusTags")
	}
	rest := t[8:]
	field := func() ([]byte, bool) {
		if len(rest) < 4 {
			return nil, false
		}
		n := binary.LittleEndian.Uint32(rest)
		if uint64(n) > uint64(len(rest)-4) {
			return nil, false
		}
		f := rest[4 : 4+n]
		rest = rest[4+n:]
		return f, true
	}
	if _, ok := field(); !ok {
		return errors.New("OpusTags vendor string is truncated")
	}
	if len(rest) < 4 {
		return errors.New("OpusTags comment count is missing")
	}
	count := binary.LittleEndian.Uint32(rest)
	rest = rest[4:]
	if uint64(count) > uint64(len(rest))/4 {
		return fmt.Errorf("OpusTags says %d comments in %d bytes", count, len(rest))
	}
	for i := range count {
		if _, ok := field(); !ok {
			return fmt.Errorf("OpusTags comment %d is truncated", i)
		}
	}
	return nil
}
