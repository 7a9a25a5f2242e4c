package mesh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-rtc/switchboard/media"
)

// DirectConfig configures Direct, the bot's answering of 1:1 calls.
type DirectConfig struct {
	// UserID and DeviceID are the bot's.
	UserID, DeviceID string
	Mode             DirectMode
	// Max bounds the calls carried at once; beyond it invites in direct
	// rooms are rejected with user_busy (and beyond twice Max invites
	// still being checked, more ring out). MaxDuration ends a call (hangup) that has
	// lasted that long, so a forgotten echo test ends.
	Max         int
	MaxDuration time.Duration
	// ICE gives the current ICE settings (TURN credentials change).
	ICE func() ICEConfig
	// IsDirect says whether room is a direct room of caller and the bot
	// (see IsDirectRoom). An error is not a yes: the call is not answered.
	IsDirect func(ctx context.Context, room, caller string) (bool, error)
	// Send sends a room event (Megolm-encrypted in encrypted rooms). It
	// may block on the network, for seconds at most.
	Send func(ctx context.Context, room, eventType string, content json.RawMessage) error
	// Feature runs on each answered call (the echo test).
	Feature media.Factory
	// Metrics counts invites by outcome and the calls' frames; nil counts
	// nothing.
	Metrics *Metrics
	Logger  *slog.Logger
}

// ErrDirectConfig: NewDirect was given an incomplete configuration.
var ErrDirectConfig = errors.New("mesh: bad direct call config")

// maxRejectsInFlight bounds the user_busy and reject sends under way; an
// invite beyond it rings out unanswered.
const maxRejectsInFlight = 16

// Direct answers 1:1 calls (m.call.invite) to the bot in direct rooms. Its
// owner goroutine (Run) reads the call events of each sync as batches,
// filters them (FilterBatch), starts a Peer (Room dialect, the answering
// side) per accepted invite and hands it the call's later events. New
// starts nothing; Run returns when every call has ended.
type Direct struct {
	cfg   DirectConfig
	log   *slog.Logger
	party string // our party_id, one per run as a client's session id
	now   func() time.Time

	// calls is written only by Run's goroutine, under mu; the owner reads
	// it without mu, Calls with it.
	mu      sync.Mutex
	calls   map[directKey]*directCall
	active  atomic.Int64 // calls answered and running
	ended   chan directKey
	rejects chan struct{}
	wg      sync.WaitGroup
}

type directKey struct{ room, callID string }

type directCall struct {
	caller, device string
	invited        time.Time
	peer           *Peer
	// Set by the call's goroutine, read by Calls.
	phase    atomic.Int32 // directPhase
	deadline atomic.Int64 // unix ns when MaxDuration ends it; 0 until answered
}

// NewDirect checks cfg.
func NewDirect(cfg DirectConfig) (*Direct, error) {
	var err error
	if cfg.UserID == "" || cfg.DeviceID == "" {
		err = errors.Join(err, fmt.Errorf("%w: the bot's user or device is empty", ErrDirectConfig))
	}
	if _, ok := DirectModes[cfg.Mode.String()]; !ok {
		err = errors.Join(err, fmt.Errorf("%w: mode %v", ErrDirectConfig, cfg.Mode))
	}
	if cfg.Max < 1 || cfg.MaxDuration <= 0 {
		err = errors.Join(err, fmt.Errorf("%w: max %d and max duration %v must be positive", ErrDirectConfig, cfg.Max, cfg.MaxDuration))
	}
	if cfg.ICE == nil || cfg.IsDirect == nil || cfg.Send == nil || (cfg.Mode == DirectEcho && cfg.Feature == nil) {
		err = errors.Join(err, fmt.Errorf("%w: ICE, IsDirect, Send and (for echo) Feature are required", ErrDirectConfig))
	}
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Direct{cfg: cfg, log: log, party: "switchboard-" + randomID(12), now: time.Now,
		calls: map[directKey]*directCall{}, ended: make(chan directKey), rejects: make(chan struct{}, maxRejectsInFlight)}, nil
}

// Run reads batches until ctx ends or in closes, then hangs up every call
// and returns when all have ended.
func (d *Direct) Run(ctx context.Context, in <-chan RoomBatch) error {
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		// Calls still running report their end; take those reports
		// until all goroutines are done.
		done := make(chan struct{})
		go func() { d.wg.Wait(); close(done) }()
		for {
			select {
			case k := <-d.ended:
				d.forget(k)
			case <-done:
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case k := <-d.ended:
			d.forget(k)
		case b, ok := <-in:
			if !ok {
				return nil
			}
			d.batch(ctx, b)
		}
	}
}

