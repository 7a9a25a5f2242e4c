package mesh

import (
	"slices"
	"sync"

	"github.com/switchboard-rtc/switchboard/media"
)

// feature is a running media feature of a call: one of its set (by name)
// or a one-off.
type feature struct {
	name   string
	f      media.Feature
	oneOff bool
	gone   chan struct{} // closed when the engine stops it
}

// featureSet is the owner's: the call's set and what finished.
type featureSet struct {
	want     []media.Factory
	ended    map[string]bool // set features that finished on their own
	closing  sync.WaitGroup
	watching sync.WaitGroup
}

// setFeatures applies a new set: names no longer listed stop, new ones
// start, running ones go on.
func (c *meshCall) setFeatures(fs []media.Factory) {
	c.feats.want = fs
	wanted := map[string]bool{}
	for _, f := range fs {
		wanted[f.Name()] = true
	}
	m := &c.media
	m.mu.Lock()
	running := slices.Clone(m.running)
	m.mu.Unlock()
	for _, f := range running {
		if !f.oneOff && !wanted[f.name] {
			c.stopFeature(f)
		}
	}
	for name := range c.feats.ended {
		if !wanted[name] {
			delete(c.feats.ended, name)
		}
	}
	for _, fac := range fs {
		if !c.feats.ended[fac.Name()] &&
			!slices.ContainsFunc(running, func(r *feature) bool { return !r.oneOff && r.name == fac.Name() }) {
			c.startFeature(fac, false)
		}
	}
}

// startFeature starts fac on the call and offers it the current sources;
// a Finisher is stopped once done.
func (c *meshCall) startFeature(fac media.Factory, oneOff bool) {
	name := fac.Name()
	feat, err := fac.Start(&c.media, c.log.With("feature", name))
	if err != nil {
		c.log.Error("media feature did not start", "feature", name, "err", err)
		return
	}
	f := &feature{name: name, f: feat, oneOff: oneOff, gone: make(chan struct{})}
	m := &c.media
	var refused []media.Sink
	m.mu.Lock()
	m.running = append(m.running, f)
	for _, s := range m.sources {
		if sink := feat.SourceAdded(s.src); sink != nil && !s.add(f, sink) {
			refused = append(refused, sink) // the source ended meanwhile
		}
	}
	m.mu.Unlock()
	for _, s := range refused {
		s.Close()
	}
	if fin, ok := feat.(media.Finisher); ok {
		done := fin.Done()
		c.feats.watching.Go(func() {
			select {
			case <-done:
				c.post(func() { c.featureFinished(f) })
			case <-f.gone:
			case <-c.ctx.Done():
			}
		})
	}
}

func (c *meshCall) featureFinished(f *feature) {
	select {
	case <-f.gone:
		return
	default:
	}
	c.stopFeature(f)
	if !f.oneOff {
		c.feats.ended[f.name] = true
	}
}

// stopFeature takes f's sinks out of every source and, in a goroutine
// of its own (a recorder may take a while), closes them and then f.
func (c *meshCall) stopFeature(f *feature) {
	close(f.gone)
	m := &c.media
	var sinks []media.Sink
	m.mu.Lock()
	m.running = slices.DeleteFunc(m.running, func(r *feature) bool { return r == f })
	for _, s := range m.sources {
		if sink := s.remove(f); sink != nil {
			sinks = append(sinks, sink)
		}
	}
	m.mu.Unlock()
	c.feats.closing.Go(func() {
		for _, s := range sinks {
			s.Close()
		}
		c.closeFeature(f)
	})
}

func (c *meshCall) closeFeature(f *feature) {
	if err := f.f.Close(); err != nil {
		c.log.Warn("media feature did not close cleanly", "feature", f.name, "err", err)
	}
}

// closeFeatures closes every feature (the call has ended; the peers and
// so the sources have, closing their sinks).
func (c *meshCall) closeFeatures() {
	m := &c.media
	m.mu.Lock()
	running := m.running
	m.running = nil
	m.mu.Unlock()
	for _, f := range running {
		close(f.gone)
		c.closeFeature(f)
	}
	c.feats.closing.Wait()
	c.feats.watching.Wait()
}

// features lists the running features and the counters of those that
// report some (the admin view).
func (m *callMedia) features() ([]string, map[string]map[string]any) {
	m.mu.Lock()
	names := make([]string, 0, len(m.running))
	reporters := map[string]media.StatsReporter{}
	for _, f := range m.running {
		names = append(names, f.name)
		if r, ok := f.f.(media.StatsReporter); ok {
			reporters[f.name] = r
		}
	}
	m.mu.Unlock()
	var stats map[string]map[string]any
	for name, r := range reporters {
		if stats == nil {
			stats = map[string]map[string]any{}
		}
		stats[name] = r.Stats()
	}
	return names, stats
}
