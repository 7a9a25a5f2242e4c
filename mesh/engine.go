package mesh

import (
	"cmp"
	"context"
	"encoding/json"
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

// Members is what the engine reads of the calls' memberships (the
// tracker): a room's live members, and a feed of changes.
type Members interface {
	SnapshotRoom(ctx context.Context, room id.RoomID) ([]membership.Member, error)
	SubscribeRooms(ctx context.Context, rooms func(id.RoomID) bool) (<-chan membership.Change, error)
}

// Transport carries our call events to one device: Olm-encrypted
// to-device in an encrypted room, plain otherwise (the bot).
type Transport interface {
	SendCallEvent(ctx context.Context, room id.RoomID, user id.UserID, device id.DeviceID,
		eventType string, content json.RawMessage) error
	// RoomEncrypted says whether room is encrypted: its call events must
	// then come Olm-encrypted.
	RoomEncrypted(room id.RoomID) bool
}

// EngineConfig configures the mesh engine.
type EngineConfig struct {
	// Self names the bot's user and device (known once it has logged in).
	Self func() (id.UserID, id.DeviceID)
	// ICE gives the current ICE settings (TURN credentials change); nil:
	// host candidates only.
	ICE func() ICEConfig
	// Metrics, if set, counts the frames received and sent.
	Metrics *Metrics
}

// ErrRunTwice: Engine.Run was called a second time.
var ErrRunTwice = errors.New("mesh: engine Run called twice")

// ErrNoFeature: StartFeature was given no feature.
var ErrNoFeature = errors.New("mesh: no feature")

// ToDevice is a to-device event as the bot received it.
type ToDevice struct {
	Sender       id.UserID
	SenderDevice id.DeviceID // the Olm-verified device; "" for plain events
	Encrypted    bool
	Type         string
	Content      json.RawMessage
}

// Engine is the mesh engine (calls.Engine) for Famedly mesh group calls:
// per carried call, one owner goroutine keeping a Peer per remote member
// device (who calls whom by Places), routing the devices' checked signals
// to them and carrying the media features through the media seam. Carry
// and Release only hand work over; Run owns the calls' goroutines.
type Engine struct {
	cfg       EngineConfig
	log       *slog.Logger
	members   Members
	transport Transport

	kick      chan struct{} // 1-buffered: calls wait to start
	closed    chan struct{}
	closeOnce sync.Once

	mu      sync.Mutex
	ran     bool
	running bool
	calls   map[membership.CallKey]*meshCall
	starts  []*meshCall
	early   []earlyEvent // call events for calls not carried yet
}

// NewEngine returns the engine; it starts nothing.
func NewEngine(cfg EngineConfig, logger *slog.Logger, members Members, transport Transport) *Engine {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{cfg: cfg, log: logger, members: members, transport: transport,
		kick: make(chan struct{}, 1), closed: make(chan struct{}), calls: map[membership.CallKey]*meshCall{}}
}

func (e *Engine) Name() string { return "mesh" }

// CanCarry reports whether focus is a mesh focus.
func (e *Engine) CanCarry(focus membership.Focus) bool { return focus.Type == "mesh" }

// Carry starts carrying call (a mesh call has no focus to move to).
func (e *Engine) Carry(call membership.CallKey, _ membership.Focus) {
	select {
	case <-e.closed:
		return
	default:
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.calls[call] != nil {
		return
	}
	c := newMeshCall(e, call)
	e.calls[call] = c
	e.starts = append(e.starts, c)
	for _, in := range e.takeEarly(call, time.Now()) {
		c.receive(in)
	}
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// Release stops carrying call: its peers are hung up and its features
// closed, in the call's goroutine.
func (e *Engine) Release(call membership.CallKey) {
	e.mu.Lock()
	c := e.calls[call]
	delete(e.calls, call)
	e.mu.Unlock()
	if c != nil {
		c.stop()
	}
}

// Run runs the carried calls and returns when ctx ends or Close is
// called, once every call's goroutines have ended.
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.ran {
		e.mu.Unlock()
		return ErrRunTwice
	}
	e.ran = true
	e.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer e.stopAll()
	changes, err := e.members.SubscribeRooms(ctx, func(room id.RoomID) bool { return e.carriesRoom(room) })
	if err != nil {
		return fmt.Errorf("mesh: subscribe to memberships: %w", err)
	}
	for {
		e.mu.Lock()
		starts := e.starts
		e.starts = nil
		e.mu.Unlock()
		for _, c := range starts {
			wg.Go(func() { c.run(ctx) })
		}
		select {
		case <-e.kick:
		case ch, ok := <-changes:
			if !ok {
				return nil
			}
			e.membersChanged(ch)
		case <-ctx.Done():
			return nil
		case <-e.closed:
			return nil
		}
	}
}

func (e *Engine) carriesRoom(room id.RoomID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k := range e.calls {
		if k.Room == room {
			return true
		}
	}
	return false
}

// membersChanged tells the calls of the change's room (all, on a
// resync) to read their members again.
func (e *Engine) membersChanged(ch membership.Change) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, c := range e.calls {
		if ch.Kind == membership.Resync || k.Room == ch.Member.Call.Room {
			c.poke()
		}
	}
}

func (e *Engine) stopAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.calls {
		c.stop()
	}
	for _, c := range e.starts {
		c.stop()
	}
	e.starts = nil
}

