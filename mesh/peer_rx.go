package mesh

import (
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"github.com/switchboard-rtc/switchboard/media"
)

// maxLate is how many packets the VP8 sample builder waits for a missing
// one before it gives the frame up.
const maxLate = 256

// startReader offers a remote track to the engine (OnSource) and starts
// reading it: Opus packets are frames; VP8 frames are reassembled from
// their packets. The reader ends when the track does (the remote removed
// it, or the call ended), closing the sink.
func (p *Peer) startReader(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
	kind := media.Audio
	if t.Kind() == webrtc.RTPCodecTypeVideo {
		kind = media.Video
	}
	purpose := PurposeUserMedia
	if info, ok := p.remoteMD[t.StreamID()]; ok {
		purpose = info.Purpose
	}
	codec := t.Codec()
	rs := RemoteStream{
		Source: media.Source{
			Participant: p.cfg.Participant, UserID: p.cfg.Remote.UserID, DeviceID: p.cfg.Remote.DeviceID,
			ID: t.ID(), Kind: kind, Codec: codecOf(codec.MimeType), ClockRate: codec.ClockRate,
		},
		StreamID: t.StreamID(),
		Purpose:  purpose,
	}
	p.log.Info("mesh: remote track", "id", rs.ID, "stream", rs.StreamID, "kind", kind, "codec", rs.Codec,
		"purpose", purpose)
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		var sink media.Sink
		if p.cfg.OnSource != nil {
			sink = p.cfg.OnSource(rs)
		}
		readTrack(t, rs.Source, sink, p.cfg.Metrics)
	}()
	go func() { // RTCP from the remote sender must be read for the interceptors
		defer p.wg.Done()
		for {
			if _, _, err := r.ReadRTCP(); err != nil {
				return
			}
		}
	}()
}

// readTrack reads t until it ends, writing its frames to sink (nil:
// dropped) and counting them in m, then closes the sink.
func readTrack(t *webrtc.TrackRemote, src media.Source, sink media.Sink, m *Metrics) {
	if sink != nil {
		defer sink.Close()
	}
	var sb *samplebuilder.SampleBuilder
	if src.Codec == media.VP8 {
		sb = samplebuilder.New(maxLate, &codecs.VP8Packet{}, src.ClockRate)
	}
	for {
		pkt, _, err := t.ReadRTP()
		if err != nil {
			return
		}
		if sink == nil {
			continue
		}
		switch {
		case src.Codec == media.Opus:
			if writeOpus(sink, pkt) {
				m.frameIn()
			}
		case sb != nil:
			sb.Push(pkt)
			for s := sb.Pop(); s != nil; s = sb.Pop() {
				if len(s.Data) == 0 {
					continue
				}
				sink.WriteFrame(media.Frame{Data: s.Data, RTPTime: s.PacketTimestamp, Duration: s.Duration,
					KeyFrame: s.Data[0]&0x01 == 0, Received: time.Now()})
				m.frameIn()
			}
		}
	}
}

// writeOpus hands the packet's frame to sink; false: it had none.
func writeOpus(sink media.Sink, pkt *rtp.Packet) bool {
	if len(pkt.Payload) == 0 {
		return false
	}
	d, err := media.OpusDuration(pkt.Payload)
	if err != nil {
		d = 20 * time.Millisecond
	}
	sink.WriteFrame(media.Frame{Data: pkt.Payload, RTPTime: pkt.Timestamp, Duration: d, Received: time.Now()})
	return true
}

// RequestKeyFrame asks the sender of a remote video source for a key
// frame (RTCP PLI). It does not block: when the owner is busy the request
// is dropped (the next one will do).
func (p *Peer) RequestKeyFrame(src media.Source) {
	if src.Kind != media.Video || p.ended.Load() {
		return
	}
	select {
	case p.events <- func() { p.requestKeyFrame(src.ID) }:
	default:
	}
}

func (p *Peer) requestKeyFrame(id string) {
	c := p.call
	if c == nil {
		return
	}
	for _, tr := range c.pc.GetTransceivers() {
		r := tr.Receiver()
		if r == nil {
			continue
		}
		for _, t := range r.Tracks() {
			if t.ID() == id {
				err := c.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(t.SSRC())}})
				if err != nil {
					p.log.Debug("mesh: PLI", "err", err)
				}
				return
			}
		}
	}
}
