package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testenv/callwire"
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

// recordMuteShareSwitch goes on with TestMeshRecord's call (amy's audio
// recorded into dir): amy mutes and unmutes her audio
// (sdp_stream_metadata_changed), switches her microphone (a replaced
// track on the same sender), and shares her screen by renegotiation and
// stops. The recording shows all three: a closed mute interval of the
// audio source, the audio in one segment whose file holds the packets of
// both tracks, and the screen share as a segment (an IVF file with frames)
// of its own with purpose m.screenshare.
func recordMuteShareSwitch(t *testing.T, addr, dir string, amy *callwire.Peer) {
	written := func(kind string) (n float64, segments float64) {
		m := recordLineStats(t, addr, amy.Key(), kind)
		n, _ = m["written"].(float64)
		segments, _ = m["segments"].(float64)
		return n, segments
	}
	amy.SetMuted(true)
	before, _ := written("audio")
	amy.ReplaceAudio([]byte("swap"))
	waitFor(t, 30*time.Second, "amy's audio written after the switch", func() bool { n, _ := written("audio"); return n > before+50 })
	amy.SetMuted(false)

	stop := make(chan struct{})
	defer close(stop)
	amy.ShareScreen(stop)
	waitFor(t, 60*time.Second, "amy's screen share written", func() bool { n, _ := written("video"); return n > 20 })
	amy.StopScreen()
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
	waitFor(t, 30*time.Second, "the answer to amy's renegotiation", amy.SignalingStable)
	if _, segs := written("audio"); segs != 1 {
		t.Errorf("amy's audio in %v segments after the switch, want 1", segs)
	}

	// Amy hangs up: her audio's segment ends and the manifest lists it.
	amy.Hangup("user_hangup")
	waitFor(t, 60*time.Second, "amy's audio segment finished", func() bool { return finished("audio") })
	var audio, screen []media.RecordedSegment
	for _, s := range m.Segments {
		if s.Participant != amy.Key() {
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
