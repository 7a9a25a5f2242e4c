package mesh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/media"
)

// Device names one end of a peer connection: a Matrix device and its
// session (the membershipID of its call membership, our party_id).
type Device struct {
	UserID, DeviceID, SessionID string
}

// Key is the device's place in the calling order (PeerKey).
func (d Device) Key() string { return PeerKey(d.UserID, d.DeviceID) }

// Role says whether a Peer places the call.
type Role uint8

const (
	// RoleAuto: Places decides (the smaller key calls).
	RoleAuto Role = iota
	// RoleCall: we place the call whatever the order (glare tests, 1:1).
	RoleCall
	// RoleAnswer: we wait for the remote device's invite.
	RoleAnswer
)

// RemoteStream is a remote track offered to the engine: the media source
// and the MediaStream it belongs to, with that stream's purpose.
type RemoteStream struct {
	media.Source
	StreamID string
	Purpose  Purpose
}

// PeerConfig configures one Peer.
type PeerConfig struct {
	Local, Remote  Device
	RoomID, ConfID string
	// Dialect is how our signals travel: Group (the default; to-device,
	// with the envelope) or Room (a 1:1 call's room events).
	Dialect Dialect
	Role    Role
	ICE     ICEConfig
	// InviteLifetime is how long our invite waits for an answer; 0: the
	// SDK's 60 s. It is sent as the invite's lifetime.
	InviteLifetime time.Duration
	// Participant names the remote device in media.Source; "" gives
	// Remote.Key().
	Participant string
	// Send carries a signal to the remote device (the engine encodes and
	// sends it, Olm-encrypted to-device). It is called from one goroutine
	// of the peer's, in order, and may block on the network; an error
	// makes the peer retry with backoff (500·2ⁿ ms) and, after more than
	// 5 failures, end the call. It should return within seconds: while
	// the outbox (64 signals) is full, the peer waits for it. Required.
	Send func(ctx context.Context, s Signal) error
	// OnSource is called (from the peer's goroutines) for each remote
	// track; the sink it returns gets the track's frames and is closed
	// when the track ends. nil, or a nil sink: frames are dropped.
	OnSource func(RemoteStream) media.Sink
	// OnMetadata is called from the owner goroutine with the remote
	// device's stream metadata whenever it changes (mute, purposes). It
	// must not block.
	OnMetadata func(StreamMetadata)
	// Metrics, if set, counts the peer's frames (1:1 calls; the engine
	// counts its calls' frames where it fans them out).
	Metrics *Metrics
	Logger  *slog.Logger
}

// Errors of Peer.
var (
	// ErrPeerConfig: New was given an incomplete configuration.
	ErrPeerConfig = errors.New("mesh: bad peer config")
	// ErrPeerEnded: the peer's call has ended; nothing more is taken.
	ErrPeerEnded = errors.New("mesh: peer ended")
	// ErrQueueFull: Deliver found the peer's inbox full.
	ErrQueueFull = errors.New("mesh: peer inbox full")
)

// Queue bounds.
const (
	inboxSize  = 64
	eventsSize = 256
	outboxSize = 64
)

// candidateFlush is how long local candidates gathered after the
// invite/answer was sent wait to be batched. The SDK waits 2 s (caller)
// or 0.5 s (callee) after the first candidate; we send the candidates
// gathered by the time the invite/answer leaves right after it, then
// batches 100 ms apart: fast connects, few events.
const candidateFlush = 100 * time.Millisecond

// maxICERestarts is how many ICE restarts in a row (none connecting) a
// call gets before ice_failed.
const maxICERestarts = 3

// End says how a peer's call ended.
type End struct {
	Reason Reason
	// Remote: the remote device ended it (hangup, reject, select_answer
	// for another party), rather than us.
	Remote bool
}

// Peer is one pion PeerConnection to one remote device of a call, driven
// by signals: Deliver hands it the remote device's decoded signals, and
// PeerConfig.Send carries ours. One owner goroutine holds its state; pion
// callbacks only forward to it. New starts nothing; Run carries the call
// until it ends (hangup either way, Close, ctx) and returns once every
// goroutine has ended and the PeerConnection is closed.
type Peer struct {
	cfg   PeerConfig
	log   *slog.Logger
	inbox chan Signal
	// events carries work for the owner: pion callbacks, AddOutput and
	// RemoveOutput.
	events  chan func()
	closing chan struct{}
	stopped chan struct{} // closed when the owner stops taking events
	done    chan struct{}
	ready   chan struct{} // closed once connected (media.Readier of outputs)

	closeOnce, readyOnce sync.Once
	ran                  atomic.Bool
	ended                atomic.Bool
	wg                   sync.WaitGroup

	mu     sync.Mutex
	result End

	// Owner state.
	api       *webrtc.API
	out       chan outgoing
	streamID  string
	tracks    []*outTrack
	call      *call
	early     EarlyCandidates
	remoteMD  StreamMetadata
	stop      bool
	endResult End
	backoff   time.Duration // sendBackoff; tests shorten it
}

