package membership

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/lifecycle"
)

// PresenceConfig says who we are in calls and how our memberships are
// kept. Zero durations take the references' values (see withDefaults).
type PresenceConfig struct {
	UserID   id.UserID   // empty: the writer's (Self)
	DeviceID id.DeviceID // empty: the writer's (Self)
	// FamedlyStateKey is the state-key form of our Famedly memberships;
	// FamedlyFormUnknown picks as the SDK does: "{userId}_{deviceId}" in
	// msc3757 room versions, else "{userId}".
	FamedlyStateKey StateKeyForm
	FamedlyExpiry   time.Duration // expires_ts = now + this (6 min)
	FamedlyRefresh  time.Duration // rewrite period (2 min)
	// MSC4140 delayed leave: server-side delay and our restart period.
	FamedlyLeaveDelay     time.Duration // 18 s
	FamedlyLeaveRestart   time.Duration // 4 s
	MatrixRTCExpiry       time.Duration // the "expires" horizon ahead of now (4 h)
	MatrixRTCRefresh      time.Duration // rewrite period (1 h)
	MatrixRTCLeaveDelay   time.Duration // 10 s (Element Call's value)
	MatrixRTCLeaveRestart time.Duration // 5 s
	// RequestTimeout bounds each homeserver request, the final leave
	// included (5 s).
	RequestTimeout time.Duration
	// Metrics, if set, counts our delayed leaves' restarts.
	Metrics *Metrics
}

func (c PresenceConfig) withDefaults() PresenceConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.FamedlyExpiry, FamedlyExpiryGrace)
	def(&c.FamedlyRefresh, 2*time.Minute)
	def(&c.FamedlyLeaveDelay, 18*time.Second)
	def(&c.FamedlyLeaveRestart, 4*time.Second)
	def(&c.MatrixRTCExpiry, DefaultMatrixRTCExpiry)
	def(&c.MatrixRTCRefresh, time.Hour)
	def(&c.MatrixRTCLeaveDelay, 10*time.Second)
	def(&c.MatrixRTCLeaveRestart, 5*time.Second)
	def(&c.RequestTimeout, 5*time.Second)
	return c
}

// Presence is the seat writer: it holds the memberships of ours it is told
// to hold (Hold; the call supervisor decides which), one seat per call and
// dialect, and runs one slot (a goroutine that writes, refreshes and
// finally removes the membership) per state event of ours, which carries
// every seat that shares its state key. A seat whose foci change is
// rewritten in place, under the same state key, without a leave. On start
// it first removes memberships of ours left by an earlier run. Run's
// goroutine owns the slots; they publish their seats' state on the board
// for the admin view.
type Presence struct {
	cfg       PresenceConfig
	logger    *slog.Logger
	writer    RoomWriter
	tracker   *Tracker
	rooms     BotRooms
	clock     Clock
	ready     <-chan struct{}
	sessionID string
	board     board

	closer lifecycle.Closer
	mu     sync.Mutex
	want   map[SeatKey]SeatSpec // the seats to hold, as last told
	told   chan struct{}        // 1-buffered: want changed
}

// SeatSpec is what one seat of ours announces. Famedly writes the first
// focus as foci_active (with the usermedia feed for a mesh focus);
// MatrixRTC writes them as foci_preferred, its focus_active selecting the
// oldest membership as the js-sdk's does.
type SeatSpec struct {
	Foci []Focus
}

func (s SeatSpec) equal(o SeatSpec) bool { return slices.Equal(s.Foci, o.Foci) }

// BotRooms tells where the bot is joined (the roster): a seat in a room
// it is not in is never written.
type BotRooms interface {
	InRoom(room id.RoomID) bool
}

// NewPresence returns a seat writer that starts once ready is closed (the
// tracker holds the first sync's state). rooms tells it which rooms the
// bot is in. A nil clock is the system clock.
func NewPresence(logger *slog.Logger, cfg PresenceConfig, writer RoomWriter, tracker *Tracker,
	rooms BotRooms, ready <-chan struct{}, clock Clock) *Presence {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = SystemClock{}
	}
	return &Presence{cfg: cfg.withDefaults(), logger: logger, writer: writer, tracker: tracker, rooms: rooms,
		clock: clock, ready: ready, sessionID: newSessionID(), board: board{seats: map[SeatKey]*SeatStatus{}},
		told: make(chan struct{}, 1)}
}

