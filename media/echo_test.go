package media

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/internal/logbuf"
)

const delay = 500 * time.Millisecond

func audioSource(participant string) Source {
	return Source{Participant: participant, ID: "TR_" + participant + "_mic", Kind: Audio, Codec: Opus, ClockRate: 48000}
}

func videoSource(participant string) Source {
	return Source{Participant: participant, ID: "TR_" + participant + "_cam", Kind: Video, Codec: VP8, ClockRate: 90000}
}

// startEcho starts an echo on a fake call; the feature is closed at cleanup.
func startEcho(t *testing.T, cfg EchoConfig) (*fakeClock, *fakeCall, Feature, *logbuf.Buffer) {
	t.Helper()
	clock := newFakeClock()
	cfg.Clock = clock
	if cfg.Delay == 0 {
		cfg.Delay = delay
	}
	call := newFakeCall(clock)
	logs := &logbuf.Buffer{}
	f, err := NewEcho(cfg).Start(call, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return clock, call, f, logs
}

func addSource(t *testing.T, f Feature, src Source) *echoLine {
	t.Helper()
	s := f.SourceAdded(src)
	if s == nil {
		t.Fatalf("source %+v ignored", src)
	}
	return s.(*echoLine)
}

// opus is the i-th 20 ms Opus frame of a stream that began at start.
func opus(start time.Time, i int, data string) Frame {
	return Frame{
		Data:     []byte(data),
		RTPTime:  uint32(960 * i),
		Duration: 20 * time.Millisecond,
		Received: start.Add(time.Duration(i) * 20 * time.Millisecond),
	}
}

func TestEchoAudiencePerParticipant(t *testing.T) {
	clock, call, f, _ := startEcho(t, DefaultEchoConfig())
	t0 := clock.Now()
	sinks := map[string]*echoLine{}
	outputs := map[string]*fakeOutput{}
	for _, p := range []string{"@a:x:DA", "@b:x:DB", "@c:x:DC"} {
		sinks[p] = addSource(t, f, audioSource(p))
		o := call.nextOutput(t)
		outputs[o.spec.Audience[0]] = o
		want := OutputSpec{Name: "echo:" + p + "/TR_" + p + "_mic", Kind: Audio, Codec: Opus, Audience: []string{p}}
		if o.spec.Name != want.Name || o.spec.Kind != want.Kind || o.spec.Codec != want.Codec ||
			!slices.Equal(o.spec.Audience, want.Audience) || o.spec.KeyFrameRequested != nil {
			t.Fatalf("published %+v, want %+v", o.spec, want)
		}
	}
	for _, refused := range []Source{
		{Participant: "@a:x:DA", ID: "pcm", Kind: Audio, Codec: "pcmu"},
		{Participant: "", ID: "anon", Kind: Audio, Codec: Opus},
	} {
		if f.SourceAdded(refused) != nil {
			t.Errorf("source %+v got an echo", refused)
		}
	}
	for p, s := range sinks {
		s.WriteFrame(opus(t0, 0, "from "+p))
	}
	clock.Set(t0.Add(delay))
	for p, o := range outputs {
		if w := o.next(t); string(w.f.Data) != "from "+p {
			t.Errorf("%s's echo carried %q", p, w.f.Data)
		}
	}
	for p, o := range outputs {
		if n := len(o.frames); n != 0 {
			t.Errorf("%s's echo carried %d more frames", p, n)
		}
	}
}

func TestEchoVideoOffIgnoresVideo(t *testing.T) {
	_, _, f, _ := startEcho(t, EchoConfig{Delay: delay})
	if f.SourceAdded(videoSource("@a:x:DA")) != nil {
		t.Fatal("video echoed with Video off")
	}
}

func TestEchoKeepsDelayAndSpacing(t *testing.T) {
	clock, call, f, _ := startEcho(t, DefaultEchoConfig())
	t0 := clock.Now()
	s := addSource(t, f, audioSource("@a:x:DA"))
	// Arrival jitter is kept as it came: playback is arrival + delay.
	arrivals := []time.Duration{0, 20 * time.Millisecond, 45 * time.Millisecond, 60 * time.Millisecond}
	buf := make([]byte, 3) // reused, as an engine does
	for i, at := range arrivals {
		copy(buf, fmt.Sprintf("f%02d", i))
		s.WriteFrame(Frame{Data: buf, RTPTime: uint32(960 * i), Duration: 20 * time.Millisecond, Received: t0.Add(at)})
	}
	copy(buf, "xxx")
	o := call.nextOutput(t)
	for i, at := range arrivals {
		due := t0.Add(at + delay)
		clock.waitArmed(t, due)
		// The line waits for this frame's instant, so nothing is written early.
		if n := len(o.frames); n != 0 {
			t.Fatalf("frame %d: %d frames written before %v", i, n, due)
		}
		clock.Set(due)
		w := o.next(t)
		if want := fmt.Sprintf("f%02d", i); string(w.f.Data) != want || !w.at.Equal(due) ||
			w.f.RTPTime != uint32(960*i) || w.f.Duration != 20*time.Millisecond || !w.f.Received.IsZero() {
			t.Fatalf("frame %d: got %q at %v rtp %d dur %v received %v, want %q at %v",
				i, w.f.Data, w.at.Sub(t0), w.f.RTPTime, w.f.Duration, w.f.Received, want, due.Sub(t0))
		}
	}
	st := s.stats()
	if st.FramesIn != 4 || st.FramesOut != 4 || st.Dropped != 0 || st.Queued != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A frame the engine did not stamp is due a delay after the echo saw it.
func TestEchoUnstampedFrameUsesClock(t *testing.T) {
	clock, call, f, _ := startEcho(t, DefaultEchoConfig())
	s := addSource(t, f, audioSource("@a:x:DA"))
	clock.Set(clock.Now().Add(time.Hour))
	s.WriteFrame(Frame{Data: []byte("x")})
	due := clock.Now().Add(delay)
	clock.waitArmed(t, due)
	clock.Set(due)
	if w := call.nextOutput(t).next(t); !w.at.Equal(due) {
		t.Fatalf("written at %v, want %v", w.at, due)
	}
}

func TestEchoOverflowDropsOldest(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cfg       EchoConfig
		frames    []string
		want      []string
		dropped   uint64
		maxQueued int
	}{
		{"frames", EchoConfig{MaxQueue: 3}, []string{"a", "b", "c", "d", "e"}, []string{"c", "d", "e"}, 2, 3},
		{"bytes", EchoConfig{MaxQueueBytes: 25}, []string{"aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc"},
			[]string{"bbbbbbbbbb", "cccccccccc"}, 1, 2},
		{"larger than the bound", EchoConfig{MaxQueueBytes: 5}, []string{"aaa", "bbbbbbbbbb", "ccc"},
			[]string{"ccc"}, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock, call, f, _ := startEcho(t, tc.cfg)
			t0 := clock.Now()
			s := addSource(t, f, audioSource("@a:x:DA"))
			for i, d := range tc.frames {
				s.WriteFrame(opus(t0, i, d))
			}
			st := f.(StatsReporter).Stats()["echo:@a:x:DA/TR_@a:x:DA_mic"].(EchoSourceStats)
			if st.FramesIn != uint64(len(tc.frames)) || st.Dropped != tc.dropped || st.Queued != len(tc.want) {
				t.Fatalf("stats %+v", st)
			}
			clock.Set(t0.Add(time.Hour))
			o := call.nextOutput(t)
			for _, want := range tc.want {
				if w := o.next(t); string(w.f.Data) != want {
					t.Fatalf("got %q, want %q", w.f.Data, want)
				}
			}
			s.Close()
			o.waitClosed(t)
			if st := s.stats(); st.FramesOut != uint64(len(tc.want)) || st.Queued != 0 {
				t.Fatalf("final stats %+v", st)
			}
		})
	}
}

