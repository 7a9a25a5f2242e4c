package media

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// announceCall publishes fakeOutputs for any audience, or fails with err.
type announceCall struct {
	clock     Clock
	err       error
	published chan *fakeOutput
}

func newAnnounceCall(clock Clock) *announceCall {
	return &announceCall{clock: clock, published: make(chan *fakeOutput, 4)}
}

func (c *announceCall) Publish(spec OutputSpec) (Output, error) {
	if c.err != nil {
		return nil, c.err
	}
	o := &fakeOutput{spec: spec, clock: c.clock, frames: make(chan written, 4096), closed: make(chan struct{})}
	c.published <- o
	return o, nil
}

func (c *announceCall) nextOutput(t *testing.T) *fakeOutput {
	t.Helper()
	return recv(t, c.published, "nothing was published")
}

// testSoundPackets are five packets of 20, 10, 60, 20 and 40 ms.
func testSoundPackets() [][]byte {
	return [][]byte{celt20(1), {30 << 3, 2}, {3 << 3, 3}, celt20(4, 4), {31<<3 | 1, 5, 5}}
}

func startAnnounce(t *testing.T, cfg AnnounceConfig, call Call) *announcement {
	t.Helper()
	a, err := NewAnnounce(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f, err := a.Start(call, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f.(*announcement)
}

func waitDone(t *testing.T, f Finisher) {
	t.Helper()
	recv(t, f.Done(), "the announcement did not finish")
}

func noFrameYet(t *testing.T, o *fakeOutput) {
	t.Helper()
	select {
	case w := <-o.frames:
		t.Fatalf("frame %x came before its time", w.f.Data)
	default:
	}
}

// TestAnnouncePlays: the packets go out in order, each at the start plus
// the packets before it, RTP timestamps stepping by their samples; the
// output closes and Done once the last has played.
func TestAnnouncePlays(t *testing.T) {
	clock := newFakeClock()
	call := newAnnounceCall(clock)
	packets := testSoundPackets()
	sound, err := ParseOggOpus(oggOpusFile(t, packets...))
	if err != nil {
		t.Fatal(err)
	}
	start := clock.Now()
	a := startAnnounce(t, AnnounceConfig{Sound: sound, Clock: clock}, call)
	if a.SourceAdded(Source{Participant: "p", Kind: Audio, Codec: Opus}) != nil {
		t.Fatal("announce took a remote source")
	}
	out := call.nextOutput(t)
	if s := out.spec; s.Name != DefaultAnnounceName || s.Kind != Audio || s.Codec != Opus || len(s.Audience) != 0 {
		t.Fatalf("published %+v", s)
	}
	durations := []time.Duration{20, 10, 60, 20, 40}
	at := start
	var rtp uint32
	for i, p := range packets {
		if i > 0 {
			clock.waitArmed(t, at)
			noFrameYet(t, out)
			clock.Set(at)
		}
		w := out.next(t)
		d := durations[i] * time.Millisecond
		if !bytes.Equal(w.f.Data, p) || w.f.Duration != d || !w.at.Equal(at) {
			t.Fatalf("frame %d: %x lasting %v at %v, want %x lasting %v at %v", i, w.f.Data, w.f.Duration, w.at.Sub(start), p, d, at.Sub(start))
		}
		if i > 0 && w.f.RTPTime-rtp != uint32(durations[i-1]*48) {
			t.Fatalf("frame %d: RTP time stepped by %d after %v", i, w.f.RTPTime-rtp, durations[i-1])
		}
		rtp = w.f.RTPTime
		at = at.Add(d)
	}
	clock.waitArmed(t, at)
	if out.isClosed() {
		t.Fatal("the output closed before the last frame had played")
	}
	clock.Set(at)
	out.waitClosed(t)
	waitDone(t, a)
	st := a.Stats()
	if st["state"] != "finished" || st["frames_sent"] != uint64(5) || st["duration_ms"] != int64(150) || st["position_ms"] != int64(150) {
		t.Fatalf("stats %v", st)
	}
}

// TestAnnounceCloseMidPlay: Close stops the sound at once, closes the
// output and Done.
func TestAnnounceCloseMidPlay(t *testing.T) {
	clock := newFakeClock()
	call := newAnnounceCall(clock)
	sound, err := ParseOggOpus(oggOpusFile(t, testSoundPackets()...))
	if err != nil {
		t.Fatal(err)
	}
	a := startAnnounce(t, AnnounceConfig{Name: "hello", Sound: sound, Clock: clock, Audience: []string{"alice"}}, call)
	out := call.nextOutput(t)
	if out.spec.Name != "hello" || len(out.spec.Audience) != 1 || out.spec.Audience[0] != "alice" {
		t.Fatalf("published %+v", out.spec)
	}
	out.next(t)
	clock.waitArmed(t, clock.Now().Add(20*time.Millisecond))
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if !out.isClosed() {
		t.Fatal("Close returned with the output open")
	}
	waitDone(t, a)
	noFrameYet(t, out)
	if st := a.Stats(); st["state"] != "stopped" || st["frames_sent"] != uint64(1) {
		t.Fatalf("stats %v", st)
	}
	if err := a.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
}

// TestAnnounceStall: a packet that goes out late moves the rest later
// instead of bursting what was missed.
func TestAnnounceStall(t *testing.T) {
	clock := newFakeClock()
	call := newAnnounceCall(clock)
	sound, err := ParseOggOpus(oggOpusFile(t, celt20(1), celt20(2), celt20(3), celt20(4)))
	if err != nil {
		t.Fatal(err)
	}
	start := clock.Now()
	a := startAnnounce(t, AnnounceConfig{Sound: sound, Clock: clock}, call)
	out := call.nextOutput(t)
	out.next(t)
	clock.waitArmed(t, start.Add(20*time.Millisecond))
	late := start.Add(time.Second)
	clock.Set(late) // packet 1 due at 20 ms goes out at 1 s
	if w := out.next(t); !w.at.Equal(late) {
		t.Fatalf("packet 1 at %v", w.at.Sub(start))
	}
	clock.waitArmed(t, late.Add(20*time.Millisecond)) // not at 40 ms: no burst
	noFrameYet(t, out)
	clock.Set(late.Add(20 * time.Millisecond))
	out.next(t)
	clock.waitArmed(t, late.Add(40*time.Millisecond))
	clock.Set(late.Add(50 * time.Millisecond)) // 10 ms late: kept on schedule
	out.next(t)
	clock.waitArmed(t, late.Add(60*time.Millisecond)) // the end, 80 ms after the moved start
	clock.Set(late.Add(60 * time.Millisecond))
	waitDone(t, a)
}

// TestAnnounceLoad: Load is called when the feature starts, and whatever
// goes wrong ends the announcement with its reason, publishing nothing.
func TestAnnounceLoad(t *testing.T) {
	file := oggOpusFile(t, celt20(1))
	for _, tc := range []struct {
		name    string
		load    func(context.Context) ([]byte, error)
		max     int64
		publish error
		want    string // in the reason; "" when it plays
	}{
		{name: "plays", load: func(context.Context) ([]byte, error) { return file, nil }},
		{name: "load fails", load: func(context.Context) ([]byte, error) { return nil, ErrUnknownSound }, want: "unknown sound"},
		{name: "not ogg", load: func(context.Context) ([]byte, error) { return []byte("RIFF"), nil }, want: "bad ogg"},
		{name: "too large", load: func(context.Context) ([]byte, error) { return file, nil }, max: 10, want: "too large"},
		{name: "publish fails", load: func(context.Context) ([]byte, error) { return file, nil }, publish: ErrClosed, want: "publish"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			call := newAnnounceCall(clock)
			call.err = tc.publish
			a := startAnnounce(t, AnnounceConfig{Load: tc.load, MaxBytes: tc.max, Clock: clock}, call)
			if tc.want == "" {
				out := call.nextOutput(t)
				out.next(t)
				clock.waitArmed(t, clock.Now().Add(20*time.Millisecond))
				clock.Set(clock.Now().Add(20 * time.Millisecond))
				out.waitClosed(t)
			}
			waitDone(t, a)
			st := a.Stats()
			reason, _ := st["reason"].(string)
			if tc.want == "" && st["state"] != "finished" || tc.want != "" && (st["state"] != "failed" || !strings.Contains(reason, tc.want)) {
				t.Fatalf("stats %v, want the reason to say %q", st, tc.want)
			}
			if tc.want != "" && len(call.published) > 0 {
				t.Fatal("a failed announcement published")
			}
		})
	}
}

// TestAnnounceCloseWhileLoading: Close cancels a Load in progress.
func TestAnnounceCloseWhileLoading(t *testing.T) {
	loading := make(chan struct{})
	load := func(ctx context.Context) ([]byte, error) {
		close(loading)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	call := newAnnounceCall(newFakeClock())
	a := startAnnounce(t, AnnounceConfig{Load: load}, call)
	recv(t, loading, "Load was not called")
	a.Close()
	waitDone(t, a)
	if st := a.Stats(); st["state"] != "stopped" {
		t.Fatalf("stats %v", st)
	}
}

// TestAnnounceOutputEnds: an output that ends (the call did) ends the
// announcement.
func TestAnnounceOutputEnds(t *testing.T) {
	clock := newFakeClock()
	call := newAnnounceCall(clock)
	sound, err := ParseOggOpus(oggOpusFile(t, celt20(1), celt20(2)))
	if err != nil {
		t.Fatal(err)
	}
	a := startAnnounce(t, AnnounceConfig{Sound: sound, Clock: clock}, call)
	out := call.nextOutput(t)
	out.next(t)
	out.setErr(ErrClosed)
	clock.waitArmed(t, clock.Now().Add(20*time.Millisecond))
	clock.Set(clock.Now().Add(20 * time.Millisecond))
	waitDone(t, a)
	if st := a.Stats(); st["state"] != "failed" || st["frames_sent"] != uint64(1) {
		t.Fatalf("stats %v", st)
	}
}

func TestNewAnnounceConfig(t *testing.T) {
	load := func(context.Context) ([]byte, error) { return nil, nil }
	for _, cfg := range []AnnounceConfig{{}, {Sound: &OpusSound{}, Load: load}, {Load: load, MaxBytes: -1}, {Load: load, MaxBytes: MaxSoundBytes + 1}} {
		if _, err := NewAnnounce(cfg); !errors.Is(err, ErrAnnounceConfig) {
			t.Errorf("NewAnnounce(%+v) = %v, want ErrAnnounceConfig", cfg, err)
		}
	}
	a, err := NewAnnounce(AnnounceConfig{Load: load})
	if err != nil || a.Name() != "announce" {
		t.Fatalf("NewAnnounce: %v, %v", a, err)
	}
	if _, err := a.Start(nil, nil); !errors.Is(err, ErrNoCall) {
		t.Fatalf("Start without a call: %v", err)
	}
}

// readyOutput is an output that goes live when ready is closed.
type readyOutput struct {
	*fakeOutput
	ready chan struct{}
}

func (o readyOutput) Ready() <-chan struct{} { return o.ready }

// readyCall publishes readyOutputs sharing one ready channel.
type readyCall struct {
	*announceCall
	ready chan struct{}
}

func (c readyCall) Publish(spec OutputSpec) (Output, error) {
	o, err := c.announceCall.Publish(spec)
	if err != nil {
		return nil, err
	}
	return readyOutput{o.(*fakeOutput), c.ready}, nil
}

// TestAnnounceWaitsForReady: with an output that says when it is live, the
// sound starts only then (frames written before would be lost), and from
// its beginning; past the bound it plays anyway.
func TestAnnounceWaitsForReady(t *testing.T) {
	clock := newFakeClock()
	call := readyCall{newAnnounceCall(clock), make(chan struct{})}
	packets := testSoundPackets()
	sound, err := ParseOggOpus(oggOpusFile(t, packets...))
	if err != nil {
		t.Fatal(err)
	}
	start := clock.Now()
	startAnnounce(t, AnnounceConfig{Sound: sound, Clock: clock}, call)
	out := call.nextOutput(t)
	clock.waitArmed(t, start.Add(maxAnnounceReadyWait))
	noFrameYet(t, out)
	close(call.ready)
	if w := out.next(t); !bytes.Equal(w.f.Data, packets[0]) {
		t.Fatalf("first frame after ready %x, want the sound's first %x", w.f.Data, packets[0])
	}

	// Never live: it plays once the wait is over.
	late := readyCall{newAnnounceCall(clock), make(chan struct{})}
	now := clock.Now()
	startAnnounce(t, AnnounceConfig{Sound: sound, Clock: clock}, late)
	out = late.nextOutput(t)
	clock.waitArmed(t, now.Add(maxAnnounceReadyWait))
	noFrameYet(t, out)
	clock.Set(now.Add(maxAnnounceReadyWait))
	if w := out.next(t); !bytes.Equal(w.f.Data, packets[0]) {
		t.Fatalf("first frame after the wait %x, want %x", w.f.Data, packets[0])
	}
}
