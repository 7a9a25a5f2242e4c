package media

import (
	"log/slog"
	"slices"
	"sync"
)

// FeatureHost is an engine's side of a FeatureSet: how a feature's sinks
// join and leave the call's sources. The engines differ only there (how
// they fan a source's frames out); which features run is the set's.
type FeatureHost interface {
	// Attach offers f every current source of the call (f.Feature's
	// SourceAdded) and keeps the sinks it returns. A source that already
	// holds a sink of f is skipped: a source that appeared while f started
	// may have been offered it already, through Running.
	Attach(f *RunningFeature)
	// Detach takes f's sinks out of every source, so that no frame reaches
	// them any more. The function it returns closes them, after whatever
	// the engine must wait out; it runs off the owner's goroutine.
	Detach(f *RunningFeature) (closeSinks func())
	// Finished hands f, whose Finisher is done, back to the set's owner,
	// which calls FeatureSet.Finish. It is called from a goroutine of the
	// set's and must not block.
	Finished(f *RunningFeature)
}

// RunningFeature is a feature the set started: one of its set (kept by
// name) or a one-off.
type RunningFeature struct {
	name   string
	feat   Feature
	oneOff bool
	gone   chan struct{} // closed when the set stops it
}

// Name is the name of the factory that started the feature.
func (f *RunningFeature) Name() string { return f.name }

// Feature is the running feature itself.
func (f *RunningFeature) Feature() Feature { return f.feat }

// FeatureSet is the features of one call in one engine: the set the
// supervisor wants (by name), one-offs, and those that ended on their own.
// It is owned by the engine's goroutine for the call: every method but
// Running and Report is called from there only.
type FeatureSet struct {
	call Call
	host FeatureHost
	log  *slog.Logger

	want    []Factory
	wantSet bool // Want called: until then no set feature runs
	// ended names set features that finished on their own (Finisher): not
	// started again while they stay in the set.
	ended   map[string]bool
	oneOffs []Factory // waiting for the call to be live

	mu      sync.Mutex // guards running, which any goroutine may list
	running []*RunningFeature

	closing  sync.WaitGroup // stopped features' closes
	watching sync.WaitGroup // Finisher watches
}

// NewFeatureSet returns an empty set for call, whose features are started
// with call and logger.
func NewFeatureSet(call Call, host FeatureHost, logger *slog.Logger) *FeatureSet {
	return &FeatureSet{call: call, host: host, log: logger, ended: map[string]bool{}}
}

// Want replaces the wanted set; Apply makes it so.
func (s *FeatureSet) Want(fs []Factory) { s.want, s.wantSet = fs, true }

// Once queues a one-off feature; Apply starts it when the call is live.
func (s *FeatureSet) Once(f Factory) { s.oneOffs = append(s.oneOffs, f) }

// Apply stops the set features no longer wanted, at once, and, when the
// call is live, starts the wanted ones not running (nor ended) and the
// queued one-offs.
func (s *FeatureSet) Apply(live bool) {
	if s.wantSet {
		wanted := map[string]bool{}
		for _, f := range s.want {
			wanted[f.Name()] = true
		}
		for _, f := range s.Running() {
			if !f.oneOff && !wanted[f.name] {
				s.stop(f)
			}
		}
		for name := range s.ended {
			if !wanted[name] {
				delete(s.ended, name)
			}
		}
	}
	if !live {
		return
	}
	for _, fac := range s.want {
		if !s.ended[fac.Name()] && !s.runs(fac.Name()) {
			s.start(fac, false)
		}
	}
	for _, fac := range s.oneOffs {
		s.start(fac, true)
	}
	s.oneOffs = nil
}

// runs reports whether the set feature name runs.
func (s *FeatureSet) runs(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.running, func(r *RunningFeature) bool { return !r.oneOff && r.name == name })
}

// Finish stops f, whose Finisher is done (FeatureHost.Finished), unless it
// was stopped meanwhile; a set feature is not started again while it stays
// in the set.
func (s *FeatureSet) Finish(f *RunningFeature) {
	select {
	case <-f.gone:
		return
	default:
	}
	s.stop(f)
	if !f.oneOff {
		s.ended[f.name] = true
	}
}

func (s *FeatureSet) start(fac Factory, oneOff bool) {
	name := fac.Name()
	feat, err := fac.Start(s.call, s.log.With("feature", name))
	if err != nil {
		s.log.Error("media feature did not start", "feature", name, "err", err)
		return
	}
	f := &RunningFeature{name: name, feat: feat, oneOff: oneOff, gone: make(chan struct{})}
	s.mu.Lock()
	s.running = append(s.running, f)
	s.mu.Unlock()
	s.host.Attach(f)
	if fin, ok := feat.(Finisher); ok {
		done := fin.Done()
		s.watching.Go(func() {
			select {
			case <-done:
				s.host.Finished(f)
			case <-f.gone:
			}
		})
	}
}

// stop takes f out of the sources and, in a goroutine of its own (a
// recorder may take a while), closes its sinks and then f.
func (s *FeatureSet) stop(f *RunningFeature) {
	close(f.gone)
	s.mu.Lock()
	s.running = slices.DeleteFunc(s.running, func(r *RunningFeature) bool { return r == f })
	s.mu.Unlock()
	closeSinks := s.host.Detach(f)
	s.closing.Go(func() {
		closeSinks()
		s.closeFeature(f)
	})
}

func (s *FeatureSet) closeFeature(f *RunningFeature) {
	if err := f.feat.Close(); err != nil {
		s.log.Warn("media feature did not close cleanly", "feature", f.name, "err", err)
	}
}

// Settle returns once the features stopped so far have closed.
func (s *FeatureSet) Settle() { s.closing.Wait() }

// Close closes every feature once the call has ended (its sources have
// ended and closed their sinks) and returns when the features stopped
// before have closed too.
func (s *FeatureSet) Close() {
	s.mu.Lock()
	running := s.running
	s.running = nil
	s.mu.Unlock()
	for _, f := range running {
		close(f.gone)
		s.closeFeature(f)
	}
	s.closing.Wait()
	s.watching.Wait()
}

// Running lists the running features; any goroutine may call it.
func (s *FeatureSet) Running() []*RunningFeature {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.running)
}

// Report lists the running features' names and the counters of those that
// report some (admin views); any goroutine may call it.
func (s *FeatureSet) Report() ([]string, map[string]map[string]any) {
	running := s.Running()
	names := make([]string, 0, len(running))
	var stats map[string]map[string]any
	for _, f := range running {
		names = append(names, f.name)
		if r, ok := f.feat.(StatsReporter); ok {
			if stats == nil {
				stats = map[string]map[string]any{}
			}
			stats[f.name] = r.Stats()
		}
	}
	return names, stats
}
