package callwire

import (
	"time"

	"github.com/pion/webrtc/v4"
	pionmedia "github.com/pion/webrtc/v4/pkg/media"
)

// The Peer's changes to its media in a call: mute, microphone switch,
// screen share.

// SetMuted says our audio is muted (or not) in sdp_stream_metadata_changed.
func (p *Peer) SetMuted(muted bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.muted = muted
	p.send("sdp_stream_metadata_changed", map[string]any{"org.matrix.msc3077.sdp_stream_metadata": p.metadata()})
}

// ReplaceAudio switches the microphone of the current call: a new track
// on our audio sender, its packets tagged with tag (Voice.ReplaceTrack).
func (p *Peer) ReplaceAudio(tag []byte) {
	p.t.Helper()
	if err := p.Voice().ReplaceTrack(tag); err != nil {
		p.t.Fatalf("%s: replace track: %v", p.name, err)
	}
}

// ShareScreen adds a screen share to the current call (VP8 on a stream of
// its own, "screen-NAME", purpose m.screenshare) by renegotiation and
// plays key frames on it until stop closes or the peer closes.
func (p *Peer) ShareScreen(stop <-chan struct{}) {
	p.t.Helper()
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8},
		"screen-video-"+p.name, "screen-"+p.name)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	if p.screen, err = p.v.pc.AddTrack(track); err == nil {
		p.renegotiate(nil)
	}
	p.mu.Unlock()
	if err != nil {
		p.t.Fatalf("%s: add the screen share: %v", p.name, err)
	}
	keyFrame := []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00, 0xaa, 0xbb} // 320x240
	p.wg.Go(func() {
		tick := time.NewTicker(33 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-p.ctx.Done():
				return
			case <-tick.C:
				_ = track.WriteSample(pionmedia.Sample{Data: keyFrame, Duration: 33 * time.Millisecond})
			}
		}
	})
}

// StopScreen removes the screen share by renegotiation.
func (p *Peer) StopScreen() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.v.pc.RemoveTrack(p.screen); err != nil {
		p.t.Errorf("%s: remove the screen share: %v", p.name, err)
	}
	p.screen = nil
	p.renegotiate(nil)
}

// renegotiate offers our changed tracks (or, with opts, new ICE
// credentials) in a negotiate event (the answer comes back as one, see
// negotiated). Called with mu held.
func (p *Peer) renegotiate(opts *webrtc.OfferOptions) {
	sdp, err := p.v.local(true, opts)
	if err != nil {
		p.t.Errorf("%s: renegotiation offer: %v", p.name, err)
		return
	}
	p.send("negotiate", map[string]any{"lifetime": 10000, "description": map[string]any{"sdp": sdp, "type": "offer"},
		"org.matrix.msc3077.sdp_stream_metadata": p.metadata()})
}

// SignalingStable says whether the current call has no offer pending
// (our renegotiation was answered).
func (p *Peer) SignalingStable() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.v != nil && p.v.pc.SignalingState() == webrtc.SignalingStateStable
}