// Close ends Run; idempotent.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() { close(e.closed) })
	return nil
}

// Health: the mesh needs no service.
func (e *Engine) Health() (bool, string) { return true, "" }

// CallState describes a carried call: "waiting for our membership",
// "connecting 0/2 peers", "connected 2/2 peers".
func (e *Engine) CallState(call membership.CallKey) string {
	c := e.carried(call)
	if c == nil {
		return "not carried"
	}
	return c.snapshot().State
}

// Calls describes every carried call, ordered by room and call id (the
// admin view).
func (e *Engine) Calls() []CallSnapshot {
	e.mu.Lock()
	cs := make([]*meshCall, 0, len(e.calls))
	for _, c := range e.calls {
		cs = append(cs, c)
	}
	e.mu.Unlock()
	out := make([]CallSnapshot, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.snapshot())
	}
	slices.SortFunc(out, func(a, b CallSnapshot) int {
		return cmp.Or(cmp.Compare(a.Room, b.Room), cmp.Compare(a.CallID, b.CallID))
	})
	return out
}

// SetFeatures sets call's media features (calls.Engine): by name, those
// running go on, new ones start, those no longer listed stop. Unknown
// calls are ignored.
func (e *Engine) SetFeatures(call membership.CallKey, features []media.Factory) {
	if c := e.carried(call); c != nil {
		c.post(func() { c.setFeatures(slices.Clone(features)) })
	}
}

// StartFeature runs f on call beside its set until it finishes or the
// call ends; its error wraps media.ErrCallNotCarried for a call the
// engine does not carry.
func (e *Engine) StartFeature(call membership.CallKey, f media.Factory) error {
	if f == nil {
		return fmt.Errorf("mesh: start a feature in %s: %w", call.Room, ErrNoFeature)
	}
	c := e.carried(call)
	if c == nil || !c.post(func() { c.startFeature(f) }) {
		return fmt.Errorf("mesh: start %s in %s: %w", f.Name(), call.Room, media.ErrCallNotCarried)
	}
	return nil
}

func (e *Engine) carried(call membership.CallKey) *meshCall {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[call]
}

// Receive takes a to-device event (any type: others are ignored) and
// hands a group call event to its call, found by room and conf_id. It
// never blocks on the network; what it cannot use it logs.
func (e *Engine) Receive(in ToDevice) {
	d, _, err := ParseEventType(in.Type)
	if err != nil || d != Group {
		return
	}
	s, err := Decode(in.Type, in.Content)
	if err != nil {
		e.log.Warn("mesh: call event refused", "type", in.Type, "sender", in.Sender, "err", err)
		return
	}
	room := id.RoomID(s.Group.RoomID)
	if e.transport.RoomEncrypted(room) && !in.Encrypted {
		e.log.Warn("mesh: plain call event in an encrypted room refused", "type", in.Type, "sender", in.Sender,
			"room", room)
		return
	}
	inc := Incoming{Sender: string(in.Sender), SenderDevice: string(in.SenderDevice), Signal: s}
	var c *meshCall
	e.mu.Lock()
	for k, mc := range e.calls {
		if k.Room == room && k.CallID == s.Group.ConfID {
			c = mc
		}
	}
	if c == nil {
		e.holdEarly(room, s.Group.ConfID, inc, time.Now())
	}
	e.mu.Unlock()
	if c == nil {
		e.log.Debug("mesh: call event for a call we do not carry (yet): held", "type", in.Type, "sender", in.Sender,
			"room", room, "conf_id", s.Group.ConfID)
		return
	}
	c.receive(inc)
}