// batch acts on one room's call events of a sync.
func (d *Direct) batch(ctx context.Context, b RoomBatch) {
	kept, refused := FilterBatch(b, d.cfg.UserID, d.now())
	for _, r := range refused {
		d.log.Debug("direct call: event dropped", "room", r.Event.RoomID, "sender", r.Event.Sender,
			"type", r.Event.Type, "event_id", r.Event.EventID, "reason", r.Reason)
	}
	for _, rs := range kept {
		k := directKey{rs.RoomID, rs.Signal.Call.CallID}
		if inv, ok := rs.Signal.Body.(*Invite); ok {
			d.invite(ctx, k, rs, inv)
			continue
		}
		c, ok := d.calls[k]
		if !ok {
			continue // not a call of ours
		}
		if rs.Sender != c.caller {
			d.log.Info("direct call: event from someone other than the caller refused", "room", k.room,
				"call", k.callID, "sender", rs.Sender, "kind", rs.Signal.Kind())
			continue
		}
		if err := c.peer.Deliver(rs.Signal); err != nil {
			d.log.Debug("direct call: not delivered", "call", k.callID, "err", err)
		}
	}
}

// invite takes an invite that passed the batch filters.
func (d *Direct) invite(ctx context.Context, k directKey, rs RoomSignal, inv *Invite) {
	log := d.log.With("room", k.room, "call", k.callID, "caller", rs.Sender)
	if !InviteForUs(inv, d.cfg.UserID, d.cfg.DeviceID) {
		log.Debug("direct call: invite for someone else")
		return
	}
	if _, dup := d.calls[k]; dup {
		return // a repeated invite; the peer has it
	}
	switch {
	case d.cfg.Mode == DirectIgnore:
		log.Info("direct call: ignored (calls.direct is ignore)")
		d.cfg.Metrics.directInvite(OutcomeIgnored)
		return
	case d.cfg.Mode == DirectReject:
		d.reject(ctx, log, k, rs.Sender)
		return
	case len(d.calls) >= 2*d.cfg.Max:
		// Invites still being checked count too: a flood of them rings
		// out rather than queueing homeserver requests.
		log.Warn("direct call: too many calls under way; this invite rings out", "max", d.cfg.Max)
		d.cfg.Metrics.directInvite(OutcomeRangOut)
		return
	}
	remoteDevice := inv.DeviceID
	if remoteDevice == "" {
		remoteDevice = "unknown" // a 1:1 invite need not name its device
	}
	remoteParty := rs.Signal.Call.PartyID
	if remoteParty == "" {
		remoteParty = "v0" // legacy clients send none
	}
	c := &directCall{caller: rs.Sender, device: inv.DeviceID, invited: d.now()}
	var feature media.Feature
	peer, err := New(PeerConfig{
		Local:   Device{UserID: d.cfg.UserID, DeviceID: d.cfg.DeviceID, SessionID: d.party},
		Remote:  Device{UserID: rs.Sender, DeviceID: remoteDevice, SessionID: remoteParty},
		RoomID:  k.room,
		Dialect: Room,
		Role:    RoleAnswer,
		ICE:     d.cfg.ICE(),
		Send: func(ctx context.Context, s Signal) error {
			typ, content, err := Encode(s)
			if err != nil {
				return err
			}
			return d.cfg.Send(ctx, k.room, typ, content)
		},
		OnSource: func(rs RemoteStream) media.Sink {
			if feature == nil {
				return nil
			}
			return feature.SourceAdded(rs.Source)
		},
		Metrics: d.cfg.Metrics,
		Logger:  log,
	})
	if err != nil {
		log.Warn("direct call: cannot answer", "err", err)
		d.cfg.Metrics.directInvite(OutcomeFailed)
		return
	}
	// The invite goes first into the peer's inbox, so that the call's
	// later events, delivered while its room is checked, follow it.
	if err := peer.Deliver(rs.Signal); err != nil {
		log.Warn("direct call: invite not delivered", "err", err)
		d.cfg.Metrics.directInvite(OutcomeFailed)
		return
	}
	c.peer = peer
	d.mu.Lock()
	d.calls[k] = c
	d.mu.Unlock()
	d.wg.Add(1)
	go func() {
		defer func() {
			d.ended <- k // Run, or its deferred drain, takes it
			d.wg.Done()
		}()
		d.carry(ctx, log, k, c, &feature)
	}()
}