// New checks cfg and returns a peer that has started nothing.
func New(cfg PeerConfig) (*Peer, error) {
	var err error
	for _, f := range []struct{ name, v string }{
		{"local user", cfg.Local.UserID}, {"local device", cfg.Local.DeviceID},
		{"local session", cfg.Local.SessionID}, {"remote user", cfg.Remote.UserID},
		{"remote device", cfg.Remote.DeviceID}, {"remote session", cfg.Remote.SessionID},
		{"room", cfg.RoomID},
	} {
		if f.v == "" {
			err = errors.Join(err, fmt.Errorf("%w: %s is empty", ErrPeerConfig, f.name))
		}
	}
	if cfg.Send == nil {
		err = errors.Join(err, fmt.Errorf("%w: Send is nil", ErrPeerConfig))
	}
	if cfg.Local.Key() == cfg.Remote.Key() {
		err = errors.Join(err, fmt.Errorf("%w: a device never calls itself", ErrPeerConfig))
	}
	if err != nil {
		return nil, err
	}
	if cfg.Dialect == 0 {
		cfg.Dialect = Group
	}
	if cfg.InviteLifetime <= 0 {
		cfg.InviteLifetime = InviteLifetime * time.Millisecond
	}
	if cfg.Participant == "" {
		cfg.Participant = cfg.Remote.Key()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Peer{
		cfg:     cfg,
		log:     log.With("peer", cfg.Remote.Key()),
		inbox:   make(chan Signal, inboxSize),
		events:  make(chan func(), eventsSize),
		closing: make(chan struct{}),
		stopped: make(chan struct{}),
		done:    make(chan struct{}),
		ready:   make(chan struct{}),
		backoff: sendBackoff,
	}, nil
}

// Deliver hands the peer a decoded signal from the remote device (the
// engine has checked it is for us: Check). It never blocks: a full inbox
// or an ended peer is an error for the caller to log.
func (p *Peer) Deliver(s Signal) error {
	if p.ended.Load() {
		return ErrPeerEnded
	}
	select {
	case p.inbox <- s:
		return nil
	default:
		return fmt.Errorf("%w: %s dropped", ErrQueueFull, s.Kind())
	}
}

// Close ends the call (hangup user_hangup if it was up) and makes Run
// return. Idempotent; it does not wait (Done does).
func (p *Peer) Close() error {
	p.closeOnce.Do(func() { close(p.closing) })
	return nil
}

// Done is closed when Run has returned.
func (p *Peer) Done() <-chan struct{} { return p.done }

// Result says how the call ended; valid once Done is closed.
func (p *Peer) Result() End {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.result
}

// Run carries the call until it ends, then closes the PeerConnection and
// returns once every goroutine of the peer has ended. It returns an error
// only when the call could not start at all; how it ended is Result.
// Run may be called once.
func (p *Peer) Run(ctx context.Context) error {
	if !p.ran.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: Run called twice", ErrPeerConfig)
	}
	defer close(p.done)
	defer p.ended.Store(true)
	api, err := p.cfg.ICE.newAPI(p.log)
	if err != nil {
		p.setResult(End{Reason: ReasonUnknownError})
		return err
	}
	p.api = api
	p.streamID = "switchboard-" + randomID(12)
	p.out = make(chan outgoing, outboxSize)
	sendCtx, cancelSend := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSend()
	p.wg.Add(1)
	go p.sender(sendCtx)
	p.placeholders()
	if p.cfg.Role == RoleCall || (p.cfg.Role == RoleAuto && Places(p.cfg.Local.Key(), p.cfg.Remote.Key())) {
		p.placeCall()
	}
	p.loop(ctx)
	p.shutdown(cancelSend)
	return nil
}

func (p *Peer) setResult(e End) {
	p.mu.Lock()
	p.result = e
	p.mu.Unlock()
}

// loop is the owner: it runs until the call ends.
func (p *Peer) loop(ctx context.Context) {
	for !p.stop {
		var expiry, flush <-chan time.Time
		if c := p.call; c != nil {
			expiry, flush = timerC(c.expiry), timerC(c.flush)
		}
		select {
		case <-ctx.Done():
			p.end(ReasonUserHangup, false, true)
		case <-p.closing:
			p.end(ReasonUserHangup, false, true)
		case s := <-p.inbox:
			p.handle(s)
		case f := <-p.events:
			f()
		case <-expiry:
			p.call.expiry = nil
			p.log.Info("mesh: invite not answered within its lifetime")
			p.end(ReasonInviteTimeout, false, true)
		case <-flush:
			p.call.flush = nil
			p.flushCandidates()
		}
	}
}

func timerC(t *time.Timer) <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.C
}

// shutdown stops taking events, closes the PeerConnection (remote tracks
// end, their sinks are closed), lets the sender send what is queued (the
// final hangup, bounded by sendTimeout) and waits for every goroutine.
func (p *Peer) shutdown(cancelSend context.CancelFunc) {
	p.ended.Store(true)
	close(p.stopped)
	if p.call != nil {
		p.call.closePC(p.log)
	}
	close(p.out)
	t := time.AfterFunc(sendTimeout, cancelSend)
	p.wg.Wait()
	t.Stop()
	p.setResult(p.endResult)
}

// post hands f to the owner; false once the owner has stopped. pion
// callbacks use it, so it waits rather than dropping (the owner never
// blocks for long).
func (p *Peer) post(f func()) bool {
	select {
	case p.events <- f:
		return true
	case <-p.stopped:
		return false
	}
}

// end ends the call: with send, a hangup with reason goes to the remote
// device first. remote says who ended it (for Result).
func (p *Peer) end(reason Reason, remote, send bool) {
	if p.stop {
		return
	}
	if send && p.call != nil {
		p.enqueue(p.call, &Hangup{Reason: reason})
	}
	p.stop = true
	p.endResult = End{Reason: reason, Remote: remote}
	p.log.Info("mesh: call ended", "reason", reason, "remote", remote)
}