func key(data string) Frame   { return Frame{Data: []byte(data), KeyFrame: true} }
func delta(data string) Frame { return Frame{Data: []byte(data)} }

// playVideo writes frames 33 ms apart from t0 and returns the output's data
// once everything due was played.
func playVideo(t *testing.T, clock *fakeClock, o *fakeOutput, s *echoLine, frames ...Frame) []string {
	t.Helper()
	t0 := clock.Now()
	for i, f := range frames {
		f.Received = t0.Add(time.Duration(i) * 33 * time.Millisecond)
		s.WriteFrame(f)
	}
	n := s.stats().Queued
	clock.Set(t0.Add(time.Hour))
	var got []string
	for range n {
		got = append(got, string(o.next(t).f.Data))
	}
	return got
}

func TestEchoVideoStartsAtKeyFrame(t *testing.T) {
	clock, call, f, _ := startEcho(t, DefaultEchoConfig())
	src := videoSource("@a:x:DA")
	s := addSource(t, f, src)
	o := call.nextOutput(t)
	if o.spec.Codec != VP8 || o.spec.Kind != Video || o.spec.KeyFrameRequested == nil {
		t.Fatalf("published %+v", o.spec)
	}
	if got := call.nextKeyFrameRequest(t); got != src {
		t.Fatalf("key frame asked of %+v", got)
	}
	got := playVideo(t, clock, o, s, delta("d1"), delta("d2"), key("K1"), delta("d3"))
	if !slices.Equal(got, []string{"K1", "d3"}) {
		t.Fatalf("played %q", got)
	}
	if w := len(o.frames); w != 0 {
		t.Fatalf("%d frames more", w)
	}
	if st := s.stats(); st.Skipped != 2 || st.FramesOut != 2 || st.WaitingKeyFrame {
		t.Fatalf("stats %+v", st)
	}
}