// carry checks the room, then answers and carries one call until it
// ends or lasts MaxDuration.
func (d *Direct) carry(ctx context.Context, log *slog.Logger, k directKey, c *directCall, feature *media.Feature) {
	defer c.phase.Store(int32(phaseEnded))
	if !d.checkRoom(ctx, log, k, c.caller, "answered") {
		return
	}
	// Only calls in direct rooms count against Max.
	if d.active.Add(1) > int64(d.cfg.Max) {
		d.active.Add(-1)
		log.Warn("direct call: rejected as busy, too many direct calls", "max", d.cfg.Max)
		c.phase.Store(int32(phaseRejecting))
		d.cfg.Metrics.directInvite(OutcomeRejectedBusy)
		if err := d.sendReject(ctx, k, ReasonUserBusy); err != nil {
			log.Warn("direct call: reject not sent", "err", err)
		}
		return
	}
	defer d.active.Add(-1)
	f, err := d.cfg.Feature.Start(c.peer, log)
	if err != nil {
		log.Warn("direct call: feature failed", "err", err)
		d.cfg.Metrics.directInvite(OutcomeFailed)
		return
	}
	defer f.Close()
	*feature = f // before Run: no source comes earlier
	cctx, cancel := context.WithTimeout(ctx, d.cfg.MaxDuration)
	defer cancel()
	c.deadline.Store(d.now().Add(d.cfg.MaxDuration).UnixNano())
	c.phase.Store(int32(phaseAnswering))
	d.cfg.Metrics.directInvite(OutcomeAnswered)
	log.Info("direct call: answering")
	if err := c.peer.Run(cctx); err != nil {
		log.Warn("direct call: failed", "err", err)
		return
	}
	log.Info("direct call: ended", "reason", c.peer.Result().Reason, "remote", c.peer.Result().Remote)
}

// reject declines a call in a direct room (calls.direct reject) without
// blocking the owner, at most maxRejectsInFlight at once. In other rooms
// nothing is sent: a reject there would end a call meant for others.
func (d *Direct) reject(ctx context.Context, log *slog.Logger, k directKey, caller string) {
	select {
	case d.rejects <- struct{}{}:
	default:
		log.Warn("direct call: too many rejects under way; this invite rings out")
		d.cfg.Metrics.directInvite(OutcomeRangOut)
		return
	}
	d.wg.Add(1)
	go func() {
		defer func() { <-d.rejects; d.wg.Done() }()
		if !d.checkRoom(ctx, log, k, caller, "rejected") {
			return
		}
		log.Info("direct call: rejected (calls.direct is reject)")
		d.cfg.Metrics.directInvite(OutcomeRejectedByMode)
		if err := d.sendReject(ctx, k, ""); err != nil {
			log.Warn("direct call: reject not sent", "err", err)
		}
	}()
}

// sendReject sends an m.call.reject of call k.
func (d *Direct) sendReject(ctx context.Context, k directKey, reason Reason) error {
	typ, content, err := Encode(Signal{Dialect: Room, Call: Call{CallID: k.callID, PartyID: d.party, Version: Version},
		Body: &Reject{Reason: reason}})
	if err != nil {
		return err
	}
	return d.cfg.Send(ctx, k.room, typ, content)
}

// checkRoom says whether k's room is a direct room of caller and the bot,
// counting the invite when it is not (or cannot be told).
func (d *Direct) checkRoom(ctx context.Context, log *slog.Logger, k directKey, caller, action string) bool {
	direct, err := d.cfg.IsDirect(ctx, k.room, caller)
	switch {
	case err != nil:
		d.cfg.Metrics.directInvite(OutcomeRoomCheckFailed)
	case !direct:
		d.cfg.Metrics.directInvite(OutcomeNotDirectRoom)
	default:
		return true
	}
	log.Info("direct call: not "+action+", the room is not a direct room of the caller and the bot", "err", err)
	return false
}

// forget drops an ended call (owner only).
func (d *Direct) forget(k directKey) {
	d.mu.Lock()
	delete(d.calls, k)
	d.mu.Unlock()
}
