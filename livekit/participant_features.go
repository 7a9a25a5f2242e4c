package livekit

import (
	"slices"
	"sync"

	"github.com/switchboard-rtc/switchboard/media"
)

// feature is a running media feature of the call: one of its set (by
// name, SetFeatures) or a one-off (StartFeature).
type feature struct {
	name    string
	f       media.Feature
	oneOff  bool
	gone    chan struct{} // closed when the engine stops the feature
	removed bool          // run's: stopped, or being closed
}

// featureInbox hands feature changes to the participant's goroutine: the
// latest set (latest wins), one-off features to start, and features whose
// Done closed.
type featureInbox struct {
	mu       sync.Mutex
	set      []media.Factory
	hasSet   bool
	oneOffs  []media.Factory
	finished []*feature
	ready    chan struct{} // 1-buffered: something waits
}

func newFeatureInbox() *featureInbox { return &featureInbox{ready: make(chan struct{}, 1)} }

func (in *featureInbox) post(add func()) {
	in.mu.Lock()
	add()
	in.mu.Unlock()
	select {
	case in.ready <- struct{}{}:
	default:
	}
}

func (in *featureInbox) setFeatures(fs []media.Factory) {
	in.post(func() { in.set, in.hasSet = fs, true })
}

func (in *featureInbox) startFeature(f media.Factory) {
	in.post(func() { in.oneOffs = append(in.oneOffs, f) })
}

func (in *featureInbox) finish(f *feature) {
	in.post(func() { in.finished = append(in.finished, f) })
}

// featureChanges is what the inbox held.
type featureChanges struct {
	set      []media.Factory
	hasSet   bool
	oneOffs  []media.Factory
	finished []*feature
}

func (in *featureInbox) take() featureChanges {
	in.mu.Lock()
	defer in.mu.Unlock()
	ch := featureChanges{set: in.set, hasSet: in.hasSet, oneOffs: in.oneOffs, finished: in.finished}
	in.set, in.hasSet, in.oneOffs, in.finished = nil, false, nil, nil
	return ch
}

// featureState is run's: the call's feature set and what runs.
type featureState struct {
	want    []media.Factory // the set
	wantSet bool            // false: SetFeatures not called yet: none run
	// ended names set features that finished on their own (Finisher): not
	// started again while they stay in the set.
	ended    map[string]bool
	oneOffs  []media.Factory // waiting for a connection
	running  []*feature
	closing  sync.WaitGroup // stopped features' closes
	watching sync.WaitGroup // Finisher watches
}

// applyFeatures takes the inbox's changes: finished features and those no
// longer in the set stop, at once; new ones start when connected (c not
// nil), each offered the connection's current sources.
func (p *participant) applyFeatures(c *conn) {
	fs := &p.feats
	ch := p.inbox.take()
	for _, f := range ch.finished {
		if !f.removed {
			p.stopFeature(c, f)
			if !f.oneOff {
				fs.ended[f.name] = true
			}
		}
	}
	if ch.hasSet {
		fs.want, fs.wantSet = ch.set, true
	}
	fs.oneOffs = append(fs.oneOffs, ch.oneOffs...)
	if fs.wantSet {
		wanted := map[string]bool{}
		for _, f := range fs.want {
			wanted[f.Name()] = true
		}
		for _, f := range slices.Clone(fs.running) {
			if !f.oneOff && !wanted[f.name] {
				p.stopFeature(c, f)
			}
		}
		for name := range fs.ended {
			if !wanted[name] {
				delete(fs.ended, name)
			}
		}
	}
	if c != nil {
		for _, f := range fs.want {
			if !fs.ended[f.Name()] && !slices.ContainsFunc(fs.running, func(r *feature) bool { return !r.oneOff && r.name == f.Name() }) {
				p.startFeature(c, f, false)
			}
		}
		for _, f := range fs.oneOffs {
			p.startFeature(c, f, true)
		}
		fs.oneOffs = nil
	}
	p.showFeatures()
}

// startFeature starts f and offers it c's current sources; a Finisher is
// watched so that it stops when done.
func (p *participant) startFeature(c *conn, fac media.Factory, oneOff bool) {
	name := fac.Name()
	feat, err := fac.Start(p, p.log.With("feature", name))
	if err != nil {
		p.log.Error("media feature did not start", "feature", name, "err", err)
		return
	}
	f := &feature{name: name, f: feat, oneOff: oneOff, gone: make(chan struct{})}
	p.feats.running = append(p.feats.running, f)
	c.sources = slices.DeleteFunc(c.sources, (*reader).ended)
	for _, r := range c.sources {
		if sink := feat.SourceAdded(r.src); sink != nil && !r.fan.add(f, sink) {
			sink.Close() // the track ended meanwhile
		}
	}
	if fin, ok := feat.(media.Finisher); ok {
		done := fin.Done()
		p.feats.watching.Go(func() {
			select {
			case <-done:
				p.inbox.finish(f)
			case <-f.gone:
			case <-p.ctx.Done():
			}
		})
	}
}

// stopFeature takes f out of every reader's fan-out and, in a goroutine of
// its own (a recorder may take a while), waits out the frames being
// written, closes f's sinks and then f.
func (p *participant) stopFeature(c *conn, f *feature) {
	f.removed = true
	close(f.gone)
	p.feats.running = slices.DeleteFunc(p.feats.running, func(r *feature) bool { return r == f })
	var fans []*fanout
	var sinks []media.Sink
	if c != nil {
		for _, r := range c.sources {
			fans = append(fans, r.fan)
			if s := r.fan.remove(f); s != nil {
				sinks = append(sinks, s)
			}
		}
	}
	p.feats.closing.Go(func() {
		for _, fan := range fans {
			fan.pass()
		}
		for _, s := range sinks {
			s.Close()
		}
		p.closeFeature(f)
	})
}

func (p *participant) closeFeature(f *feature) {
	if err := f.f.Close(); err != nil {
		p.log.Warn("media feature did not close cleanly", "feature", f.name, "err", err)
	}
}

// closeFeatures closes every feature (the call is released; the readers
// have ended and closed their sinks) and then our outputs, which no
// feature writes any more.
func (p *participant) closeFeatures() {
	p.feats.closing.Wait()
	for _, f := range p.feats.running {
		f.removed = true
		close(f.gone)
		p.closeFeature(f)
	}
	p.feats.running = nil
	p.feats.watching.Wait()
	p.showFeatures()
	p.mu.Lock()
	outs := p.outputs
	p.outputs = nil
	p.mu.Unlock()
	for _, o := range outs {
		o.shut()
	}
}

// showFeatures puts the running features in the snapshot.
func (p *participant) showFeatures() {
	var names []string
	reporters := map[string]media.StatsReporter{}
	for _, f := range p.feats.running {
		names = append(names, f.name)
		if r, ok := f.f.(media.StatsReporter); ok {
			reporters[f.name] = r
		}
	}
	p.mu.Lock()
	p.st.featureNames, p.st.reporters = names, reporters
	p.mu.Unlock()
}
