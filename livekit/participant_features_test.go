package livekit

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/media"
	"github.com/switchboard-rtc/switchboard/membership"
)

// ledger records what the engine does to test features and their sinks,
// and every breach of the media contract: a frame after the sink's or the
// feature's Close, a second Close.
type ledger struct {
	mu       sync.Mutex
	started  map[string]int
	closed   map[string]int
	frames   map[string]int // by "feature/source"
	offered  []string       // "feature/source"
	breaches []string
}

func newLedger() *ledger {
	return &ledger{started: map[string]int{}, closed: map[string]int{}, frames: map[string]int{}}
}

func (l *ledger) breach(format string, args ...any) {
	l.breaches = append(l.breaches, fmt.Sprintf(format, args...))
}

func (l *ledger) get(m map[string]int, k string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return m[k]
}

// testFactory starts a feature named name whose sinks count frames; with
// finisher, the feature is a media.Finisher whose Done is done.
type testFactory struct {
	name string
	l    *ledger
	done chan struct{}
}

func (f testFactory) Name() string { return f.name }

func (f testFactory) Start(media.Call, *slog.Logger) (media.Feature, error) {
	f.l.mu.Lock()
	f.l.started[f.name]++
	f.l.mu.Unlock()
	tf := &testFeature{f: f}
	if f.done != nil {
		return &finishingFeature{tf}, nil
	}
	return tf, nil
}

type testFeature struct {
	f      testFactory
	closed bool // under the ledger's lock
}

type finishingFeature struct{ *testFeature }

func (f *finishingFeature) Done() <-chan struct{} { return f.f.done }

func (t *testFeature) SourceAdded(src media.Source) media.Sink {
	l := t.f.l
	l.mu.Lock()
	defer l.mu.Unlock()
	key := t.f.name + "/" + src.ID
	if t.closed {
		l.breach("%s offered after the feature closed", key)
	}
	l.offered = append(l.offered, key)
	return &testSink{feat: t, key: key}
}

func (t *testFeature) Close() error {
	l := t.f.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.closed {
		l.breach("%s closed twice", t.f.name)
	}
	t.closed = true
	l.closed[t.f.name]++
	return nil
}

type testSink struct {
	feat   *testFeature
	key    string
	closed bool
}

func (s *testSink) WriteFrame(media.Frame) {
	l := s.feat.f.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.closed || s.feat.closed {
		l.breach("frame to %s after a close (sink %v, feature %v)", s.key, s.closed, s.feat.closed)
	}
	l.frames[s.key]++
}

func (s *testSink) Close() {
	l := s.feat.f.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.closed || s.feat.closed {
		l.breach("sink %s closed again or after its feature (%v, %v)", s.key, s.closed, s.feat.closed)
	}
	s.closed = true
	l.closed[s.key]++
}

// ownerRig drives a participant's feature handling from the test, which
// plays its goroutine: no LiveKit, a connection with hand-made sources.
type ownerRig struct {
	t *testing.T
	e *Engine
	p *participant
	c *conn
}

func newOwnerRig(t *testing.T, initial ...media.Factory) *ownerRig {
	call := membership.CallKey{Room: "!r:x", Application: "m.call"}
	e := New(EngineConfig{}, nil, nil, nil, nil)
	p := newParticipant(e, call, focusAt("https://a"))
	e.calls[call] = p
	if len(initial) > 0 {
		e.SetFeatures(call, initial)
	}
	t.Cleanup(p.stop)
	return &ownerRig{t: t, e: e, p: p, c: &conn{}}
}

// source adds a remote track to the connection.
func (o *ownerRig) source(id string) *reader {
	r := &reader{src: media.Source{Participant: "@a:x:D", ID: id, Kind: media.Audio, Codec: media.Opus}}
	o.p.offer(o.c, r)
	return r
}

