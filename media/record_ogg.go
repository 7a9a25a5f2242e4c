package media

import (
	"encoding/binary"
	"io"
	"time"
)

// Ogg Opus as RFC 7845 lays it out: a page with OpusHead, a page with
// OpusTags, then one Opus packet per page. One packet per page costs 28
// bytes a packet (1.4 kbit/s at 20 ms) and buys an exact granule position
// for every packet, a file cut short by a crash losing at most the packets
// still buffered, and no page assembly state. The last packet is held back
// until the next one comes or the stream ends, so that it can go out on the
// page flagged end-of-stream.

// opusRate is Opus's granule clock: 48 kHz whatever the input rate was.
const opusRate = 48000

// silence returns an Opus packet of n samples (120, 240, 480 or 960) that
// decodes to digital silence without an encoder: a CELT-only, mono, one
// frame packet (TOC configs 28 to 31) whose two payload bytes 0xFF 0xFE
// range-decode to CELT's silence flag set (RFC 6716 §4.3, Table 56), the
// packet libopus itself emits for a silent 20 ms. A TOC-only packet (a
// zero-length frame, §3.2.1) would be shorter, but decoders treat it as a
// lost frame and run packet loss concealment, which extends the last sound
// heard instead of being quiet.
func silence(n int) []byte {
	config := byte(31)
	switch n {
	case 120:
		config = 28
	case 240:
		config = 29
	case 480:
		config = 30
	}
	return []byte{config << 3, 0xFF, 0xFE}
}

// oggCRCTable drives oggCRC a byte at a time. Made once at init and only
// read after: a constant Go cannot spell as one.
var oggCRCTable = func() (t [256]uint32) {
	for i := range t {
		crc := uint32(i) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()

// oggCRC is Ogg's CRC-32: polynomial 0x04c11db7, not reflected, initial
// value and final XOR zero (RFC 3533 §6).
func oggCRC(crc uint32, b []byte) uint32 {
	for _, c := range b {
		crc = crc<<8 ^ oggCRCTable[byte(crc>>24)^c]
	}
	return crc
}

// Ogg page header flags.
const (
	oggBOS = 0x02
	oggEOS = 0x04
)

// oggWriter writes one logical stream's pages, each holding whole packets.
type oggWriter struct {
	w      io.Writer
	serial uint32
	seq    uint32
	page   []byte // reused
}

// writePage writes packets (each at most maxOpusPacket bytes, at most 255
// lacing values in all) on one page.
func (o *oggWriter) writePage(flags byte, granule int64, packets ...[]byte) error {
	p := append(o.page[:0], "OggS\x00"...)
	p = append(p, flags)
	p = binary.LittleEndian.AppendUint64(p, uint64(granule))
	p = binary.LittleEndian.AppendUint32(p, o.serial)
	p = binary.LittleEndian.AppendUint32(p, o.seq)
	p = append(p, 0, 0, 0, 0, 0) // CRC, then the lacing count
	for _, pkt := range packets {
		for n := len(pkt); ; n -= 255 {
			p = append(p, byte(min(n, 255)))
			if n < 255 {
				break
			}
		}
	}
	p[26] = byte(len(p) - 27)
	for _, pkt := range packets {
		p = append(p, pkt...)
	}
	binary.LittleEndian.PutUint32(p[22:], oggCRC(0, p))
	o.page = p
	o.seq++
	_, err := o.w.Write(p)
	return err
}

// oggOpusWriter writes an Ogg Opus stream from packets placed on its
// timeline by the caller; granule positions count the samples written,
// the leading silence (opusPreSkip) included, as RFC 7845 counts them.
type oggOpusWriter struct {
	ogg     oggWriter
	pos     int64  // samples written, held packet included
	held    []byte // the last packet, not yet on a page
	started bool
}

func newOggOpusWriter(w io.Writer, serial uint32) *oggOpusWriter {
	return &oggOpusWriter{ogg: oggWriter{w: w, serial: serial}}
}

// opusPreSkip is the pre-skip of our streams: one packet of silence leads
// each stream and is skipped. It warms the decoder up on silence, so that
// the sender's first packet plays at time zero exactly (the encoder's own
// delay was the sender's to trim, long before we joined), and it keeps
// opusinfo from calling a smaller pre-skip implausible.
const opusPreSkip = 960

// opusHead is RFC 7845 §5.1's identification header: version 1, our
// pre-skip, 48 kHz, no gain, mapping family 0 (mono or stereo).
func opusHead(channels byte) []byte {
	h := append([]byte("OpusHead"), 1, channels)
	h = binary.LittleEndian.AppendUint16(h, opusPreSkip)
	h = binary.LittleEndian.AppendUint32(h, opusRate)
	return append(h, 0, 0, 0)
}

// opusTags is RFC 7845 §5.2's comment header with our vendor and no
// comments.
func opusTags() []byte {
	const vendor = "switchboard"
	t := binary.LittleEndian.AppendUint32([]byte("OpusTags"), uint32(len(vendor)))
	t = append(t, vendor...)
	return binary.LittleEndian.AppendUint32(t, 0)
}

// write adds packet p of n samples (opusSamples). The first packet writes
// the headers, with its stereo flag as the channel count, and the leading
// silence.
func (o *oggOpusWriter) write(p []byte, n int) error {
	if !o.started {
		channels := byte(1)
		if p[0]&0x04 != 0 {
			channels = 2
		}
		if err := o.ogg.writePage(oggBOS, 0, opusHead(channels)); err != nil {
			return err
		}
		if err := o.ogg.writePage(0, 0, opusTags()); err != nil {
			return err
		}
		o.started = true
		o.held, o.pos = append(o.held[:0], silence(opusPreSkip)...), opusPreSkip
	}
	if err := o.ogg.writePage(0, o.pos, o.held); err != nil {
		return err
	}
	o.held = append(o.held[:0], p...)
	o.pos += int64(n)
	return nil
}

// close writes the held packet on the end-of-stream page.
func (o *oggOpusWriter) close() error {
	if !o.started {
		return nil
	}
	return o.ogg.writePage(oggEOS, o.pos, o.held)
}

// samplesDuration converts a count of samples at rate to a duration.
func samplesDuration(n int64, rate uint32) time.Duration {
	return time.Duration(n) * time.Second / time.Duration(rate)
}