// Hold tells the writer the whole set of seats to hold from now on, with
// what each announces; seats missing from it are left. It never blocks:
// Run applies the latest set (after it has removed an earlier run's
// memberships).
func (p *Presence) Hold(seats map[SeatKey]SeatSpec) {
	p.mu.Lock()
	p.want = maps.Clone(seats)
	p.mu.Unlock()
	signal(p.told)
}

func (p *Presence) wanted() map[SeatKey]SeatSpec {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.want
}

// Close stops Run (which then leaves every call); it is idempotent.
func (p *Presence) Close() error {
	p.closer.Close()
	return nil
}

// reconcileDelay batches bursts of tracker changes into one decision.
const reconcileDelay = 100 * time.Millisecond

// Run keeps our memberships until ctx ends or Close; it leaves every call
// before it returns.
func (p *Presence) Run(ctx context.Context) error {
	ctx, cancel := p.closer.Start(ctx)
	defer cancel()
	changes, err := p.tracker.Subscribe(ctx)
	if err != nil {
		return ignoreClosed(err)
	}
	select {
	case <-ctx.Done():
		return nil
	case <-p.ready:
	}
	if p.cfg.UserID == "" || p.cfg.DeviceID == "" {
		p.cfg.UserID, p.cfg.DeviceID = p.writer.Self()
	}
	members, err := p.tracker.Snapshot(ctx)
	if err != nil {
		return ignoreClosed(err)
	}
	delay := p.delaySupport(ctx)
	p.removeStale(ctx, members)

	st := &seating{ctx: ctx, delay: delay, slots: map[slotKey]*slot{}, exited: make(chan *slot)}
	defer func() {
		for _, s := range st.slots {
			s.stop()
		}
		st.wg.Wait()
	}()
	timer := p.clock.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case c, ok := <-changes:
			if !ok {
				return nil
			}
			// After a Resync what we missed is gone: a membership of ours
			// that vanished meanwhile is found by the delayed leave's
			// restart, or the refresh.
			if c.Kind != Resync {
				p.note(st, c)
			}
			continue
		case <-p.told:
			timer.Reset(reconcileDelay)
			continue
		case s := <-st.exited:
			delete(st.slots, s.key)
		case <-timer.C():
		}
		p.reconcile(st)
	}
}

// seating is the state of one Run, owned by its goroutine: our slots, each
// carrying one or more seats. A stopping slot stays in slots until its
// goroutine exits, so its state key never has two writers.
type seating struct {
	ctx    context.Context
	delay  bool // the homeserver does MSC4140
	slots  map[slotKey]*slot
	exited chan *slot
	wg     sync.WaitGroup
}

// note tells the slot whose own membership vanished (delayed leave fired,
// overwritten) to write it again.
func (p *Presence) note(st *seating, c Change) {
	m := c.Member
	if (c.Kind != Left && c.Kind != Expired) || m.UserID != p.cfg.UserID || m.DeviceID != p.cfg.DeviceID {
		return
	}
	// The feed forgets a room in the roster before the tracker drops its
	// members: ours leaving a room we are not in is the bot leaving (or
	// kicked), not a membership to write again.
	if !p.rooms.InRoom(m.Call.Room) {
		p.leaveRoom(st, m.Call.Room)
		return
	}
	k := SeatKey{Call: m.Call, Dialect: m.Dialect}
	// Only the seats a slot carries: one it dropped leaves on purpose.
	if s := st.slots[slotOf(k)]; s != nil && !s.stopping && s.carries(k) {
		signal(s.vanished)
	}
}

// leaveRoom stops our slots in a room the bot is no longer in, without a
// write there.
func (p *Presence) leaveRoom(st *seating, room id.RoomID) {
	for k, s := range st.slots {
		if k.Room == room && !s.stopping {
			p.logger.Info("leaving call", "room", room, "dialect", k.Dialect.String(), "reason", "the bot is no longer in the room")
			s.stopGone()
		}
	}
}

