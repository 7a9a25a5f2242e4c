package livekit

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	pionmedia "github.com/pion/webrtc/v4/pkg/media"

	"github.com/switchboard-rtc/switchboard/e2ee/frame"
	"github.com/switchboard-rtc/switchboard/media"
)

// ErrOutputSpec: Publish was asked for a stream we cannot send.
var ErrOutputSpec = errors.New("livekit: unsupported output")

// capability is the RTP codec a published track announces.
func capability(c media.Codec) (webrtc.RTPCodecCapability, frame.Codec, bool) {
	switch c {
	case media.Opus:
		return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1"}, frame.Opus, true
	case media.VP8:
		return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, frame.VP8, true
	case media.VP9:
		return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000}, frame.VP9, true
	case media.H264:
		return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, frame.H264, true
	}
	return webrtc.RTPCodecCapability{}, 0, false
}

// Publish opens a stream of ours in the call (media.Call). It does not wait
// for LiveKit: the participant's goroutine publishes the track, now or on
// the next connection, and frames written before that are dropped.
func (p *participant) Publish(spec media.OutputSpec) (media.Output, error) {
	cp, fc, ok := capability(spec.Codec)
	if !ok || (spec.Kind == media.Audio) != (spec.Codec == media.Opus) {
		return nil, fmt.Errorf("%w: %v %q", ErrOutputSpec, spec.Kind, spec.Codec)
	}
	enc, err := frame.NewEncryptor(p.keys.own, fc)
	if err != nil {
		return nil, fmt.Errorf("livekit: publish %q: %w", spec.Name, err)
	}
	spec.Audience = slices.Clone(spec.Audience)
	o := &output{p: p, spec: spec, cap: cp, enc: enc, ready: make(chan struct{}), m: p.e.cfg.Metrics}
	p.mu.Lock()
	if p.ctx.Err() != nil {
		p.mu.Unlock()
		return nil, media.ErrClosed
	}
	p.outputs = append(p.outputs, o)
	p.mu.Unlock()
	p.publish.push(o)
	return o, nil
}

// output is a stream we send: frames are encrypted with our current key
// and written to the track of the current connection.
type output struct {
	p    *participant
	spec media.OutputSpec
	cap  webrtc.RTPCodecCapability

	mu      sync.Mutex
	enc     *frame.Encryptor
	track   *lksdk.LocalTrack // nil while not published
	sid     string
	closed  bool
	buf     []byte
	lastRTP uint32
	hasLast bool

	out, dropped atomic.Uint64
	m            *Metrics
	ready        chan struct{} // closed once first attached (media.Readier)
	readyOnce    sync.Once
}

// Ready is closed once the output was first published (media.Readier).
func (o *output) Ready() <-chan struct{} { return o.ready }

// WriteFrame encrypts f and sends it; a frame that cannot be sent yet (not
// published, no key) is counted as dropped.
func (o *output) WriteFrame(f media.Frame) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return media.ErrClosed
	}
	d := f.Duration
	if d == 0 && o.hasLast && o.cap.ClockRate > 0 {
		d = time.Duration(f.RTPTime-o.lastRTP) * time.Second / time.Duration(o.cap.ClockRate)
	}
	o.lastRTP, o.hasLast = f.RTPTime, true
	if o.track == nil {
		o.dropped.Add(1)
		o.m.frameDropped()
		return nil
	}
	sealed, err := o.enc.Encrypt(o.buf[:0], f.Data)
	if err != nil {
		o.dropped.Add(1)
		o.m.frameDropped()
		return fmt.Errorf("livekit: encrypt for %q: %w", o.spec.Name, err)
	}
	o.buf = sealed
	if err := o.track.WriteSample(pionmedia.Sample{Data: sealed, Duration: d}, nil); err != nil {
		o.dropped.Add(1)
		o.m.frameDropped()
		return fmt.Errorf("livekit: send on %q: %w", o.spec.Name, err)
	}
	o.out.Add(1)
	o.m.frameOut()
	return nil
}

// Close unpublishes the stream.
func (o *output) Close() error {
	if o.shut() {
		o.p.publish.push(o)
	}
	return nil
}

// shut marks the output closed; true the first time.
func (o *output) shut() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return false
	}
	o.closed, o.track = true, nil
	return true
}

func (o *output) isClosed() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.closed
}

// attach makes the output write to a connection's track.
func (o *output) attach(t publishedTrack) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.closed {
		o.track, o.sid = t.track, t.sid
		o.readyOnce.Do(func() { close(o.ready) })
	}
}

// detach stops writing to c's track (the connection is closing).
func (o *output) detach(c *conn) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if t, ok := c.tracks[o]; ok && o.track == t.track {
		o.track = nil
	}
}

func (o *output) snapshot() OutputSnapshot {
	o.mu.Lock()
	sid := o.sid
	o.mu.Unlock()
	return OutputSnapshot{Name: o.spec.Name, Kind: o.spec.Kind.String(), Codec: string(o.spec.Codec),
		Audience: o.spec.Audience, TrackSID: sid, FramesOut: o.out.Load(), Dropped: o.dropped.Load()}
}