// apply lets the participant take what the engine's callers posted.
func (o *ownerRig) apply(connected bool) {
	select {
	case <-o.p.inbox.ready:
	default:
	}
	if connected {
		o.p.applyFeatures(o.c)
	} else {
		o.p.applyFeatures(nil)
	}
	o.p.feats.Settle()
}

func (o *ownerRig) features() []string {
	s, _ := o.e.Snapshot(o.p.call)
	return s.Features
}

func (o *ownerRig) check(what string, got, want int) {
	o.t.Helper()
	if got != want {
		o.t.Errorf("%s: %d, want %d", what, got, want)
	}
}

// TestSetFeaturesDiff: the first set starts on connection; a new
// set keeps the features it names by name (not restarted), starts the new
// ones, each offered the sources already there and their frames from then
// on, and stops those it drops: no frame after, their sinks closed, then
// they, once each; later sources go to the current set only.
func TestSetFeaturesDiff(t *testing.T) {
	leakcheck.Check(t)
	l := newLedger()
	a, b := testFactory{name: "a", l: l}, testFactory{name: "b", l: l}
	o := newOwnerRig(t, a)
	o.apply(true)
	s1 := o.source("s1")
	s1.fan.write(media.Frame{})
	o.check("a's frames of s1", l.get(l.frames, "a/s1"), 1)

	o.e.SetFeatures(o.p.call, []media.Factory{testFactory{name: "a", l: l}, b})
	o.apply(true)
	s1.fan.write(media.Frame{})
	o.check("a's starts", l.get(l.started, "a"), 1)
	o.check("a's frames of s1", l.get(l.frames, "a/s1"), 2)
	o.check("b's frames of s1", l.get(l.frames, "b/s1"), 1)
	if got := o.features(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("snapshot features %v", got)
	}

	o.e.SetFeatures(o.p.call, []media.Factory{b})
	o.apply(true)
	o.check("a's sink closes", l.get(l.closed, "a/s1"), 1)
	o.check("a's closes", l.get(l.closed, "a"), 1)
	s1.fan.write(media.Frame{})
	o.check("a's frames of s1", l.get(l.frames, "a/s1"), 2)
	o.check("b's frames of s1", l.get(l.frames, "b/s1"), 2)
	if got := o.features(); !slices.Equal(got, []string{"b"}) {
		t.Errorf("snapshot features %v", got)
	}

	s1.fan.end()
	s2 := o.source("s2")
	s2.fan.write(media.Frame{})
	s2.fan.end()
	o.p.closeFeatures()
	l.mu.Lock()
	defer l.mu.Unlock()
	if want := []string{"a/s1", "b/s1", "b/s2"}; !slices.Equal(l.offered, want) {
		t.Errorf("offered %v, want %v", l.offered, want)
	}
	for _, k := range []string{"a", "b", "a/s1", "b/s1", "b/s2"} {
		if l.closed[k] != 1 {
			t.Errorf("%s closed %d times", k, l.closed[k])
		}
	}
	if l.frames["b/s2"] != 1 || len(l.breaches) > 0 {
		t.Errorf("b's frames of s2 %d; breaches %v", l.frames["b/s2"], l.breaches)
	}
}

// TestSetFeaturesBeforeConnection: a set given before the call connects
// replaces the one given before it and starts on connection; one taken away while
// disconnected stops at once.
func TestSetFeaturesBeforeConnection(t *testing.T) {
	leakcheck.Check(t)
	l := newLedger()
	o := newOwnerRig(t, testFactory{name: "initial", l: l})
	o.e.SetFeatures(o.p.call, []media.Factory{testFactory{name: "b", l: l}})
	o.apply(false)
	o.check("b's starts before connecting", l.get(l.started, "b"), 0)
	o.apply(true)
	o.check("b's starts", l.get(l.started, "b"), 1)
	o.check("the initial set's starts", l.get(l.started, "initial"), 0)

	o.e.SetFeatures(o.p.call, nil)
	o.apply(false)
	o.check("b's closes while disconnected", l.get(l.closed, "b"), 1)
	o.p.closeFeatures()
	if len(l.breaches) > 0 {
		t.Error(l.breaches)
	}
	o.e.SetFeatures(membership.CallKey{Room: "!unknown:x"}, nil) // ignored
}

