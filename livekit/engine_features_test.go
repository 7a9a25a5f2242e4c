package livekit_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	lkengine "github.com/switchboard-rtc/switchboard/livekit"
	"github.com/switchboard-rtc/switchboard/media"
	"github.com/switchboard-rtc/switchboard/membership"
)

// The one-off test feature's track and the tag of its frames.
const (
	announceTrack      = "test-announce"
	announceTag   byte = 'x'
)

// announce is a one-off test feature (a media.Finisher): it sends
// everyone peerFrame(announceTag, n) every 20 ms until finish, then its
// Done closes.
type announce struct {
	call   media.Call
	out    media.Output
	stop   chan struct{} // finish
	quit   chan struct{} // Close
	done   chan struct{}
	closes atomic.Int32
	once   sync.Once
	wg     sync.WaitGroup
}

func newAnnounce() *announce {
	return &announce{stop: make(chan struct{}), quit: make(chan struct{}), done: make(chan struct{})}
}

func (a *announce) Name() string { return announceTrack }

func (a *announce) Start(call media.Call, _ *slog.Logger) (media.Feature, error) {
	out, err := call.Publish(media.OutputSpec{Name: announceTrack, Kind: media.Audio, Codec: media.Opus})
	if err != nil {
		return nil, err
	}
	a.out = out
	a.wg.Go(func() {
		defer close(a.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for n := uint32(0); ; n++ {
			select {
			case <-a.stop:
				return
			case <-a.quit:
				return
			case <-tick.C:
			}
			_ = out.WriteFrame(media.Frame{Data: peerFrame(announceTag, n), RTPTime: n * 960, Duration: 20 * time.Millisecond})
		}
	})
	return a, nil
}

func (a *announce) finish()                             { close(a.stop) }
func (a *announce) Done() <-chan struct{}               { return a.done }
func (a *announce) SourceAdded(media.Source) media.Sink { return nil }

func (a *announce) Close() error {
	a.closes.Add(1)
	a.once.Do(func() { close(a.quit) })
	a.wg.Wait()
	return a.out.Close()
}

// watch counts a watched feature's starts and closes, and frames its sinks
// got after their own or their feature's close.
type watch struct {
	starts, closes, late atomic.Int32
}

// watchedFactory is a factory whose features the watch follows.
type watchedFactory struct {
	media.Factory
	w *watch
}

func (f watchedFactory) Start(call media.Call, logger *slog.Logger) (media.Feature, error) {
	feat, err := f.Factory.Start(call, logger)
	if err != nil {
		return nil, err
	}
	f.w.starts.Add(1)
	return &watchedFeature{Feature: feat, w: f.w}, nil
}

type watchedFeature struct {
	media.Feature
	w      *watch
	closed atomic.Bool
}

func (f *watchedFeature) SourceAdded(src media.Source) media.Sink {
	s := f.Feature.SourceAdded(src)
	if s == nil {
		return nil
	}
	return &watchedSink{Sink: s, f: f}
}

func (f *watchedFeature) Close() error {
	f.closed.Store(true)
	f.w.closes.Add(1)
	return f.Feature.Close()
}

type watchedSink struct {
	media.Sink
	f      *watchedFeature
	closed atomic.Bool
}

func (s *watchedSink) WriteFrame(fr media.Frame) {
	if s.closed.Load() || s.f.closed.Load() {
		s.f.w.late.Add(1)
	}
	s.Sink.WriteFrame(fr)
}

func (s *watchedSink) Close() {
	s.closed.Store(true)
	s.Sink.Close()
}

// gatedTokens holds every token request until open closes.
type gatedTokens struct {
	next  lkengine.Tokens
	asked chan struct{}
	open  chan struct{}
}

func (g *gatedTokens) Token(ctx context.Context, call membership.CallKey, focus membership.Focus) (lkengine.Join, error) {
	select {
	case g.asked <- struct{}{}:
	default:
	}
	select {
	case <-g.open:
	case <-ctx.Done():
		return lkengine.Join{}, ctx.Err()
	}
	return g.next.Token(ctx, call, focus)
}

func (r *rig) features() []string {
	s, _ := r.eng.Snapshot(r.call)
	return s.Features
}

// waitFeatures waits until the snapshot lists want (in order).
func (r *rig) waitFeatures(want ...string) {
	r.t.Helper()
	waitFor(r.t, 20*time.Second, "features "+strings.Join(want, ","), func() bool {
		return slices.Equal(r.features(), want)
	})
}

// expectAnnounced waits for n frames of the announce feature.
func expectAnnounced(t *testing.T, p *peer, n int) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for range n {
		select {
		case <-p.announced:
		case <-deadline:
			t.Fatalf("fewer than %d announced frames", n)
		}
	}
}

// waitGone waits until the peer loses a track of ours named with prefix.
func (p *peer) waitGone(prefix string) {
	p.t.Helper()
	p.await(p.gone, "our track "+prefix+"* go", func(name string) bool { return strings.HasPrefix(name, prefix) })
}

