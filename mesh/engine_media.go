package mesh

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-rtc/switchboard/media"
)

// callMedia is a carried call as its features see it (media.Call): the
// remote devices' sources, offered to every running feature, and our
// outputs, each fanned out to the peers of its audience (those that come
// later too).
type callMedia struct {
	c       *meshCall
	metrics *Metrics

	mu      sync.Mutex
	closed  bool
	sources []*source
	// metadata is each peer's (by participant) last stream metadata: a
	// source that comes after it starts in the state it says.
	metadata map[string]StreamMetadata
	outputs  map[*fanOutput]struct{}
	wg       sync.WaitGroup // attaching outputs to peers, readiness watches
}

var (
	_ media.Call              = (*callMedia)(nil)
	_ media.KeyFrameRequester = (*callMedia)(nil)
)

// featureSink is one feature's sink for a source.
type featureSink struct {
	feat *media.RunningFeature
	sink media.Sink
}

// source is a remote device's stream: the sink the peer writes to, which
// passes each frame to the features' sinks. Its lock is held while a
// frame is written, so a sink taken out of it gets no frame after.
type source struct {
	m      *callMedia
	src    media.Source
	stream string
	frames atomic.Uint64

	mu    sync.Mutex
	sinks []featureSink
	ended bool
	muted bool // as the sender's stream metadata last said
}

// sourceAdded is the peers' OnSource: the source is offered to every
// running feature.
func (m *callMedia) sourceAdded(rs RemoteStream) media.Sink {
	s := &source{m: m, src: rs.Source, stream: rs.StreamID}
	s.src.Purpose = string(rs.Purpose)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.sources = append(m.sources, s)
	s.muted = mutedIn(m.metadata[s.src.Participant], s)
	for _, f := range m.c.feats.Running() {
		if sink := f.Feature().SourceAdded(s.src); sink != nil && !s.add(f, sink) {
			sink.Close() // not reached: the source has not ended
		}
	}
	return s
}

// mutedIn says whether md marks s's stream muted for s's kind.
func mutedIn(md StreamMetadata, s *source) bool {
	info, ok := md[s.stream]
	if s.src.Kind == media.Video {
		return ok && info.VideoMuted
	}
	return ok && info.AudioMuted
}

func (s *source) WriteFrame(f media.Frame) {
	s.frames.Add(1)
	s.m.metrics.frameIn()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fs := range s.sinks {
		fs.sink.WriteFrame(f)
	}
}

// metadataChanged is a peer's OnMetadata: each source of participant's
// whose mute state changed tells its sinks that can hear it (media.Muter).
func (m *callMedia) metadataChanged(participant string, md StreamMetadata) {
	m.mu.Lock()
	if m.metadata == nil {
		m.metadata = map[string]StreamMetadata{}
	}
	m.metadata[participant] = md
	var mine []*source
	for _, s := range m.sources {
		if s.src.Participant == participant {
			mine = append(mine, s)
		}
	}
	m.mu.Unlock()
	at := time.Now()
	for _, s := range mine {
		if _, listed := md[s.stream]; listed {
			s.setMuted(mutedIn(md, s), at)
		}
	}
}

// setMuted passes a change of the mute state to the sinks, in order with
// the frames (under the lock WriteFrame holds) and never after Close.
func (s *source) setMuted(muted bool, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || muted == s.muted {
		return
	}
	s.muted = muted
	for _, fs := range s.sinks {
		if mu, ok := fs.sink.(media.Muter); ok {
			mu.Muted(muted, at)
		}
	}
}

// Close: the track ended; its sinks are closed.
func (s *source) Close() {
	s.mu.Lock()
	sinks := s.sinks
	s.sinks, s.ended = nil, true
	s.mu.Unlock()
	for _, fs := range sinks {
		fs.sink.Close()
	}
	s.m.mu.Lock()
	s.m.sources = slices.DeleteFunc(s.m.sources, func(x *source) bool { return x == s })
	s.m.mu.Unlock()
}

// add gives the source a feature's sink; false once the source ended.
func (s *source) add(f *media.RunningFeature, sink media.Sink) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	s.sinks = append(s.sinks, featureSink{f, sink})
	if mu, ok := sink.(media.Muter); ok && s.muted { // a feature started during a mute
		mu.Muted(true, time.Now())
	}
	return true
}