// Our receiver's requests for a key frame go to the sender, at most one a
// second.
func TestEchoVideoRelaysKeyFrameRequests(t *testing.T) {
	clock, call, f, _ := startEcho(t, DefaultEchoConfig())
	src := videoSource("@a:x:DA")
	s := addSource(t, f, src)
	o := call.nextOutput(t)
	call.nextKeyFrameRequest(t) // the line's own, at the start
	// play writes a frame due now and returns once it is out: by then the
	// line has looked at the requests made before.
	play := func(f Frame) {
		f.Received = clock.Now().Add(-delay)
		s.WriteFrame(f)
		o.next(t)
	}
	play(key("K1"))
	for range 3 {
		o.spec.KeyFrameRequested()
	}
	play(delta("d1"))
	if n := len(call.keyFrames); n != 0 {
		t.Fatalf("%d requests within a second of the last", n)
	}
	clock.Set(clock.Now().Add(keyFrameEvery))
	play(delta("d2"))
	if got := call.nextKeyFrameRequest(t); got != src || len(call.keyFrames) != 0 {
		t.Fatalf("key frame asked of %+v, %d more", got, len(call.keyFrames))
	}
}

func TestEchoVideoOverflowResumesAtKeyFrame(t *testing.T) {
	clock, call, f, _ := startEcho(t, EchoConfig{Video: true, MaxQueue: 3})
	s := addSource(t, f, videoSource("@a:x:DA"))
	o := call.nextOutput(t)
	// K1's drop leaves d1 undecodable; K2 starts a new run.
	got := playVideo(t, clock, o, s, key("K1"), delta("d1"), key("K2"), delta("d2"))
	if st := s.stats(); !slices.Equal(got, []string{"K2", "d2"}) || st.Dropped != 2 || st.Skipped != 0 {
		t.Fatalf("played %q, stats %+v", got, st)
	}
	// Nothing decodable is left after K3's drop: d5 waits for K4.
	got = playVideo(t, clock, o, s, key("K3"), delta("d3"), delta("d4"), delta("d5"), key("K4"), delta("d6"))
	if st := s.stats(); !slices.Equal(got, []string{"K4", "d6"}) || st.Dropped != 5 || st.Skipped != 1 {
		t.Fatalf("played %q, stats %+v", got, st)
	}
}

