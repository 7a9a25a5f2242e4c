package mesh

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	pionmedia "github.com/pion/webrtc/v4/pkg/media"

	"github.com/switchboard-rtc/switchboard/media"
)

const webrtcAudio = webrtc.RTPCodecTypeAudio

// outTrack is a track of ours. The two placeholders (audio and video,
// sendrecv from the first offer) are always there, so the first output of
// each kind binds to one without renegotiation, and its binding shows in
// the mute flags; further outputs get their own track, added by
// renegotiation. Tracks belong to the peer and are added to each call.
type outTrack struct {
	track       *webrtc.TrackLocalStaticSample
	kind        webrtc.RTPCodecType
	placeholder bool
	out         atomic.Pointer[output]
}

func (t *outTrack) bound() *output { return t.out.Load() }

var (
	opusCap = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	vp8Cap  = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
)

// placeholders creates the audio and video placeholder tracks.
func (p *Peer) placeholders() {
	for _, c := range []webrtc.RTPCodecCapability{opusCap, vp8Cap} {
		t, err := p.newTrack(c)
		if err != nil {
			p.log.Error("mesh: placeholder track", "err", err) // static arguments: cannot happen
			continue
		}
		t.placeholder = true
		p.tracks = append(p.tracks, t)
	}
}

func (p *Peer) newTrack(c webrtc.RTPCodecCapability) (*outTrack, error) {
	kind := webrtc.RTPCodecTypeVideo
	if c.MimeType == webrtc.MimeTypeOpus {
		kind = webrtcAudio
	}
	tr, err := webrtc.NewTrackLocalStaticSample(c, kind.String()+"-"+randomID(8), p.streamID)
	if err != nil {
		return nil, err
	}
	return &outTrack{track: tr, kind: kind}, nil
}

// addSender adds t to c's PeerConnection and reads the sender's RTCP
// (which the interceptors need), passing key frame requests to the bound
// output.
func (p *Peer) addSender(c *call, t *outTrack) error {
	s, err := c.pc.AddTrack(t.track)
	if err != nil {
		return fmt.Errorf("mesh: add track: %w", err)
	}
	c.senders[t] = s
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			pkts, _, err := s.ReadRTCP()
			if err != nil {
				return
			}
			for _, pkt := range pkts {
				switch pkt.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					if o := t.bound(); o != nil && o.spec.KeyFrameRequested != nil {
						o.spec.KeyFrameRequested()
					}
				}
			}
		}
	}()
	return nil
}

// output is a stream of ours (media.Output, media.Readier).
type output struct {
	p    *Peer
	spec media.OutputSpec
	t    *outTrack

	mu      sync.Mutex
	closed  bool
	lastRTP uint32
	hasLast bool
	rate    uint32
}

// AddOutput opens a stream of ours to the remote device: the first of its
// kind replaces a placeholder (unmuting it), later ones are added by
// renegotiation. Opus and VP8 only. It waits for the owner, and fails with
// ErrPeerEnded once the call has ended.
func (p *Peer) AddOutput(spec media.OutputSpec) (media.Output, error) {
	var c webrtc.RTPCodecCapability
	switch {
	case spec.Kind == media.Audio && spec.Codec == media.Opus:
		c = opusCap
	case spec.Kind == media.Video && spec.Codec == media.VP8:
		c = vp8Cap
	default:
		return nil, fmt.Errorf("mesh: output %q: %s %s not supported", spec.Name, spec.Kind, spec.Codec)
	}
	type result struct {
		o   *output
		err error
	}
	reply := make(chan result, 1)
	if p.ended.Load() || !p.post(func() {
		o, err := p.addOutput(spec, c)
		reply <- result{o, err}
	}) {
		return nil, ErrPeerEnded
	}
	select {
	case r := <-reply:
		return r.o, r.err
	case <-p.stopped:
		return nil, ErrPeerEnded
	}
}

