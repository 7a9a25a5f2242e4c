package livekit

import (
	"slices"
	"sync"

	"github.com/switchboard-rtc/switchboard/media"
)

// featureInbox hands feature changes to the participant's goroutine: the
// latest set (latest wins), one-off features to start, and features whose
// Done closed.
type featureInbox struct {
	mu       sync.Mutex
	set      []media.Factory
	hasSet   bool
	oneOffs  []media.Factory
	finished []*media.RunningFeature
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

// featureChanges is what the inbox held.
type featureChanges struct {
	set      []media.Factory
	hasSet   bool
	oneOffs  []media.Factory
	finished []*media.RunningFeature
}

func (in *featureInbox) take() featureChanges {
	in.mu.Lock()
	defer in.mu.Unlock()
	ch := featureChanges{set: in.set, hasSet: in.hasSet, oneOffs: in.oneOffs, finished: in.finished}
	in.set, in.hasSet, in.oneOffs, in.finished = nil, false, nil, nil
	return ch
}

// applyFeatures takes the inbox's changes into the call's feature set:
// finished features and those no longer in the set stop, at once; new ones
// start when connected (c not nil), each offered the connection's current
// sources.
func (p *participant) applyFeatures(c *conn) {
	ch := p.inbox.take()
	p.fhost.c = c
	for _, f := range ch.finished {
		p.feats.Finish(f)
	}
	if ch.hasSet {
		p.feats.Want(ch.set)
	}
	for _, f := range ch.oneOffs {
		p.feats.Once(f)
	}
	p.feats.Apply(c != nil)
}

// featureHost attaches features to the readers of the participant's
// connection (media.FeatureHost); the participant's goroutine uses it.
type featureHost struct {
	p *participant
	c *conn // the current connection; nil between connections
}

var _ media.FeatureHost = (*featureHost)(nil)

func (h *featureHost) Attach(f *media.RunningFeature) {
	if h.c == nil {
		return
	}
	h.c.pruneSources()
	for _, r := range h.c.sources {
		if r.fan.has(f) {
			continue
		}
		if sink := f.Feature().SourceAdded(r.src); sink != nil && !r.fan.add(f, sink) {
			sink.Close() // the track ended meanwhile
		}
	}
}

// Detach takes f out of every reader's fan-out; its sinks are closed once
// each reader is past the frame it was writing.
func (h *featureHost) Detach(f *media.RunningFeature) func() {
	var fans []*fanout
	var sinks []media.Sink
	if h.c != nil {
		for _, r := range h.c.sources {
			fans = append(fans, r.fan)
			if s := r.fan.remove(f); s != nil {
				sinks = append(sinks, s)
			}
		}
	}
	return func() {
		for _, fan := range fans {
			fan.pass()
		}
		for _, s := range sinks {
			s.Close()
		}
	}
}

func (h *featureHost) Finished(f *media.RunningFeature) {
	h.p.inbox.post(func() { h.p.inbox.finished = append(h.p.inbox.finished, f) })
}

// closeFeatures closes every feature (the call is released; the readers
// have ended and closed their sinks) and then our outputs, which no
// feature writes any more.
func (p *participant) closeFeatures() {
	p.fhost.c = nil
	p.feats.Close()
	p.mu.Lock()
	outs := p.outputs
	p.outputs = nil
	p.mu.Unlock()
	for _, o := range outs {
		o.shut()
	}
}

// pruneSources forgets the readers that have ended.
func (c *conn) pruneSources() { c.sources = slices.DeleteFunc(c.sources, (*reader).ended) }
