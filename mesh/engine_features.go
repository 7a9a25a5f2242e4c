package mesh

import (
	"slices"

	"github.com/switchboard-rtc/switchboard/media"
)

// setFeatures applies a new set: names no longer listed stop, new ones
// start, running ones go on. The owner's.
func (c *meshCall) setFeatures(fs []media.Factory) {
	c.feats.Want(fs)
	c.feats.Apply(true)
}

// startFeature starts a one-off feature. The owner's.
func (c *meshCall) startFeature(fac media.Factory) {
	c.feats.Once(fac)
	c.feats.Apply(true)
}

// Attach offers f the call's current sources (media.FeatureHost).
func (m *callMedia) Attach(f *media.RunningFeature) {
	var refused []media.Sink
	m.mu.Lock()
	for _, s := range m.sources {
		if s.has(f) {
			continue // offered by sourceAdded, which saw f running
		}
		if sink := f.Feature().SourceAdded(s.src); sink != nil && !s.add(f, sink) {
			refused = append(refused, sink) // the source ended meanwhile
		}
	}
	m.mu.Unlock()
	for _, s := range refused {
		s.Close()
	}
}

// Detach takes f's sinks out of every source (media.FeatureHost): a
// source's lock is held while it writes a frame, so none reaches them after.
func (m *callMedia) Detach(f *media.RunningFeature) func() {
	var sinks []media.Sink
	m.mu.Lock()
	for _, s := range m.sources {
		if sink := s.remove(f); sink != nil {
			sinks = append(sinks, sink)
		}
	}
	m.mu.Unlock()
	return func() {
		for _, s := range sinks {
			s.Close()
		}
	}
}

// Finished hands a finished feature to the call's owner
// (media.FeatureHost); nothing once the call has ended.
func (m *callMedia) Finished(f *media.RunningFeature) {
	c := m.c
	c.post(func() { c.feats.Finish(f) })
}

// has reports whether f has a sink here.
func (s *source) has(f *media.RunningFeature) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.sinks, func(fs featureSink) bool { return fs.feat == f })
}
