package livekit

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/media"
)

// blockingSink holds each frame until released.
type blockingSink struct {
	entered  chan struct{}
	release  chan struct{}
	finished atomic.Bool
	frames   atomic.Int32
}

func (s *blockingSink) WriteFrame(media.Frame) {
	s.entered <- struct{}{}
	<-s.release
	s.frames.Add(1)
	s.finished.Store(true)
}

func (s *blockingSink) Close() {}

// TestFanoutPassWaitsForWrite: a sink taken out of the fan-out while the
// reader is writing a frame to it gets no frame after pass returns, and
// pass returns only once that write is over.
func TestFanoutPassWaitsForWrite(t *testing.T) {
	feat := &media.RunningFeature{}
	sink := &blockingSink{entered: make(chan struct{}), release: make(chan struct{})}
	fan := newFanout([]featureSink{{feat, sink}})
	var writer sync.WaitGroup
	writer.Go(func() { fan.write(media.Frame{}) })
	<-sink.entered
	if got := fan.remove(feat); got != sink {
		t.Fatalf("remove gave %v", got)
	}
	passed := make(chan bool)
	go func() {
		fan.pass()
		passed <- sink.finished.Load()
	}()
	deadline := time.Now().Add(20 * time.Second)
	for fan.waiters.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("pass did not wait for the frame being written")
		}
		time.Sleep(time.Millisecond)
	}
	close(sink.release)
	if !<-passed {
		t.Error("pass returned before the frame being written was")
	}
	writer.Wait()
	fan.write(media.Frame{})
	if n := sink.frames.Load(); n != 1 {
		t.Errorf("the removed sink got %d frames, want 1", n)
	}
	fan.end()
	if fan.remove(feat) != nil || fan.add(feat, sink) {
		t.Error("an ended fan-out took a change")
	}
}

// TestFanoutChurn: features come and go while the reader writes frames
// and its track ends; no sink gets a frame after its close or two closes
// (run with -race).
func TestFanoutChurn(t *testing.T) {
	l := newLedger()
	var feats []*media.RunningFeature
	var tfs []*testFeature
	var sinks []featureSink
	for i := range 3 {
		tf := &testFeature{f: testFactory{name: string(rune('a' + i)), l: l}}
		f := &media.RunningFeature{}
		feats, tfs = append(feats, f), append(tfs, tf)
		sinks = append(sinks, featureSink{f, tf.SourceAdded(media.Source{ID: "s"})})
	}
	fan := newFanout(sinks)
	stop := make(chan struct{})
	var writer sync.WaitGroup
	writer.Go(func() {
		for {
			select {
			case <-stop:
				fan.end()
				return
			default:
				fan.write(media.Frame{})
			}
		}
	})
	for i := range 300 {
		if i == 250 {
			close(stop)
		}
		f, tf := feats[i%len(feats)], tfs[i%len(feats)]
		if s := fan.remove(f); s != nil {
			fan.pass()
			s.Close()
		} else if !fan.add(f, tf.SourceAdded(media.Source{ID: "s"})) {
			break
		}
	}
	writer.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.breaches) > 0 {
		t.Error(l.breaches)
	}
}

type nopSink struct{ n *int }

func (s nopSink) WriteFrame(media.Frame) { *s.n++ }
func (nopSink) Close()                   {}

// TestFanoutWriteAllocs: a frame goes to the sinks without allocating.
func TestFanoutWriteAllocs(t *testing.T) {
	var n int
	fan := newFanout([]featureSink{{&media.RunningFeature{}, nopSink{&n}}, {&media.RunningFeature{}, nopSink{&n}}})
	fr := media.Frame{Data: make([]byte, 60), Duration: 20 * time.Millisecond}
	if a := testing.AllocsPerRun(1000, func() { fan.write(fr) }); a != 0 {
		t.Errorf("%v allocations per frame", a)
	}
}

// BenchmarkFanoutWrite is a reader's per-frame cost of handing a frame to
// two features.
func BenchmarkFanoutWrite(b *testing.B) {
	var n int
	fan := newFanout([]featureSink{{&media.RunningFeature{}, nopSink{&n}}, {&media.RunningFeature{}, nopSink{&n}}})
	fr := media.Frame{Data: make([]byte, 60), Duration: 20 * time.Millisecond}
	b.ReportAllocs()
	for b.Loop() {
		fan.write(fr)
	}
}