// remove takes f's sink out (nil if it has none); no frame reaches it
// after.
func (s *source) remove(f *media.RunningFeature) media.Sink {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.sinks, func(fs featureSink) bool { return fs.feat == f })
	if i < 0 {
		return nil
	}
	sink := s.sinks[i].sink
	s.sinks = slices.Delete(s.sinks, i, i+1)
	return sink
}

// fanOutput is an output of ours: one peer output per peer of its
// audience.
type fanOutput struct {
	m     *callMedia
	spec  media.OutputSpec
	ready chan struct{}
	once  sync.Once

	mu     sync.Mutex
	closed bool
	outs   map[*peerEntry]media.Output
}

var _ media.Readier = (*fanOutput)(nil)

// Publish opens a stream of ours to the peers of spec's audience (all
// when empty), now and as they come.
func (m *callMedia) Publish(spec media.OutputSpec) (media.Output, error) {
	o := &fanOutput{m: m, spec: spec, ready: make(chan struct{}), outs: map[*peerEntry]media.Output{}}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, media.ErrClosed
	}
	if m.outputs == nil {
		m.outputs = map[*fanOutput]struct{}{}
	}
	m.outputs[o] = struct{}{}
	m.mu.Unlock()
	m.c.mu.Lock()
	peers := make([]*peerEntry, 0, len(m.c.peers))
	for _, pe := range m.c.peers {
		peers = append(peers, pe)
	}
	m.c.mu.Unlock()
	for _, pe := range peers {
		o.attach(pe)
	}
	return o, nil
}

// peerAdded attaches our outputs to a new peer (in goroutines: the peer's
// owner sets each up).
func (m *callMedia) peerAdded(pe *peerEntry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	for o := range m.outputs {
		m.wg.Go(func() { o.attach(pe) })
	}
}

func (o *fanOutput) wants(pe *peerEntry) bool {
	return len(o.spec.Audience) == 0 || slices.Contains(o.spec.Audience, pe.remote.Key())
}

// attach opens the output on pe's peer, once.
func (o *fanOutput) attach(pe *peerEntry) {
	if !o.wants(pe) {
		return
	}
	o.mu.Lock()
	_, has := o.outs[pe]
	o.mu.Unlock()
	if has {
		return
	}
	out, err := pe.peer.Publish(o.spec)
	if err != nil {
		if !errors.Is(err, ErrPeerEnded) {
			o.m.c.log.Warn("mesh: output not opened", "output", o.spec.Name, "peer", pe.remote.Key(), "err", err)
		}
		return
	}
	o.mu.Lock()
	if _, has := o.outs[pe]; has || o.closed {
		o.mu.Unlock()
		_ = out.Close()
		return
	}
	o.outs[pe] = out
	o.mu.Unlock()
	if r, ok := out.(media.Readier); ok {
		done := o.m.c.ctx.Done()
		o.m.wg.Go(func() {
			select {
			case <-r.Ready():
				o.once.Do(func() { close(o.ready) })
			case <-done:
			}
		})
	}
}

// Ready is closed once the output is live on a peer.
func (o *fanOutput) Ready() <-chan struct{} { return o.ready }

// WriteFrame sends f to every peer of the output; a peer whose call ended
// is forgotten.
func (o *fanOutput) WriteFrame(f media.Frame) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return media.ErrClosed
	}
	for pe, out := range o.outs {
		err := out.WriteFrame(f)
		if errors.Is(err, media.ErrClosed) {
			delete(o.outs, pe)
		}
		o.m.metrics.frameOut(err == nil)
	}
	return nil
}

// Close ends the output on every peer; idempotent.
func (o *fanOutput) Close() error {
	o.mu.Lock()
	outs := o.outs
	o.outs, o.closed = nil, true
	o.mu.Unlock()
	for _, out := range outs {
		_ = out.Close()
	}
	o.m.mu.Lock()
	delete(o.m.outputs, o)
	o.m.mu.Unlock()
	return nil
}

// RequestKeyFrame asks the source's sender for a key frame.
func (m *callMedia) RequestKeyFrame(src media.Source) {
	m.c.mu.Lock()
	pe := m.c.peers[src.Participant]
	m.c.mu.Unlock()
	if pe != nil {
		pe.peer.RequestKeyFrame(src)
	}
}

// closeOutputs closes what features left open (the call has ended).
func (m *callMedia) closeOutputs() {
	m.mu.Lock()
	m.closed = true
	outs := make([]*fanOutput, 0, len(m.outputs))
	for o := range m.outputs {
		outs = append(outs, o)
	}
	m.mu.Unlock()
	for _, o := range outs {
		_ = o.Close()
	}
	m.wg.Wait()
}