// publishOn publishes an output on c, or unpublishes a closed one. A
// restricted output's audience is set before its track exists, so nobody
// else can subscribe in between.
func (p *participant) publishOn(c *conn, o *output) {
	if o.isClosed() {
		p.mu.Lock()
		p.outputs = slices.DeleteFunc(p.outputs, func(x *output) bool { return x == o })
		p.mu.Unlock()
		if t, ok := c.tracks[o]; ok {
			delete(c.tracks, o)
			if err := c.room.LocalParticipant.UnpublishTrack(t.sid); err != nil {
				p.log.Warn("cannot unpublish our track", "name", o.spec.Name, "err", err)
			}
			p.updatePermissions(c, nil)
		}
		return
	}
	if _, ok := c.tracks[o]; ok {
		return
	}
	if len(o.spec.Audience) > 0 {
		p.updatePermissions(c, o)
	}
	var opts []lksdk.LocalTrackOptions
	if ask := o.spec.KeyFrameRequested; ask != nil && o.spec.Kind == media.Video {
		opts = append(opts, lksdk.WithRTCPHandler(func(pkt rtcp.Packet) {
			switch pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				ask()
			}
		}))
	}
	track, err := lksdk.NewLocalSampleTrack(o.cap, opts...)
	if err != nil {
		p.log.Error("cannot make our track", "name", o.spec.Name, "err", err)
		return
	}
	source := livekit.TrackSource_MICROPHONE
	if o.spec.Kind == media.Video {
		source = livekit.TrackSource_CAMERA
	}
	pub, err := c.room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{
		Name: o.spec.Name, Source: source, Encryption: livekit.Encryption_GCM,
	})
	if err != nil {
		p.log.Warn("cannot publish our track", "name", o.spec.Name, "err", err)
		_ = track.Close()
		return
	}
	t := publishedTrack{track: track, sid: pub.SID()}
	c.tracks[o] = t
	p.updatePermissions(c, nil)
	o.attach(t)
}

// refreshTracks follows lksdk's own full reconnection, which republishes
// our tracks under new ids: the audiences must name the new ones.
func (p *participant) refreshTracks(c *conn) {
	sids := map[webrtc.TrackLocal]string{}
	for _, pub := range c.room.LocalParticipant.TrackPublications() {
		if lp, ok := pub.(*lksdk.LocalTrackPublication); ok && lp.TrackLocal() != nil {
			sids[lp.TrackLocal()] = lp.SID()
		}
	}
	changed := false
	for o, t := range c.tracks {
		if sid, ok := sids[t.track]; ok && sid != t.sid {
			t.sid = sid
			c.tracks[o] = t
			o.attach(t)
			changed = true
		}
	}
	if changed {
		p.updatePermissions(c, nil)
	}
}

// updatePermissions tells LiveKit who may subscribe to our tracks; pending
// is an output about to be published.
func (p *participant) updatePermissions(c *conn, pending *output) {
	var outs []permOutput
	for o, t := range c.tracks {
		outs = append(outs, permOutput{sid: t.sid, audience: o.spec.Audience})
	}
	if pending != nil {
		outs = append(outs, permOutput{audience: pending.spec.Audience})
	}
	remotes := make([]string, 0, len(c.remotes))
	for id := range c.remotes {
		remotes = append(remotes, id)
	}
	c.room.LocalParticipant.SetSubscriptionPermission(subscriptionPermission(outs, remotes))
}

// permOutput is an output as the subscription permission sees it: its
// track (empty before it is published) and its audience.
type permOutput struct {
	sid      string
	audience []string
}

// subscriptionPermission lets everyone subscribe to everything while no
// output has an audience; otherwise it lists, per identity (those in the
// room and those named in an audience), the tracks it may have: the ones
// for everyone and the ones naming it. A participant that joins later gets
// the tracks for everyone with the next update (sent on its arrival).
func subscriptionPermission(outs []permOutput, remotes []string) *livekit.SubscriptionPermission {
	restricted := slices.ContainsFunc(outs, func(o permOutput) bool { return len(o.audience) > 0 })
	if !restricted {
		return &livekit.SubscriptionPermission{AllParticipants: true}
	}
	ids := slices.Clone(remotes)
	for _, o := range outs {
		ids = append(ids, o.audience...)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	sp := &livekit.SubscriptionPermission{}
	for _, id := range ids {
		var sids []string
		for _, o := range outs {
			if o.sid != "" && (len(o.audience) == 0 || slices.Contains(o.audience, id)) {
				sids = append(sids, o.sid)
			}
		}
		slices.Sort(sids)
		if len(sids) > 0 {
			sp.TrackPermissions = append(sp.TrackPermissions, &livekit.TrackPermission{ParticipantIdentity: id, TrackSids: sids})
		}
	}
	return sp
}
