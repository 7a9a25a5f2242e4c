package media

import (
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
)

// TestRecordMuteAndPurpose: a sender mutes its audio and unmutes it, and
// shares its screen as a source of its own. The manifest marks the mute
// on the common timeline (the audio's segment goes on through it), and
// the screen share's segment says its purpose. A mute still open when the
// source ends is closed then; a repeated mark changes nothing.
func TestRecordMuteAndPurpose(t *testing.T) {
	leakcheck.Check(t)
	clock, _, r, _, _ := startRecorder(t, RecordConfig{Video: true})
	t0 := clock.Now()
	mic := Source{Participant: "@a:x:DA", UserID: "@a:x", DeviceID: "DA", ID: "mic", Kind: Audio, Codec: Opus,
		Purpose: PurposeUserMedia}
	a := recordSource(t, r, mic)
	for i := range 100 {
		a.WriteFrame(Frame{Data: celt20(byte(i)), RTPTime: uint32(960 * i), Received: t0.Add(time.Duration(i) * 20 * time.Millisecond)})
		switch i {
		case 20:
			a.Muted(true, t0.Add(400*time.Millisecond))
			a.Muted(true, t0.Add(500*time.Millisecond)) // no change: ignored
		case 60:
			a.Muted(false, t0.Add(1200*time.Millisecond))
		case 80:
			a.Muted(true, t0.Add(1600*time.Millisecond)) // open until the source ends
		}
	}
	share := videoSource("@a:x:DA")
	share.ID, share.Purpose = "screen", PurposeScreenshare
	v := recordSource(t, r, share)
	v.WriteFrame(Frame{Data: []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 0xAA}, RTPTime: 9000,
		KeyFrame: true, Received: t0.Add(time.Second)})
	clock.Set(t0.Add(2500 * time.Millisecond))
	a.Close()
	waitEnded(t, r, a)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	var audio, screen []RecordedSegment
	for _, s := range m.Segments {
		switch s.Source {
		case "mic":
			audio = append(audio, s)
		case "screen":
			screen = append(screen, s)
		}
	}
	if len(audio) != 1 || audio[0].Purpose != PurposeUserMedia || audio[0].Frames != 100 || audio[0].DurationMS != 2000 {
		t.Errorf("audio segments %+v: want one of 100 frames through the mute, purpose m.usermedia", audio)
	}
	if len(screen) != 1 || screen[0].Purpose != PurposeScreenshare || screen[0].Kind != "video" || screen[0].File == audio[0].File {
		t.Errorf("screen share segments %+v: want one file of its own, purpose m.screenshare", screen)
	}
	want := []struct{ from, to int64 }{{400, 1200}, {1600, 2500}}
	if len(m.Mutes) != len(want) {
		t.Fatalf("mutes %+v: want %v", m.Mutes, want)
	}
	for i, w := range want {
		mu := m.Mutes[i]
		if mu.Participant != mic.Participant || mu.Source != "mic" || mu.Kind != "audio" || mu.FromMS != w.from ||
			mu.ToMS == nil || *mu.ToMS != w.to {
			t.Errorf("mute %d: %+v (to %v), want %d..%d ms", i, mu, mu.ToMS, w.from, w.to)
		}
	}
}

// TestRecordMuteOpenAtClose: a recording that ends while a source is
// muted closes the mute at its end; the manifest written before says it
// is open.
func TestRecordMuteOpenAtClose(t *testing.T) {
	leakcheck.Check(t)
	clock, _, r, _, _ := startRecorder(t, RecordConfig{})
	t0 := clock.Now()
	a := recordSource(t, r, Source{Participant: "p", ID: "mic", Kind: Audio, Codec: Opus})
	a.Muted(true, time.Time{}) // unstamped: the recorder's clock
	a.WriteFrame(Frame{Data: celt20(1), RTPTime: 0, Received: t0})
	a.WriteFrame(Frame{Data: celt20(1), RTPTime: 48000 * 6 * 60, Received: t0.Add(time.Second)}) // a jump: a segment ends
	waitUntil(t, "the first segment in the manifest", func() bool {
		m, err := ReadManifest(r.dir)
		return err == nil && len(m.Segments) > 0 && m.Segments[0].Frames == 1
	})
	m, err := ReadManifest(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Mutes) != 1 || m.Mutes[0].FromMS != 0 || m.Mutes[0].ToMS != nil {
		t.Fatalf("mutes while muted: %+v, want one open from 0 ms", m.Mutes)
	}
	clock.Set(t0.Add(3 * time.Second))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	a.Muted(false, t0.Add(4*time.Second)) // after Close: ignored
	if m, err = ReadManifest(r.dir); err != nil {
		t.Fatal(err)
	}
	if len(m.Mutes) != 1 || m.Mutes[0].ToMS == nil || *m.Mutes[0].ToMS != 3000 {
		t.Fatalf("mutes after Close: %+v, want one closed at 3000 ms", m.Mutes)
	}
}
