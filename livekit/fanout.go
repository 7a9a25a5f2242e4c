package livekit

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/switchboard-rtc/switchboard/media"
)

// fanout is one remote track's sinks, one per feature that took the track.
// The reader writes each frame to the current list without a lock; the
// participant's goroutine replaces the list (a new, immutable one) when a
// feature starts or stops, and then waits out the frame being written, if
// any, before it closes a dropped sink: no WriteFrame follows that.
type fanout struct {
	list atomic.Pointer[sinkList] // ended once the reader has closed its sinks

	// seq is odd while the reader writes a frame to a list it loaded.
	seq     atomic.Uint64
	waiters atomic.Int32
	mu      sync.Mutex
	passed  *sync.Cond // on mu: seq moved on
}

// sinkList is an immutable fan-out list.
type sinkList struct {
	sinks []featureSink
}

// featureSink is one feature's sink for a track.
type featureSink struct {
	feat *media.RunningFeature
	sink media.Sink
}

// endedList marks a fan-out whose reader has ended and closed its sinks.
var endedList = &sinkList{}

func newFanout(sinks []featureSink) *fanout {
	f := &fanout{}
	f.passed = sync.NewCond(&f.mu)
	f.list.Store(&sinkList{sinks: sinks})
	return f
}

// write gives f to every current sink (the reader's, per frame: no lock,
// no allocation).
func (f *fanout) write(fr media.Frame) {
	f.seq.Add(1)
	for _, s := range f.list.Load().sinks {
		s.sink.WriteFrame(fr)
	}
	f.leave()
}

func (f *fanout) leave() {
	f.seq.Add(1)
	if f.waiters.Load() != 0 {
		f.mu.Lock()
		f.passed.Broadcast()
		f.mu.Unlock()
	}
}

// end closes every sink (the reader's, once its track has ended); the
// participant's goroutine adds and removes no more.
func (f *fanout) end() {
	f.seq.Add(1)
	l := f.list.Swap(endedList)
	for _, s := range l.sinks {
		s.sink.Close()
	}
	f.leave()
}

// add appends feat's sink (the participant's goroutine); false when the
// reader has ended, and the caller closes the sink.
func (f *fanout) add(feat *media.RunningFeature, sink media.Sink) bool {
	old := f.list.Load()
	if old == endedList {
		return false
	}
	l := &sinkList{sinks: append(slices.Clip(old.sinks), featureSink{feat, sink})}
	return f.list.CompareAndSwap(old, l)
}

// remove takes feat's sink out of the list (the participant's goroutine);
// nil when it has none or the reader has ended (and closed it). The caller
// calls pass before it closes the sink.
func (f *fanout) remove(feat *media.RunningFeature) media.Sink {
	old := f.list.Load()
	i := slices.IndexFunc(old.sinks, func(s featureSink) bool { return s.feat == feat })
	if i < 0 {
		return nil
	}
	l := &sinkList{sinks: slices.Delete(slices.Clone(old.sinks), i, i+1)}
	if !f.list.CompareAndSwap(old, l) {
		return nil
	}
	return old.sinks[i].sink
}

// pass returns once the reader is past the frame it was writing, if any,
// when called: a list replaced before is not written to any more. It
// waits for an ending reader to close its sinks too.
func (f *fanout) pass() {
	s := f.seq.Load()
	if s%2 == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waiters.Add(1)
	defer f.waiters.Add(-1)
	for f.seq.Load() == s {
		f.passed.Wait()
	}
}

// has reports whether feat has a sink here (the participant's goroutine).
func (f *fanout) has(feat *media.RunningFeature) bool {
	return slices.ContainsFunc(f.list.Load().sinks, func(s featureSink) bool { return s.feat == feat })
}
