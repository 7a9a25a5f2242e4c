package livekit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/media"
	"github.com/switchboard-rtc/switchboard/membership"
)

// ErrRunTwice: Engine.Run was called a second time.
var ErrRunTwice = errors.New("livekit: engine Run called twice")

// Tokens gets our participant its LiveKit token for a call on a focus;
// *FocusTokens implements it.
type Tokens interface {
	Token(ctx context.Context, call membership.CallKey, focus membership.Focus) (Join, error)
}

var _ Tokens = (*FocusTokens)(nil)

// EngineConfig is the engine's configuration; zero values give defaults.
type EngineConfig struct {
	// Self names the bot's user and device (known once it has logged in):
	// our own media key is the store's key of this device in each call.
	Self func() (id.UserID, id.DeviceID)
	// MaxBackoff caps the wait between reconnection attempts; default 4 s,
	// so a call is back within seconds of a long LiveKit outage ending.
	MaxBackoff time.Duration
	// TokenTimeout bounds getting one token; default 15 s.
	TokenTimeout time.Duration
	// Metrics, if set, counts the frames received and sent.
	Metrics *Metrics
}

// Default engine timings.
const (
	DefaultMaxBackoff   = 4 * time.Second
	DefaultTokenTimeout = 15 * time.Second
	firstBackoff        = 500 * time.Millisecond
)

// Engine is the LiveKit engine (calls.Engine): one E2EE media participant
// per carried call, joined to the call's LiveKit room, running the call's
// media features. Carry and Release only hand work over; Run owns the
// participants, each in a goroutine of its own, so one call failing (bad
// focus, refused token, unreachable LiveKit) never stops another.
type Engine struct {
	cfg    EngineConfig
	log    *slog.Logger
	tokens Tokens
	keys   KeySource
	health func() (ok bool, reason string)

	starts    *queue[*participant]
	closed    chan struct{}
	closeOnce sync.Once

	mu    sync.Mutex
	ran   bool
	calls map[membership.CallKey]*participant
}

// New returns the engine; it starts nothing. tokens and keys are required
// (without them every call shows an error); health reports whether LiveKit
// answers (nil: always). A call runs the features SetFeatures gives it.
func New(cfg EngineConfig, logger *slog.Logger, tokens Tokens, keys KeySource,
	health func() (bool, string)) *Engine {
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.TokenTimeout <= 0 {
		cfg.TokenTimeout = DefaultTokenTimeout
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{
		cfg: cfg, log: logger, tokens: tokens, keys: keys, health: health,
		starts: newQueue[*participant](), closed: make(chan struct{}),
		calls: map[membership.CallKey]*participant{},
	}
}

func (e *Engine) Name() string { return "livekit" }

// CanCarry reports whether focus is a LiveKit focus.
func (e *Engine) CanCarry(focus membership.Focus) bool { return focus.Type == "livekit" }

// Carry starts a participant for call on focus, or moves the call's
// participant to a new focus (it leaves the old room and joins the new one;
// its features keep running).
func (e *Engine) Carry(call membership.CallKey, focus membership.Focus) {
	select {
	case <-e.closed:
		return
	default:
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.calls[call]; p != nil {
		p.setFocus(focus)
		return
	}
	p := newParticipant(e, call, focus)
	e.calls[call] = p
	if e.tokens != nil && e.keys != nil {
		e.starts.push(p)
	}
}

// Release stops call's participant: it leaves LiveKit and closes the
// call's features, in its own goroutine.
func (e *Engine) Release(call membership.CallKey) {
	e.mu.Lock()
	p := e.calls[call]
	delete(e.calls, call)
	e.mu.Unlock()
	if p != nil {
		p.stop()
	}
}

// Run starts the participants Carry asks for and returns when ctx ends or
// Close is called, once every participant's goroutine has ended (each
// leaves LiveKit first).
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.ran {
		e.mu.Unlock()
		return ErrRunTwice
	}
	e.ran = true
	e.mu.Unlock()

	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		for _, p := range e.starts.take() {
			wg.Go(func() { p.run(ctx) })
		}
		select {
		case <-e.starts.ready:
		case <-ctx.Done():
			e.stopAll()
			return nil
		case <-e.closed:
			e.stopAll()
			return nil
		}
	}
}

// stopAll stops every participant (Run is ending).
func (e *Engine) stopAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.calls {
		p.stop()
	}
	for _, p := range e.starts.take() {
		p.stop()
	}
}

// Close ends Run; it is safe to call more than once.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() { close(e.closed) })
	return nil
}

// Health is the SFU's health.
func (e *Engine) Health() (bool, string) {
	if e.health == nil {
		return true, ""
	}
	return e.health()
}

// CallState is a carried call's state for the admin view: "connecting",
// "connected", "reconnecting" or "error: <reason>".
func (e *Engine) CallState(call membership.CallKey) string {
	s, ok := e.Snapshot(call)
	if !ok {
		return "not carried"
	}
	if s.Error != "" {
		return s.State + ": " + s.Error
	}
	return s.State
}

// Snapshot describes one carried call.
func (e *Engine) Snapshot(call membership.CallKey) (CallSnapshot, bool) {
	p := e.carried(call)
	if p == nil {
		return CallSnapshot{}, false
	}
	return p.snapshot(), true
}

// Calls describes every carried call, ordered by room and call id.
func (e *Engine) Calls() []CallSnapshot {
	e.mu.Lock()
	ps := make([]*participant, 0, len(e.calls))
	for _, p := range e.calls {
		ps = append(ps, p)
	}
	e.mu.Unlock()
	out := make([]CallSnapshot, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.snapshot())
	}
	slices.SortFunc(out, func(a, b CallSnapshot) int {
		return cmp.Or(cmp.Compare(a.Room, b.Room), cmp.Compare(a.CallID, b.CallID))
	})
	return out
}

// SetFeatures sets call's media features (calls.Engine): by name, those
// running go on untouched, new ones start (on connection; each offered the
// call's current sources), those no longer listed stop (their sinks get
// no more frames and are closed, then the feature is). A listed feature
// that finished on its own (media.Finisher) is not started again until a
// set leaves it out. Until SetFeatures is called for a call, it runs
// none (the supervisor chooses features). It does not wait: the
// call's participant applies it. Unknown calls are ignored.
func (e *Engine) SetFeatures(call membership.CallKey, features []media.Factory) {
	if p := e.carried(call); p != nil {
		p.inbox.setFeatures(slices.Clone(features))
	}
}

// StartFeature runs f on call beside its set (calls.Engine), now or once
// connected, offered current and future sources, until it finishes
// (media.Finisher: the engine then closes it) or the call ends. Its error
// wraps media.ErrCallNotCarried for a call the engine does not carry.
func (e *Engine) StartFeature(call membership.CallKey, f media.Factory) error {
	if f == nil {
		return fmt.Errorf("livekit: start a feature in %s: %w", call.Room, ErrNoFeature)
	}
	p := e.carried(call)
	if p == nil || p.ctx.Err() != nil {
		return fmt.Errorf("livekit: start %s in %s: %w", f.Name(), call.Room, media.ErrCallNotCarried)
	}
	p.inbox.startFeature(f)
	return nil
}

// ErrNoFeature: StartFeature was given no feature.
var ErrNoFeature = errors.New("livekit: no feature")

func (e *Engine) carried(call membership.CallKey) *participant {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[call]
}