// TestStartFeatureFinishes: a one-off feature asked for before the call
// connects starts on connection beside the set, gets the sources, is never
// dropped by a new set, and once its Done closes it loses its sinks and is
// closed (once); an unknown call is refused with media.ErrCallNotCarried.
func TestStartFeatureFinishes(t *testing.T) {
	leakcheck.Check(t)
	l := newLedger()
	o := newOwnerRig(t, testFactory{name: "a", l: l})
	one := testFactory{name: "one", l: l, done: make(chan struct{})}
	if err := o.e.StartFeature(o.p.call, one); err != nil {
		t.Fatal(err)
	}
	o.apply(false)
	o.check("one's starts before connecting", l.get(l.started, "one"), 0)
	o.apply(true)
	s1 := o.source("s1")
	o.e.SetFeatures(o.p.call, nil)
	o.apply(true)
	s1.fan.write(media.Frame{})
	o.check("one's frames", l.get(l.frames, "one/s1"), 1)
	if got := o.features(); !slices.Equal(got, []string{"one"}) {
		t.Errorf("snapshot features %v", got)
	}

	close(one.done)
	select {
	case <-o.p.inbox.ready: // the watch saw Done
	case <-time.After(20 * time.Second):
		t.Fatal("the one-off's end was not reported")
	}
	o.apply(true)
	o.check("one's sink closes", l.get(l.closed, "one/s1"), 1)
	o.check("one's closes", l.get(l.closed, "one"), 1)
	s1.fan.write(media.Frame{})
	o.check("one's frames", l.get(l.frames, "one/s1"), 1)
	if got := o.features(); len(got) != 0 {
		t.Errorf("snapshot features %v after the one-off finished", got)
	}
	s1.fan.end()
	o.p.closeFeatures()
	o.check("one's closes", l.get(l.closed, "one"), 1)
	if len(l.breaches) > 0 {
		t.Error(l.breaches)
	}

	err := o.e.StartFeature(membership.CallKey{Room: "!unknown:x"}, one)
	if !errors.Is(err, media.ErrCallNotCarried) {
		t.Errorf("StartFeature on an unknown call: %v", err)
	}
	if err := o.e.StartFeature(o.p.call, nil); !errors.Is(err, ErrNoFeature) {
		t.Errorf("StartFeature(nil): %v", err)
	}
}

// TestSetFeatureFinishes: a feature of the set that finishes on its own is
// closed and not started again by the same set; a set without it and then
// with it starts it anew.
func TestSetFeatureFinishes(t *testing.T) {
	leakcheck.Check(t)
	l := newLedger()
	o := newOwnerRig(t)
	fin := testFactory{name: "fin", l: l, done: make(chan struct{})}
	o.e.SetFeatures(o.p.call, []media.Factory{fin})
	o.apply(true)
	close(fin.done)
	select {
	case <-o.p.inbox.ready:
	case <-time.After(20 * time.Second):
		t.Fatal("the feature's end was not reported")
	}
	o.apply(true)
	o.check("fin's closes", l.get(l.closed, "fin"), 1)
	o.e.SetFeatures(o.p.call, []media.Factory{fin})
	o.apply(true)
	o.check("fin's starts, listed again", l.get(l.started, "fin"), 1)
	o.e.SetFeatures(o.p.call, nil)
	o.apply(true)
	again := testFactory{name: "fin", l: l}
	o.e.SetFeatures(o.p.call, []media.Factory{again})
	o.apply(true)
	o.check("fin's starts, left out and listed", l.get(l.started, "fin"), 2)
	o.p.closeFeatures()
	o.check("fin's closes", l.get(l.closed, "fin"), 2)
	if len(l.breaches) > 0 {
		t.Error(l.breaches)
	}
}
