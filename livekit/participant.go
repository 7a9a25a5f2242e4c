package livekit

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/switchboard-rtc/switchboard/e2ee"
	"github.com/switchboard-rtc/switchboard/media"
	"github.com/switchboard-rtc/switchboard/membership"
)

// participant is our media participant in one call. Its goroutine (run) is
// the one owner of its connection, rings and features; lksdk's callbacks,
// features and the engine only hand it work through queues and channels.
type participant struct {
	e    *Engine
	call membership.CallKey
	log  *slog.Logger

	ctx    context.Context // ends on stop (or when Run's context ends)
	cancel context.CancelFunc
	focus  chan membership.Focus // 1-buffered, latest wins

	keys     *callKeys // the map is run's; the rings are shared with readers
	publish  *queue[*output]
	keyFrame *queue[string] // track ids features want a key frame of
	inbox    *featureInbox
	feats    *media.FeatureSet // run's (Running and Report: anyone's)
	fhost    *featureHost      // run's

	mu      sync.Mutex // guards what snapshot reads
	st      callStatus
	peers   map[string]*peerState
	outputs []*output
}

// callStatus is the part of the snapshot the run goroutine sets.
type callStatus struct {
	focus            membership.Focus
	state, reason    string
	since            time.Time
	lkRoom, identity string
}

// maxKeyFrameRequests bounds the key-frame requests waiting for a
// connection; more are redundant.
const maxKeyFrameRequests = 64

func newParticipant(e *Engine, call membership.CallKey, focus membership.Focus) *participant {
	ctx, cancel := context.WithCancel(context.Background())
	p := &participant{
		e: e, call: call, ctx: ctx, cancel: cancel,
		log:      e.log.With("room", call.Room, "call_id", call.CallID),
		focus:    make(chan membership.Focus, 1),
		keys:     newCallKeys(e.cfg.Self),
		publish:  newQueue[*output](),
		keyFrame: &queue[string]{limit: maxKeyFrameRequests, ready: make(chan struct{}, 1)},
		inbox:    newFeatureInbox(),
		peers:    map[string]*peerState{},
	}
	p.fhost = &featureHost{p: p}
	p.feats = media.NewFeatureSet(p, p.fhost, p.log)
	p.st = callStatus{focus: focus, state: StateConnecting, since: time.Now()}
	if e.tokens == nil || e.keys == nil {
		p.st.state, p.st.reason = StateError, errNoSources.Error()
	}
	return p
}

func (p *participant) stop() { p.cancel() }

// setFocus moves the participant to focus (from the engine's caller).
func (p *participant) setFocus(f membership.Focus) {
	for {
		select {
		case p.focus <- f:
			return
		case <-p.focus: // replace a focus not yet taken
		}
	}
}

func (p *participant) setState(state, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.st.state != state || p.st.reason != reason {
		p.st.state, p.st.reason, p.st.since = state, reason, time.Now()
	}
}

// run is the participant's life: get a token, connect, serve the session,
// and after a disconnect or failure try again with backoff, until stopped.
func (p *participant) run(parent context.Context) {
	stopWithParent := context.AfterFunc(parent, p.cancel)
	defer stopWithParent()
	defer p.cancel()
	sub := p.e.keys.Subscribe(func(ep e2ee.Participant) bool { return ep.Call == p.call })
	defer sub.Close()
	defer p.closeFeatures()

	p.mu.Lock()
	focus := p.st.focus
	p.mu.Unlock()
	backoff := time.Duration(0)
	for p.ctx.Err() == nil {
		p.applyKeys(sub)
		c, err := p.connect(focus)
		if err == nil {
			backoff = 0
			p.applyFeatures(c)
			err = p.serve(c, sub, &focus)
			c.close()
		}
		if p.ctx.Err() != nil {
			return
		}
		if errors.Is(err, errFocusMoved) {
			p.setState(StateConnecting, "")
			continue
		}
		p.log.Warn("LiveKit participant not connected", "err", err)
		if errors.Is(err, errDisconnected) {
			p.setState(StateReconnecting, err.Error()) // it was in; it goes back in
		} else {
			p.setState(StateError, err.Error())
		}
		backoff = min(max(2*backoff, firstBackoff), p.e.cfg.MaxBackoff)
		if !p.wait(backoff, &focus) {
			return
		}
		p.setState(StateReconnecting, err.Error())
	}
}

// errNoSources: the engine was made without a token source or key store.
var errNoSources = errors.New("livekit: the engine has no token source or key store")

// errFocusMoved: the call moved to another focus; reconnect at once.
var errFocusMoved = errors.New("livekit: the call moved to another focus")

// wait sleeps d, or less when the focus changes; false when stopped.
// Features taken out of the set meanwhile stop at once.
func (p *participant) wait(d time.Duration, focus *membership.Focus) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return false
		case f := <-p.focus:
			p.moveTo(f, focus)
			return true
		case <-p.inbox.ready:
			p.applyFeatures(nil)
		case <-t.C:
			return true
		}
	}
}

func (p *participant) moveTo(f membership.Focus, focus *membership.Focus) {
	*focus = f
	p.mu.Lock()
	p.st.focus = f
	p.mu.Unlock()
}

// applyKeys feeds the store's key changes for the call into the rings.
func (p *participant) applyKeys(sub *e2ee.Subscription) {
	for _, err := range p.keys.apply(sub.Take()) {
		p.log.Warn("media key not usable", "err", err)
	}
}

// snapshot describes the call for the admin view. Features report their
// stats outside our lock: a feature may hold its own lock while it calls
// Publish, which takes ours.
func (p *participant) snapshot() CallSnapshot {
	s := p.ownSnapshot()
	s.Features, s.FeatureStats = p.feats.Report()
	return s
}

func (p *participant) ownSnapshot() CallSnapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := CallSnapshot{
		Room: string(p.call.Room), CallID: p.call.CallID, Application: p.call.Application,
		Focus: p.st.focus.LiveKitServiceURL, State: p.st.state, Error: p.st.reason, Since: p.st.since,
		LiveKitRoom: p.st.lkRoom, Identity: p.st.identity,
		Participants: []ParticipantSnapshot{}, Outputs: []OutputSnapshot{},
	}
	if p.keys.ownReady.Load() {
		i := int(p.keys.own.CurrentIndex())
		s.KeyIndex = &i
	}
	for _, peer := range p.peers {
		s.Participants = append(s.Participants, peer.snapshot())
	}
	sortPeers(s.Participants)
	for _, o := range p.outputs {
		s.Outputs = append(s.Outputs, o.snapshot())
	}
	return s
}