// reconcile gives the seats we are told to hold their slots (in the slot
// of their state key), updates what they announce in place, and takes the
// others away; a slot left with no seat leaves.
func (p *Presence) reconcile(st *seating) {
	want := p.wanted()
	for _, s := range st.slots {
		if !s.stopping && !p.rooms.InRoom(s.key.Room) {
			p.leaveRoom(st, s.key.Room)
		}
		if s.stopping {
			continue
		}
		for _, k := range s.carried() {
			if _, ok := want[k]; !ok {
				p.logger.Info("leaving call", "room", k.Call.Room, "call_id", k.Call.CallID, "dialect", k.Dialect.String())
				s.remove(k)
			}
		}
		if len(s.carried()) == 0 {
			s.stop()
		}
	}
	keys := make([]SeatKey, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Less(keys[j]) })
	for _, k := range keys {
		if !p.rooms.InRoom(k.Call.Room) {
			continue // never written in a room the bot is not in
		}
		s := st.slots[slotOf(k)]
		switch {
		case s != nil && s.stopping:
			continue // replaced once it has exited
		case s != nil && s.carries(k):
			s.update(k, want[k])
			continue
		}
		p.logger.Info("joining call", "room", k.Call.Room, "call_id", k.Call.CallID, "dialect", k.Dialect.String())
		if s == nil {
			s = p.newSlot(st.ctx, slotOf(k), st.delay)
			st.slots[s.key] = s
			s.add(k, want[k])
			st.wg.Add(1)
			go func() {
				defer st.wg.Done()
				s.run()
				select {
				case st.exited <- s:
				case <-st.ctx.Done():
				}
			}()
			continue
		}
		s.add(k, want[k])
	}
}

// delaySupport asks the homeserver once whether it does MSC4140.
func (p *Presence) delaySupport(ctx context.Context) bool {
	rctx, cancel := context.WithTimeout(ctx, p.cfg.RequestTimeout)
	defer cancel()
	ok, err := p.writer.DelaySupported(rctx)
	if err != nil {
		p.logger.Warn("could not ask the homeserver about delayed events; joining without a delayed leave", "error", err)
	} else if !ok {
		p.logger.Warn("the homeserver does not advertise MSC4140 delayed events: a killed coordinator stays in calls until its membership expires")
	}
	return ok
}

// removeStale cancels delayed leaves scheduled by an earlier run for our
// call-member state and removes memberships of our user and device that the
// tracker still shows, so nothing of a killed run lingers. Seats that are
// still wanted write fresh memberships right after.
func (p *Presence) removeStale(ctx context.Context, members []Member) {
	rctx, cancel := context.WithTimeout(ctx, 4*p.cfg.RequestTimeout)
	defer cancel()
	scheduled, err := p.writer.ListScheduled(rctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		p.logger.Debug("could not list delayed events", "error", err)
	}
	for _, s := range scheduled {
		if s.EventType != FamedlyEventType && s.EventType != MatrixRTCEventType {
			continue
		}
		if err := p.writer.UpdateDelayed(rctx, s.DelayID, DelayCancel); err != nil && !errors.Is(err, ErrDelayGone) {
			p.logger.Warn("could not cancel a delayed leave of an earlier run", "room", s.Room, "state_key", s.StateKey, "error", err)
		}
	}
	done := map[Source]bool{} // our Famedly calls of a room share one event
	for _, m := range members {
		if m.UserID != p.cfg.UserID || m.DeviceID != p.cfg.DeviceID || m.Dialect == DialectRTCSticky || !p.rooms.InRoom(m.Call.Room) {
			continue
		}
		shape := shapeOfMember(m)
		src := Source{Room: m.Call.Room, EventType: shape.eventType, StateKey: shape.stateKey}
		if done[src] {
			continue
		}
		done[src] = true
		if err := p.writeLeave(rctx, shape); err != nil {
			p.logger.Warn("could not remove a membership of an earlier run", "room", m.Call.Room, "state_key", m.StateKey, "error", err)
			continue
		}
		p.logger.Info("removed a membership of an earlier run", "room", m.Call.Room, "state_key", m.StateKey, "dialect", m.Dialect.String())
	}
}