func TestEchoOutputErrorEndsThatLine(t *testing.T) {
	clock, call, f, logs := startEcho(t, DefaultEchoConfig())
	t0 := clock.Now()
	bad := addSource(t, f, audioSource("@a:x:DA"))
	badOut := call.nextOutput(t)
	badOut.setErr(fmt.Errorf("call lost: %w", ErrClosed))
	good := addSource(t, f, audioSource("@b:x:DB"))
	goodOut := call.nextOutput(t)
	for i := range 3 {
		bad.WriteFrame(opus(t0, i, "a"))
		good.WriteFrame(opus(t0, i, "b"))
	}
	clock.Set(t0.Add(time.Hour))
	badOut.waitClosed(t)
	for range 3 {
		goodOut.next(t)
	}
	bad.WriteFrame(opus(t0, 3, "a"))
	badOut.mu.Lock()
	writes := badOut.writes
	badOut.mu.Unlock()
	if st := bad.stats(); writes != 1 || st.FramesIn != 3 || st.Queued != 0 {
		t.Fatalf("%d writes, stats %+v", writes, st)
	}
	if n := logs.Count("level=WARN"); n != 1 {
		t.Fatalf("%d warnings:\n%s", n, logs)
	}
	if _, ok := f.(StatsReporter).Stats()[badOut.spec.Name]; ok {
		t.Fatal("ended line still in stats")
	}
}

// An error other than ErrClosed concerns one frame: the line goes on, and
// only the first is logged.
func TestEchoOutputFrameErrorCounted(t *testing.T) {
	clock, call, f, logs := startEcho(t, DefaultEchoConfig())
	t0 := clock.Now()
	s := addSource(t, f, audioSource("@a:x:DA"))
	o := call.nextOutput(t)
	o.setErr(errors.New("no key yet"))
	for i := range 3 {
		s.WriteFrame(opus(t0, i, "refused"))
	}
	s.WriteFrame(opus(t0, 3, "sent"))
	clock.waitArmed(t, t0.Add(delay))
	clock.Set(t0.Add(2*20*time.Millisecond + delay)) // the three refused
	clock.waitArmed(t, t0.Add(3*20*time.Millisecond+delay))
	o.setErr(nil)
	clock.Set(t0.Add(time.Hour))
	if w := o.next(t); string(w.f.Data) != "sent" {
		t.Fatalf("got %q", w.f.Data)
	}
	if st := s.stats(); st.Failed != 3 || o.isClosed() || logs.Count("level=WARN") != 1 {
		t.Fatalf("stats %+v, closed %v, logs:\n%s", st, o.isClosed(), logs)
	}
}

func TestEchoPublishFailureIsolated(t *testing.T) {
	clock, call, f, logs := startEcho(t, DefaultEchoConfig())
	call.refuse = map[string]error{"@a:x:DA": errors.New("refused")}
	t0 := clock.Now()
	bad := addSource(t, f, audioSource("@a:x:DA"))
	good := addSource(t, f, audioSource("@b:x:DB"))
	o := call.nextOutput(t)
	bad.WriteFrame(opus(t0, 0, "a"))
	good.WriteFrame(opus(t0, 0, "b"))
	clock.Set(t0.Add(delay))
	if w := o.next(t); string(w.f.Data) != "b" || o.spec.Audience[0] != "@b:x:DB" {
		t.Fatalf("got %q on %+v", w.f.Data, o.spec)
	}
	f.Close()
	if n := logs.Count("level=WARN"); n != 1 || !bytes.Contains([]byte(logs.String()), []byte("refused")) {
		t.Fatalf("%d warnings:\n%s", n, logs)
	}
}

func TestEchoSourceCloseDrains(t *testing.T) {
	clock, call, f, _ := startEcho(t, DefaultEchoConfig())
	t0 := clock.Now()
	s := addSource(t, f, audioSource("@a:x:DA"))
	s.WriteFrame(opus(t0, 0, "a"))
	s.WriteFrame(opus(t0, 1, "b"))
	s.Close()
	s.WriteFrame(opus(t0, 2, "late"))
	o := call.nextOutput(t)
	clock.waitArmed(t, t0.Add(delay))
	if o.isClosed() {
		t.Fatal("closed before its frames were played")
	}
	clock.Set(t0.Add(time.Hour))
	for _, want := range []string{"a", "b"} {
		if w := o.next(t); string(w.f.Data) != want {
			t.Fatalf("got %q, want %q", w.f.Data, want)
		}
	}
	o.waitClosed(t)
	if n := len(o.frames); n != 0 {
		t.Fatalf("%d frames after the source closed", n)
	}
}

