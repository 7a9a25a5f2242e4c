package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	pionmedia "github.com/pion/webrtc/v4/pkg/media"

	"github.com/switchboard-rtc/switchboard/media"
)

// recordLineStats is the recorder's line (RecordSourceStats, JSON
// decoded) of participant's source of kind in GET /admin/v1/mesh; nil
// when there is none.
func recordLineStats(t *testing.T, addr, participant, kind string) map[string]any {
	v := adminGet[struct {
		Calls []struct {
			FeatureStats struct {
				Record map[string]any `json:"record"`
			} `json:"feature_stats"`
		} `json:"calls"`
	}](t, addr, "/admin/v1/mesh")
	for _, c := range v.Calls {
		for _, x := range c.FeatureStats.Record {
			if m, ok := x.(map[string]any); ok && m["participant"] == participant && m["kind"] == kind {
				return m
			}
		}
	}
	return nil
}

// setMuted says our audio is muted (or not) in sdp_stream_metadata_changed.
func (p *meshPeer) setMuted(muted bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.muted = muted
	p.send("sdp_stream_metadata_changed", map[string]any{"org.matrix.msc3077.sdp_stream_metadata": p.metadata()})
}

// renegotiate offers our changed tracks in a negotiate event (the
// answer comes back as one, see handle). Called with mu held.
func (p *meshPeer) renegotiate() {
	sdp := p.local(true)
	p.send("negotiate", map[string]any{"lifetime": 10000, "description": map[string]any{"sdp": sdp, "type": "offer"},
		"org.matrix.msc3077.sdp_stream_metadata": p.metadata()})
}

// startScreen adds a screen share (VP8 on a stream of its own, purpose
// m.screenshare) by renegotiation and plays key frames on it until stop.
func (p *meshPeer) startScreen(stop <-chan struct{}) {
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8},
		"screen-video-"+p.name, "screen-"+p.name)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	if p.screen, err = p.pc.AddTrack(track); err != nil {
		p.t.Fatal(err)
	}
	p.renegotiate()
	p.mu.Unlock()
	keyFrame := []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00, 0xaa, 0xbb} // 320x240
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(33 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-p.t.Context().Done():
				return
			case <-tick.C:
				_ = track.WriteSample(pionmedia.Sample{Data: keyFrame, Duration: 33 * time.Millisecond})
			}
		}
	}()
}

// stopScreen removes the screen share by renegotiation.
func (p *meshPeer) stopScreen() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.pc.RemoveTrack(p.screen); err != nil {
		p.t.Errorf("%s: remove the screen share: %v", p.name, err)
	}
	p.screen = nil
	p.renegotiate()
}

// replaceAudio puts a new Opus track on our audio sender (a microphone
// switch: no renegotiation) and plays on it from now on, tagged with tag;
// the RTP sequence numbers and timestamps go on (play's counters).
func (p *meshPeer) replaceAudio(tag []byte) {
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		"audio-2-"+p.name, "stream-"+p.name)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.pc.GetSenders() {
		if s.Track() == p.track {
			if err := s.ReplaceTrack(track); err != nil {
				p.t.Fatalf("%s: replace track: %v", p.name, err)
			}
		}
	}
	p.track, p.tag = track, tag
}

// recordMuteShareSwitch goes on with TestMeshRecord's call (amy's audio
// recorded into dir): amy mutes and unmutes her audio
// (sdp_stream_metadata_changed), switches her microphone (a replaced
// track on the same sender), and shares her screen by renegotiation and
// stops. The recording shows all three: a closed mute interval of the
// audio source, the audio in one segment whose file holds the packets of
// both tracks, and the screen share as a segment (an IVF file with frames)
// of its own with purpose m.screenshare.
func recordMuteShareSwitch(t *testing.T, addr, dir string, amy *meshPeer) {
	written := func(kind string) (n float64, segments float64) {
		m := recordLineStats(t, addr, amy.key(), kind)
		n, _ = m["written"].(float64)
		segments, _ = m["segments"].(float64)
		return n, segments
	}
	amy.setMuted(true)
	before, _ := written("audio")
	amy.replaceAudio([]byte("swap"))
	waitFor(t, 30*time.Second, "amy's audio written after the switch", func() bool { n, _ := written("audio"); return n > before+50 })
	amy.setMuted(false)

	stop := make(chan struct{})
	defer close(stop)
	amy.startScreen(stop)
	waitFor(t, 60*time.Second, "amy's screen share written", func() bool { n, _ := written("video"); return n > 20 })
	amy.stopScreen()
	var m media.RecordingManifest
	var rec string
	finished := func(kind string) bool { // the manifest lists a finished segment of kind
		found, _ := filepath.Glob(filepath.Join(dir, "*", media.ManifestName))
		if len(found) != 1 {
			return false
		}
		rec = filepath.Dir(found[0])
		var err error
		if m, err = media.ReadManifest(rec); err != nil {
			return false
		}
		for _, s := range m.Segments {
			if s.Kind == kind && s.DurationMS > 0 {
				return true
			}
		}
		return false
	}
	waitFor(t, 60*time.Second, "the screen share's segment finished", func() bool { return finished("video") })
	waitFor(t, 30*time.Second, "the answer to amy's renegotiation", func() bool {
		amy.mu.Lock()
		defer amy.mu.Unlock()
		return amy.pc.SignalingState() == webrtc.SignalingStateStable
	})
	if _, segs := written("audio"); segs != 1 {
		t.Errorf("amy's audio in %v segments after the switch, want 1", segs)
	}

	// Amy hangs up: her audio's segment ends and the manifest lists it.
	amy.mu.Lock()
	amy.send("hangup", map[string]any{"reason": "user_hangup"})
	_ = amy.pc.Close()
	amy.pc = nil
	amy.mu.Unlock()
	waitFor(t, 60*time.Second, "amy's audio segment finished", func() bool { return finished("audio") })
	var audio, screen []media.RecordedSegment
	for _, s := range m.Segments {
		if s.Participant != amy.key() {
			continue
		}
		if s.Kind == "audio" {
			audio = append(audio, s)
		} else {
			screen = append(screen, s)
		}
	}
	if len(audio) != 1 || audio[0].Purpose != media.PurposeUserMedia {
		t.Fatalf("amy's audio segments %+v: want one, m.usermedia, across the switch", audio)
	}
	data, err := os.ReadFile(filepath.Join(rec, audio[0].File))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("mark-amy-0")) || !bytes.Contains(data, []byte("mark-amy-swap")) {
		t.Errorf("amy's audio file (%d bytes) lacks the packets of the first or the replacing track", len(data))
	}
	if len(screen) != 1 || screen[0].Purpose != media.PurposeScreenshare || screen[0].Frames == 0 {
		t.Fatalf("amy's screen share segments %+v: want one with frames, m.screenshare", screen)
	}
	if fi, err := os.Stat(filepath.Join(rec, screen[0].File)); err != nil || fi.Size() <= 32 {
		t.Errorf("the screen share's IVF file: %v, %v", fi, err)
	}
	if len(m.Mutes) != 1 || m.Mutes[0].Source != audio[0].Source || m.Mutes[0].Kind != "audio" || m.Mutes[0].ToMS == nil ||
		*m.Mutes[0].ToMS < m.Mutes[0].FromMS || m.Mutes[0].FromMS < audio[0].OffsetMS {
		t.Errorf("mutes %+v: want one closed interval of amy's audio, within its segment", m.Mutes)
	}
}