// TestEngineSetFeaturesWhileRunning: a call runs with no feature (our
// participant receives the peer's frames and sends nothing); SetFeatures
// with the echo starts it and the peer hears its frames back; the same set
// again restarts nothing; the empty set closes the echo (its sinks get no
// frame after their close), its track goes and the snapshot lists no
// feature; the echo set again starts a new one.
func TestEngineSetFeaturesWhileRunning(t *testing.T) {
	r := startRig(t, []media.Factory{}, nil)
	r.carry()
	p, _ := r.join("alice", 'a')
	waitFor(t, 30*time.Second, "the peer's frames reaching us", func() bool {
		s, _ := r.eng.Snapshot(r.call)
		return len(s.Participants) == 1 && s.Participants[0].FramesIn > 0
	})
	if s, _ := r.eng.Snapshot(r.call); len(s.Features) != 0 || len(s.Outputs) != 0 {
		t.Fatalf("features %v outputs %v with no feature set", s.Features, s.Outputs)
	}

	w := &watch{}
	echo := watchedFactory{echoFactory{}, w}
	r.eng.SetFeatures(r.call, []media.Factory{echo})
	last := expectEcho(t, p, 25, -1, 0)
	r.eng.SetFeatures(r.call, []media.Factory{echo})
	last = expectEcho(t, p, 10, int64(last), 0)
	if got := r.features(); !slices.Equal(got, []string{"test-echo"}) || w.starts.Load() != 1 {
		t.Errorf("features %v, %d starts; want the echo, started once", got, w.starts.Load())
	}

	r.eng.SetFeatures(r.call, nil)
	waitFor(t, 20*time.Second, "the echo's close", func() bool { return w.closes.Load() == 1 })
	p.waitGone("echo-")
	r.waitFeatures()
	waitFor(t, 20*time.Second, "our echo track unpublished", func() bool {
		s, _ := r.eng.Snapshot(r.call)
		return len(s.Outputs) == 0
	})

	r.eng.SetFeatures(r.call, []media.Factory{echo})
	expectEcho(t, p, 25, int64(max(last, p.sentSoFar())), 0)
	if w.starts.Load() != 2 || w.closes.Load() != 1 || w.late.Load() != 0 {
		t.Errorf("%d starts, %d closes, %d frames after a close; want 2, 1, 0", w.starts.Load(), w.closes.Load(), w.late.Load())
	}
	p.checkClean()
}

// TestEngineOneOffFeature: a one-off feature runs beside the echo (the
// peer gets both, the snapshot lists both); when its Done closes the
// engine closes it once, its track goes and the echo goes on; a second
// one-off still running is closed when the call is released; an unknown
// call is refused with media.ErrCallNotCarried.
func TestEngineOneOffFeature(t *testing.T) {
	r := newRig(t)
	r.carry()
	p, _ := r.join("alice", 'a')
	last := expectEcho(t, p, 10, -1, 0)

	ann := newAnnounce()
	must(t, r.eng.StartFeature(r.call, ann))
	expectAnnounced(t, p, 10)
	if got := r.features(); !slices.Equal(got, []string{"test-echo", announceTrack}) {
		t.Errorf("features %v while the one-off runs", got)
	}
	r.eng.SetFeatures(r.call, []media.Factory{echoFactory{}}) // the set does not drop it
	ann.finish()
	waitFor(t, 20*time.Second, "the finished one-off's close", func() bool { return ann.closes.Load() == 1 })
	p.waitGone(announceTrack)
	r.waitFeatures("test-echo")
	expectEcho(t, p, 10, int64(max(last, p.sentSoFar())), 0)

	again := newAnnounce()
	must(t, r.eng.StartFeature(r.call, again))
	expectAnnounced(t, p, 5)
	r.eng.Release(r.call)
	waitFor(t, 20*time.Second, "the one-off closed with the call", func() bool { return again.closes.Load() == 1 })
	if n := ann.closes.Load(); n != 1 {
		t.Errorf("the first one-off closed %d times", n)
	}
	err := r.eng.StartFeature(r.call, newAnnounce())
	if !errors.Is(err, media.ErrCallNotCarried) {
		t.Errorf("StartFeature on a released call: %v", err)
	}
	p.checkClean()
}

// TestEngineFeaturesBeforeConnection: the set and a one-off given while
// the call is still connecting (its token held back) take effect when it
// connects, and the set given at Carry before them never starts.
func TestEngineFeaturesBeforeConnection(t *testing.T) {
	gate := &gatedTokens{asked: make(chan struct{}, 8), open: make(chan struct{})}
	initial, w := &watch{}, &watch{}
	r := startRig(t, []media.Factory{watchedFactory{echoFactory{}, initial}}, func(next lkengine.Tokens) lkengine.Tokens {
		gate.next = next
		return gate
	})
	r.carry()
	select {
	case <-gate.asked:
	case <-time.After(20 * time.Second):
		t.Fatal("no token request")
	}
	r.eng.SetFeatures(r.call, []media.Factory{watchedFactory{echoFactory{}, w}})
	ann := newAnnounce()
	must(t, r.eng.StartFeature(r.call, ann))
	if s := r.eng.CallState(r.call); s != lkengine.StateConnecting {
		t.Fatalf("call %q before its token", s)
	}
	close(gate.open)
	p, _ := r.join("alice", 'a')
	expectEcho(t, p, 10, -1, 0)
	expectAnnounced(t, p, 5)
	if w.starts.Load() != 1 || initial.starts.Load() != 0 {
		t.Errorf("the set's echo started %d times, the function's %d; want 1, 0", w.starts.Load(), initial.starts.Load())
	}
	p.checkClean()
}
