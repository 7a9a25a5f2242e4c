package media

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/internal/logbuf"
)

// startRecorder starts a recorder on a fake call and clock, in a temporary
// folder unless cfg names one; it is closed at cleanup. OnStop's reasons
// arrive on the returned channel.
func startRecorder(t *testing.T, cfg RecordConfig) (*fakeClock, *fakeCall, *recorder, chan error, *logbuf.Buffer) {
	t.Helper()
	clock := newFakeClock()
	cfg.Clock = clock
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.Room == "" {
		cfg.Room, cfg.Call = "!room:example.org", "call-1"
	}
	stops := make(chan error, 4)
	cfg.OnStop = func(err error) { stops <- err }
	call := newFakeCall(clock)
	logs := &logbuf.Buffer{}
	f, err := NewRecorder(cfg).Start(call, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return clock, call, f.(*recorder), stops, logs
}

func recordSource(t *testing.T, r *recorder, src Source) *recordLine {
	t.Helper()
	s := r.SourceAdded(src)
	if s == nil {
		t.Fatalf("source %+v not recorded", src)
	}
	return s.(*recordLine)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// segmentsOf returns the manifest's segments of participant p.
func segmentsOf(m RecordingManifest, p string) []RecordedSegment {
	var out []RecordedSegment
	for _, s := range m.Segments {
		if s.Participant == p {
			out = append(out, s)
		}
	}
	return out
}

// waitUntil returns when done reports true; it polls, as the writers
// signal nothing a test could wait on.
func waitUntil(t *testing.T, what string, done func() bool) {
	t.Helper()
	guard := time.Now().Add(hang)
	for !done() {
		if time.Now().After(guard) {
			t.Fatalf("%s: not in %v", what, hang)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitEnded returns when l's writer goroutine has ended.
func waitEnded(t *testing.T, r *recorder, l *recordLine) {
	t.Helper()
	waitUntil(t, l.name+" ends", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		_, running := r.lines[l]
		return !running
	})
}

// waitDrained returns when l's queue is empty.
func waitDrained(t *testing.T, l *recordLine) {
	t.Helper()
	waitUntil(t, l.name+" drains", func() bool { return l.stats().Queued == 0 })
}

// TestRecordTimeline: two participants; one arrives late, one leaves and
// comes back. Each presence is a segment whose offset is its first frame's
// arrival and whose length its timestamps' span, gaps included; granules
// follow the RTP timestamps whatever the arrival jitter.
func TestRecordTimeline(t *testing.T) {
	leakcheck.Check(t)
	clock, _, r, stops, _ := startRecorder(t, RecordConfig{})
	t0 := clock.Now()
	alice := Source{Participant: "@alice:example.org:DEVA", UserID: "@alice:example.org", DeviceID: "DEVA",
		ID: "TR_a", Kind: Audio, Codec: Opus, ClockRate: 48000}
	bob := Source{Participant: "@bob:example.org:DEVB", UserID: "@bob:example.org", DeviceID: "DEVB",
		ID: "TR_b", Kind: Audio, Codec: Opus}

	a := recordSource(t, r, alice)
	jitter := []time.Duration{0, 7, 3, 15, 1} // ms, arrival only
	for i := range 100 {
		if i >= 40 && i < 90 { // alice muted: 1 s without packets
			continue
		}
		a.WriteFrame(Frame{Data: celt20(byte(i)), RTPTime: 5000 + uint32(960*i),
			Received: t0.Add(time.Duration(i)*20*time.Millisecond + jitter[i%5]*time.Millisecond)})
	}
	b1 := recordSource(t, r, bob)
	for i := range 50 {
		b1.WriteFrame(Frame{Data: celt20(1), RTPTime: uint32(960 * i), Received: t0.Add(250*time.Millisecond + time.Duration(i)*20*time.Millisecond)})
	}
	b1.Close()
	waitEnded(t, r, b1)
	m, err := ReadManifest(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	if bs := segmentsOf(m, bob.Participant); len(bs) != 1 || bs[0].DurationMS != 1000 || m.Ended != nil {
		t.Fatalf("after bob's first segment ended, the manifest says %+v", m)
	}
	b2 := recordSource(t, r, bob) // rejoined, a new stream
	for i := range 25 {
		b2.WriteFrame(Frame{Data: celt20(2), RTPTime: 77 + uint32(960*i), Received: t0.Add(3*time.Second + time.Duration(i)*20*time.Millisecond)})
	}
	clock.Set(t0.Add(4 * time.Second))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, stops, "OnStop was not called"); err != nil {
		t.Fatalf("OnStop(%v) after Close, want nil", err)
	}

	m, err = ReadManifest(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Room != "!room:example.org" || m.Call != "call-1" || !m.Started.Equal(t0) || m.Ended == nil || !m.Ended.Equal(t0.Add(4*time.Second)) || m.StopReason != "" {
		t.Fatalf("manifest %+v", m)
	}
	as, bs := segmentsOf(m, alice.Participant), segmentsOf(m, bob.Participant)
	if len(as) != 1 || len(bs) != 2 {
		t.Fatalf("segments: alice %+v, bob %+v", as, bs)
	}
	for _, tc := range []struct {
		s                   RecordedSegment
		offset, dur, frames int64
	}{
		{as[0], 0, 2000, 50},
		{bs[0], 250, 1000, 50},
		{bs[1], 3000, 500, 25},
	} {
		if tc.s.OffsetMS != tc.offset || tc.s.DurationMS != tc.dur || tc.s.Frames != uint64(tc.frames) {
			t.Errorf("segment %+v: want offset %d ms, duration %d ms, %d frames", tc.s, tc.offset, tc.dur, tc.frames)
		}
	}
	if as[0].SilenceMS != 1000 || as[0].User != alice.UserID || as[0].Device != "DEVA" || as[0].Kind != "audio" || as[0].Codec != Opus {
		t.Errorf("alice's segment %+v", as[0])
	}
	if bs[0].File == bs[1].File {
		t.Errorf("bob's segments share %s", bs[0].File)
	}
	for _, s := range m.Segments {
		if strings.ContainsAny(s.File, "/:@") || strings.HasPrefix(s.File, ".") || !strings.HasSuffix(s.File, ".opus") {
			t.Errorf("file name %q", s.File)
		}
	}
	packets, granules := checkOpusStream(t, readFile(t, filepath.Join(r.dir, as[0].File)))
	real := 0
	for i, p := range packets {
		if len(p) == 2 { // alice's own: celt20(i)
			want := int64(960*int(p[1])) + 960 + opusPreSkip
			if granules[i] != want {
				t.Fatalf("alice's packet %d completes at granule %d, want %d", p[1], granules[i], want)
			}
			real++
		}
	}
	if real != 50 {
		t.Fatalf("%d of alice's packets read back, want 50", real)
	}
}

// TestRecordUnwritableFolder: a recording folder that cannot be made ends
// the recording at once with the reason; the feature takes no source, and
// Close neither fails nor calls OnStop again.
func TestRecordUnwritableFolder(t *testing.T) {
	leakcheck.Check(t)
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, r, stops, logs := startRecorder(t, RecordConfig{Dir: notDir})
	err := recv(t, stops, "OnStop was not called")
	if !errors.Is(err, ErrRecordWrite) || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("OnStop(%v), want ErrRecordWrite saying why", err)
	}
	if r.SourceAdded(audioSource("@a:x:DA")) != nil {
		t.Fatal("a stopped recording took a source")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if len(stops) != 0 {
		t.Fatalf("OnStop called again: %v", <-stops)
	}
	if !strings.Contains(logs.String(), "recording has stopped") {
		t.Fatalf("no reason logged:\n%s", logs)
	}
	if st := r.Stats()["recording"].(RecordingStats); !strings.Contains(st.StopReason, "not a directory") {
		t.Fatalf("stats %+v", st)
	}
}

// TestRecordWriteFails: the folder vanishes mid-call: the first segment
// that cannot be written ends the whole recording with the reason; the
// other lines stop, sinks keep taking frames without blocking, and nothing
// is left running.
func TestRecordWriteFails(t *testing.T) {
	leakcheck.Check(t)
	clock, _, r, stops, _ := startRecorder(t, RecordConfig{})
	t0 := clock.Now()
	a := recordSource(t, r, audioSource("@a:x:DA"))
	b := recordSource(t, r, audioSource("@b:x:DB"))
	if err := os.RemoveAll(r.dir); err != nil {
		t.Fatal(err)
	}
	a.WriteFrame(opus(t0, 0, "\xf8a"))
	err := recv(t, stops, "OnStop was not called")
	if !errors.Is(err, ErrRecordWrite) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OnStop(%v), want ErrRecordWrite wrapping the missing folder", err)
	}
	for i := range 1000 { // more than a queue holds: never blocks
		b.WriteFrame(opus(t0, i, "\xf8b"))
		a.WriteFrame(opus(t0, i+1, "\xf8a"))
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if len(stops) != 0 {
		t.Fatalf("OnStop called again: %v", <-stops)
	}
}

// TestRecordIVF: video starts at a key frame (one is asked for), frames
// carry their RTP timestamps less the first in a 1/90000 timebase, and the
// header has the codec, size and frame count.
func TestRecordIVF(t *testing.T) {
	leakcheck.Check(t)
	clock, call, r, _, _ := startRecorder(t, RecordConfig{Video: true})
	t0 := clock.Now()
	if r.SourceAdded(Source{Participant: "p", Kind: Video, Codec: H264}) != nil {
		t.Fatal("H.264 recorded")
	}
	v := recordSource(t, r, videoSource("@a:x:DA"))
	key := []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 0xAA} // 640x480
	delta := []byte{0x11, 0x02, 0x00, 0xBB}
	v.WriteFrame(Frame{Data: delta, RTPTime: 1000, Received: t0})
	if src := call.nextKeyFrameRequest(t); src.ID != "TR_@a:x:DA_cam" {
		t.Fatalf("key frame asked of %+v", src)
	}
	stamps := []uint32{4000, 7000, 10100, 13000} // 90 kHz, jittery sender
	v.WriteFrame(Frame{Data: key, RTPTime: stamps[0], KeyFrame: true, Received: t0.Add(40 * time.Millisecond)})
	for _, ts := range stamps[1:] {
		v.WriteFrame(Frame{Data: delta, RTPTime: ts, Received: t0.Add(time.Second)})
	}
	v.WriteFrame(Frame{Data: delta, RTPTime: 10100, Received: t0.Add(time.Second)}) // late
	r.Close()
	m, err := ReadManifest(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Segments) != 1 || m.Segments[0].OffsetMS != 40 || m.Segments[0].Frames != 4 ||
		m.Segments[0].DurationMS != (13000-4000+2900)/90 || !strings.HasSuffix(m.Segments[0].File, "_video.ivf") {
		t.Fatalf("segments %+v", m.Segments)
	}
	data := readFile(t, filepath.Join(r.dir, m.Segments[0].File))
	le := binary.LittleEndian
	if string(data[:4]) != "DKIF" || le.Uint16(data[4:]) != 0 || le.Uint16(data[6:]) != 32 || string(data[8:12]) != "VP80" ||
		le.Uint16(data[12:]) != 640 || le.Uint16(data[14:]) != 480 || le.Uint32(data[16:]) != 90000 || le.Uint32(data[20:]) != 1 ||
		le.Uint32(data[24:]) != 4 {
		t.Fatalf("IVF header % x", data[:32])
	}
	data = data[32:]
	for i, ts := range stamps {
		size := le.Uint32(data)
		if got := le.Uint64(data[4:]); got != uint64(ts-stamps[0]) {
			t.Fatalf("frame %d has timestamp %d, want %d", i, got, ts-stamps[0])
		}
		want := delta
		if i == 0 {
			want = key
		}
		if string(data[12:12+size]) != string(want) {
			t.Fatalf("frame %d is % x", i, data[12:12+size])
		}
		data = data[12+size:]
	}
	if len(data) != 0 {
		t.Fatalf("%d bytes after the frames", len(data))
	}
}

// TestRecordQueueBound: frames beyond the queue are dropped and counted,
// never waited for.
func TestRecordQueueBound(t *testing.T) {
	leakcheck.Check(t)
	_, _, r, _, _ := startRecorder(t, RecordConfig{MaxQueue: 4})
	l := recordSource(t, r, audioSource("@a:x:DA"))
	// The recorder's lock parks the writer (a segment's first frame
	// needs it), so the queue fills.
	r.mu.Lock()
	for i := range 10 {
		l.WriteFrame(opus(time.Unix(0, 0), i, "\xf8q"))
	}
	st := l.stats()
	r.mu.Unlock()
	if st.FramesIn != 10 || st.Dropped+uint64(st.Queued)+st.Written > 10 || st.Dropped < 5 {
		t.Fatalf("stats %+v: want 10 in, at least 5 dropped", st)
	}
	stats := r.Stats()
	if _, ok := stats[l.name].(RecordSourceStats); !ok {
		t.Fatalf("stats %v lack %s", stats, l.name)
	}
}

func TestRecordConfigValidate(t *testing.T) {
	err := RecordConfig{MaxGap: -1, MaxQueue: -1, MaxQueueBytes: -1}.Validate()
	if !errors.Is(err, ErrRecordConfig) || strings.Count(err.Error(), "\n") != 3 {
		t.Fatalf("Validate() = %v, want all four problems", err)
	}
	if err := (RecordConfig{Dir: "/x"}).Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRecorder(RecordConfig{Dir: "/x"}).Start(nil, nil); !errors.Is(err, ErrNoCall) {
		t.Fatalf("Start(nil) = %v", err)
	}
}

func TestEscapeName(t *testing.T) {
	for in, want := range map[string]string{
		"@alice:example.org": "%40alice%3Aexample%2Eorg",
		"../../etc":          "%2E%2E%2F%2E%2E%2Fetc",
		"":                   "_",
		"DEV_1-a":            "DEV_1-a",
	} {
		if got := escapeName(in); got != want {
			t.Errorf("escapeName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := escapeName(strings.Repeat(":", 100)); len(got) > maxNamePart || len(got)%3 != 0 {
		t.Errorf("long name escaped to %q", got)
	}
}

// readIVF returns an IVF file's frames and their timestamps.
func readIVF(t *testing.T, data []byte) (frames [][]byte, stamps []uint64) {
	t.Helper()
	if len(data) < 32 || string(data[:4]) != "DKIF" {
		t.Fatalf("no IVF header: % x", data[:min(len(data), 32)])
	}
	le := binary.LittleEndian
	count := int(le.Uint32(data[24:]))
	data = data[32:]
	for len(data) > 0 {
		if len(data) < 12 || len(data) < 12+int(le.Uint32(data)) {
			t.Fatalf("truncated frame")
		}
		size := int(le.Uint32(data))
		frames, stamps = append(frames, data[12:12+size]), append(stamps, le.Uint64(data[4:]))
		data = data[12+size:]
	}
	if count != len(frames) {
		t.Fatalf("the header counts %d frames, the file holds %d", count, len(frames))
	}
	return frames, stamps
}

// TestRecordVideoQueueFull: video frames dropped on a full queue are
// followed by frames skipped up to the next key frame (one is asked for),
// so the file stays decodable: after any missing frame comes a key frame.
func TestRecordVideoQueueFull(t *testing.T) {
	leakcheck.Check(t)
	clock, call, r, _, _ := startRecorder(t, RecordConfig{Video: true, MaxQueue: 2})
	v := recordSource(t, r, videoSource("@a:x:DA"))
	frame := func(i int, key bool) Frame {
		data := []byte{0x11, byte(i)}
		if key {
			data[0] = 0x10
		}
		return Frame{Data: data, RTPTime: uint32(3000 * i), KeyFrame: key, Received: clock.Now()}
	}
	r.mu.Lock() // parks the writer at its first frame's segment
	for i := range 8 {
		v.WriteFrame(frame(i, i == 0 || i == 6))
	}
	r.mu.Unlock()
	call.nextKeyFrameRequest(t)
	for i := 8; i <= 10; i++ { // one at a time: none is dropped
		waitDrained(t, v)
		v.WriteFrame(frame(i, i == 9))
	}
	r.Close()
	st := v.stats()
	if st.Dropped == 0 || st.Skipped == 0 {
		t.Fatalf("stats %+v: want drops and skips", st)
	}
	m, err := ReadManifest(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	frames, stamps := readIVF(t, readFile(t, filepath.Join(r.dir, m.Segments[0].File)))
	prev := -1
	for i, f := range frames {
		n := int(f[1])
		if key := f[0]&1 == 0; (i == 0 || n != prev+1) && !key {
			t.Fatalf("frame %d follows frame %d and is no key frame", n, prev)
		}
		if stamps[i] != uint64(3000*n) {
			t.Fatalf("frame %d at %d", n, stamps[i])
		}
		prev = n
	}
	if prev != 10 {
		t.Fatalf("the last frame written is %d, want 10", prev)
	}
}

// TestRecordJumpNewSegment: timestamps jumping past MaxGap start a new
// segment, placed on the timeline by its first frame's arrival.
func TestRecordJumpNewSegment(t *testing.T) {
	leakcheck.Check(t)
	clock, _, r, _, _ := startRecorder(t, RecordConfig{MaxGap: 2 * time.Second})
	t0 := clock.Now()
	a := recordSource(t, r, audioSource("@a:x:DA"))
	for i := range 10 {
		a.WriteFrame(opus(t0, i, "\xf8a"))
	}
	for i := range 5 { // 10 s later by the sender's clock
		f := opus(t0.Add(10*time.Second), i, "\xf8b")
		f.RTPTime += 10*opusRate + 960*10
		a.WriteFrame(f)
	}
	r.Close()
	m, err := ReadManifest(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Segments) != 2 || m.Segments[0].OffsetMS != 0 || m.Segments[0].DurationMS != 200 ||
		m.Segments[1].OffsetMS != 10000 || m.Segments[1].DurationMS != 100 || m.Segments[1].SilenceMS != 0 {
		t.Fatalf("segments %+v", m.Segments)
	}
	if st := r.Stats(); len(st) != 1 {
		t.Fatalf("stats %v after Close", st)
	}
}

// TestReadManifestBounded: a manifest.json above the bound is refused
// with a clear error, not read whole.
func TestReadManifestBounded(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxManifestBytes + 1); err != nil { // sparse: cheap
		t.Fatal(err)
	}
	f.Close()
	if _, err := ReadManifest(dir); !errors.Is(err, ErrManifestTooLarge) {
		t.Fatalf("a manifest over the bound: %v, want ErrManifestTooLarge", err)
	}
}