func (p *Peer) addOutput(spec media.OutputSpec, c webrtc.RTPCodecCapability) (*output, error) {
	if p.stop {
		return nil, ErrPeerEnded
	}
	o := &output{p: p, spec: spec, rate: c.ClockRate}
	for _, t := range p.tracks {
		if t.placeholder && t.track.Codec().MimeType == c.MimeType && t.out.CompareAndSwap(nil, o) {
			o.t = t
			p.metadataChanged()
			return o, nil
		}
	}
	t, err := p.newTrack(c)
	if err != nil {
		return nil, err
	}
	o.t = t
	t.out.Store(o)
	p.tracks = append(p.tracks, t)
	if c := p.call; c != nil {
		if err := p.addSender(c, t); err != nil {
			return nil, err
		}
		c.renegotiate = true
		p.negotiate(c)
	}
	return o, nil
}

// ErrNotAudience: Publish was asked for a stream whose audience leaves
// the peer's remote device out.
var ErrNotAudience = errors.New("mesh: peer not in the audience")

var (
	_ media.Call              = (*Peer)(nil)
	_ media.KeyFrameRequester = (*Peer)(nil)
)

// Publish is AddOutput for a feature (media.Call), so that a feature can
// run on one peer: an audience must name the peer's participant, or be
// empty. An engine carrying several peers routes each Publish to the
// peers of its audience instead.
func (p *Peer) Publish(spec media.OutputSpec) (media.Output, error) {
	if len(spec.Audience) > 0 && !slices.Contains(spec.Audience, p.cfg.Participant) {
		return nil, fmt.Errorf("%w: %q", ErrNotAudience, p.cfg.Participant)
	}
	return p.AddOutput(spec)
}

// metadataChanged tells the remote device our new mute flags.
func (p *Peer) metadataChanged() {
	if c := p.call; c != nil && c.established {
		p.enqueue(c, &StreamMetadataChanged{Metadata: p.metadata()})
	}
}

// removeOutput unbinds o: a placeholder is muted, another track removed
// by renegotiation.
func (p *Peer) removeOutput(o *output) {
	t := o.t
	if !t.out.CompareAndSwap(o, nil) {
		return
	}
	if t.placeholder {
		p.metadataChanged()
		return
	}
	for i, x := range p.tracks {
		if x == t {
			p.tracks = append(p.tracks[:i], p.tracks[i+1:]...)
			break
		}
	}
	if c := p.call; c != nil {
		if s, ok := c.senders[t]; ok {
			delete(c.senders, t)
			if err := c.pc.RemoveTrack(s); err != nil {
				p.log.Debug("mesh: remove track", "err", err)
			}
			c.renegotiate = true
			p.negotiate(c)
		}
	}
}

// Ready is closed once the peer connection is connected.
func (o *output) Ready() <-chan struct{} { return o.p.ready }

// WriteFrame sends f on the track; the frame's duration (else the RTP time
// since the previous frame) advances the track's clock.
func (o *output) WriteFrame(f media.Frame) error {
	err := o.write(f)
	o.p.cfg.Metrics.frameOut(err == nil)
	return err
}

func (o *output) write(f media.Frame) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || o.p.ended.Load() {
		return media.ErrClosed
	}
	d := f.Duration
	if d == 0 && o.hasLast {
		d = time.Duration(f.RTPTime-o.lastRTP) * time.Second / time.Duration(o.rate)
	}
	o.lastRTP, o.hasLast = f.RTPTime, true
	if err := o.t.track.WriteSample(pionmedia.Sample{Data: f.Data, Duration: d}); err != nil {
		return fmt.Errorf("mesh: send on %q: %w", o.spec.Name, err)
	}
	return nil
}

// Close ends the stream; idempotent.
func (o *output) Close() error {
	o.mu.Lock()
	was := o.closed
	o.closed = true
	o.mu.Unlock()
	if !was {
		o.p.post(func() { o.p.removeOutput(o) })
	}
	return nil
}

// codecOf names a negotiated codec as media does ("audio/opus" → opus).
func codecOf(mime string) media.Codec {
	_, sub, _ := strings.Cut(mime, "/")
	return media.Codec(strings.ToLower(sub))
}