func TestEchoCloseEndsEverything(t *testing.T) {
	leakcheck.Check(t)
	clock, call, f, _ := startEcho(t, DefaultEchoConfig())
	t0 := clock.Now()
	var sinks []*echoLine
	var outputs []*fakeOutput
	for _, p := range []string{"@a:x:DA", "@b:x:DB"} {
		for _, src := range []Source{audioSource(p), videoSource(p)} {
			s := addSource(t, f, src)
			sinks = append(sinks, s)
			outputs = append(outputs, call.nextOutput(t))
			s.WriteFrame(Frame{Data: []byte("k"), KeyFrame: true, Received: t0})
		}
	}
	clock.waitArmed(t, t0.Add(delay))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for _, o := range outputs {
		if !o.isClosed() {
			t.Errorf("output %s open after Close", o.spec.Name)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if f.SourceAdded(audioSource("@c:x:DC")) != nil {
		t.Fatal("a source was taken after Close")
	}
	for _, s := range sinks { // the engine may still be writing
		s.WriteFrame(opus(t0, 1, "x"))
		s.Close()
		if st := s.stats(); st.Queued != 0 {
			t.Errorf("%s queues after Close: %+v", s.name, st)
		}
	}
	if st := f.(StatsReporter).Stats(); len(st) != 0 {
		t.Fatalf("stats after Close: %v", st)
	}
}

func TestEchoConcurrentSources(t *testing.T) {
	leakcheck.Check(t)
	const sources, frames = 8, 200
	clock, call, f, _ := startEcho(t, EchoConfig{MaxQueue: frames})
	t0 := clock.Now()
	var wg sync.WaitGroup
	for i := range sources {
		wg.Go(func() {
			s := f.SourceAdded(audioSource(fmt.Sprintf("@u%d:x:D", i)))
			for j := range frames {
				s.WriteFrame(opus(t0, j, fmt.Sprint(i)))
				_ = f.(StatsReporter).Stats()
			}
			s.Close()
		})
	}
	wg.Wait()
	clock.Set(t0.Add(time.Hour))
	for range sources {
		o := call.nextOutput(t)
		for j := range frames {
			w := o.next(t)
			if w.f.RTPTime != uint32(960*j) || "@u"+string(w.f.Data)+":x:D" != o.spec.Audience[0] {
				t.Fatalf("%s: frame %d is %q rtp %d", o.spec.Name, j, w.f.Data, w.f.RTPTime)
			}
		}
		o.waitClosed(t)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestEchoConfig(t *testing.T) {
	c := EchoConfig{}.withDefaults()
	if c.Delay != DefaultEchoDelay || c.MaxQueue != 58 || c.MaxQueueBytes != 2_000_000+1<<20 || c.Clock == nil || c.Video {
		t.Fatalf("defaults %+v", c)
	}
	if !DefaultEchoConfig().Video || DefaultEchoConfig().Validate() != nil {
		t.Fatal("DefaultEchoConfig")
	}
	err := EchoConfig{Delay: time.Minute, MaxQueue: -1, MaxQueueBytes: -1}.Validate()
	if !errors.Is(err, ErrEchoConfig) || bytes.Count([]byte(err.Error()), []byte("media: bad echo")) != 3 {
		t.Fatalf("Validate: %v", err)
	}
	if c := (EchoConfig{Delay: time.Minute}).withDefaults(); c.Delay != MaxEchoDelay {
		t.Fatalf("delay not clamped: %v", c.Delay)
	}
	if _, err := NewEcho(EchoConfig{}).Start(nil, nil); !errors.Is(err, ErrNoCall) {
		t.Fatalf("Start(nil): %v", err)
	}
	if NewEcho(EchoConfig{}).Name() != "echo" {
		t.Fatal("name")
	}
}
