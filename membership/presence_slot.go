package membership

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"maunium.net/go/mautrix/id"
)

// slotKey names one state event of ours. Every Famedly state-key form names
// our user or device, not the call, so all our Famedly seats in a room share
// one event; a MatrixRTC state key names the call's application and id.
type slotKey struct {
	Room        id.RoomID
	Dialect     Dialect
	Application string // MatrixRTC only
	CallID      string // MatrixRTC only
}

func slotOf(k SeatKey) slotKey {
	s := slotKey{Room: k.Call.Room, Dialect: k.Dialect}
	if k.Dialect == DialectMatrixRTC {
		s.Application, s.CallID = k.Call.Application, k.Call.CallID
	}
	return s
}

// slot is the single writer of one state event of ours, carrying one or
// more seats (our membership in a call, in one dialect). Seats that share a
// state key must be written together: each writing alone drops the others'
// entries, which then look left and are written again, without end. Its
// goroutine schedules the delayed leave first (crash-safe from the first
// moment), writes the join, restarts the leave every few seconds, rewrites
// the join on the dialect's cadence or when its seats change, and removes
// the membership when stopped.
type slot struct {
	p      *Presence
	key    slotKey
	delay  bool          // the homeserver does MSC4140
	guard  time.Duration // the delay of the scheduled delayed leave, once there is one
	logger *slog.Logger

	ctx      context.Context
	cancel   context.CancelFunc
	stopping bool          // set by Run's goroutine only
	gone     atomic.Bool   // the bot is no longer in the room: write nothing there
	changed  chan struct{} // 1-buffered: the seats changed
	vanished chan struct{} // 1-buffered: our membership vanished

	mu    sync.Mutex
	seats map[SeatKey]seatEntry // changed by Run's goroutine, read by the slot's
}

// seatEntry is what a slot writes for one seat.
type seatEntry struct {
	spec    SeatSpec
	created time.Time // when we took the seat (MatrixRTC created_ts)
}

func (p *Presence) newSlot(parent context.Context, k slotKey, delay bool) *slot {
	ctx, cancel := context.WithCancel(parent)
	logger := p.logger.With("room", k.Room, "dialect", k.Dialect.String())
	if k.Dialect == DialectMatrixRTC {
		logger = logger.With("call_id", k.CallID)
	}
	return &slot{p: p, key: k, delay: delay, ctx: ctx, cancel: cancel, logger: logger,
		changed: make(chan struct{}, 1), vanished: make(chan struct{}, 1), seats: map[SeatKey]seatEntry{}}
}

func (s *slot) stop() { s.stopping = true; s.cancel() }

// stopGone stops a slot whose room the bot left or was removed from: it
// can no longer write there, so it only cancels its delayed leave.
func (s *slot) stopGone() { s.gone.Store(true); s.stop() }

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// add makes the slot carry seat k from its next write on.
func (s *slot) add(k SeatKey, spec SeatSpec) {
	s.mu.Lock()
	s.seats[k] = seatEntry{spec: spec, created: s.p.clock.Now().Truncate(time.Millisecond)}
	s.p.board.set(k, func(st *SeatStatus) { st.State = "starting" })
	s.mu.Unlock()
	signal(s.changed)
}

// update changes what seat k announces; the slot rewrites its event in
// place (same state key, no leave). An unchanged spec writes nothing.
func (s *slot) update(k SeatKey, spec SeatSpec) {
	s.mu.Lock()
	e, ok := s.seats[k]
	changed := ok && !e.spec.equal(spec)
	if changed {
		e.spec = spec
		s.seats[k] = e
	}
	s.mu.Unlock()
	if changed {
		s.logger.Info("own membership: announcing new foci in place", "call_id", k.Call.CallID)
		signal(s.changed)
	}
}

// remove drops seat k; the next write leaves it out.
func (s *slot) remove(k SeatKey) {
	s.mu.Lock()
	delete(s.seats, k)
	s.p.board.drop(k)
	s.mu.Unlock()
	signal(s.changed)
}

func (s *slot) carries(k SeatKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.seats[k]
	return ok
}

// carried lists the slot's seats in a stable order (the order of the
// entries in a shared Famedly event).
func (s *slot) carried() []SeatKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sortedLocked()
}

func (s *slot) sortedLocked() []SeatKey {
	keys := make([]SeatKey, 0, len(s.seats))
	for k := range s.seats {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Less(keys[j]) })
	return keys
}

// publish updates the admin view of every seat the slot carries.
func (s *slot) publish(f func(k SeatKey, st *SeatStatus)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.seats {
		s.p.board.set(k, func(st *SeatStatus) { f(k, st) })
	}
}

// dropAll takes the slot's seats off the admin view as it ends.
func (s *slot) dropAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.seats {
		s.p.board.drop(k)
	}
}

// timings returns the dialect's leave delay, restart period and refresh.
func (s *slot) timings() (delay, restart, refresh time.Duration) {
	c := s.p.cfg
	if s.key.Dialect == DialectMatrixRTC {
		return c.MatrixRTCLeaveDelay, c.MatrixRTCLeaveRestart, c.MatrixRTCRefresh
	}
	return c.FamedlyLeaveDelay, c.FamedlyLeaveRestart, c.FamedlyRefresh
}

// Retry pacing for failed homeserver requests.
const (
	seatRetryMin = time.Second
	seatRetryMax = 30 * time.Second
)

// nextRetry doubles the wait after a failure, within those bounds.
func nextRetry(d time.Duration) time.Duration { return min(max(2*d, seatRetryMin), seatRetryMax) }

func (s *slot) run() {
	p := s.p
	defer s.dropAll()
	shape, ok := s.shape()
	if !ok {
		return
	}
	s.publish(func(_ SeatKey, st *SeatStatus) { st.StateKey = shape.stateKey })
	leaveDelay, restartEvery, refreshEvery := s.timings()
	var delayID string
	joined := false
	retry := time.Duration(0)
	var nextRestart, nextRefresh time.Time
	for {
		now := p.clock.Now()
		var err error
		switch {
		case s.delay && delayID == "":
			delayID, err = s.scheduleLeave(shape, leaveDelay)
			nextRestart = now.Add(restartEvery)
		case !joined:
			err = s.writeJoin(shape)
			if err == nil {
				joined = true
				nextRefresh = now.Add(refreshEvery)
			}
		}
		if err != nil {
			retry = nextRetry(retry)
			s.logger.Warn("own membership: homeserver request failed; retrying", "error", err, "retry_in", retry)
			s.publish(func(_ SeatKey, st *SeatStatus) { st.State = "retrying"; st.LastError = err.Error() })
			if !s.sleep(retry) {
				break
			}
			continue
		}
		retry = 0
		if s.delay && delayID == "" || !joined {
			continue
		}
		wake := nextRefresh
		if s.delay && nextRestart.Before(wake) {
			wake = nextRestart
		}
		timer := p.clock.NewTimer(wake.Sub(now))
		select {
		case <-s.ctx.Done():
			timer.Stop()
			s.leave(shape, delayID)
			return
		case <-s.changed:
			timer.Stop()
			joined = false
			continue
		case <-s.vanished:
			timer.Stop()
			s.logger.Info("own membership gone from the room; writing it again")
			s.cancelDelayed(delayID)
			delayID, joined = "", false
			continue
		case <-timer.C():
		}
		now = p.clock.Now()
		if s.delay && !now.Before(nextRestart) {
			if err := s.restart(delayID); errors.Is(err, ErrDelayGone) {
				// It fired (we were cut off too long) or the server dropped it
				// when we wrote our state: schedule anew and write the join
				// again in case the leave was applied.
				s.logger.Info("delayed leave gone; scheduling it again and rewriting the membership")
				delayID, joined = "", false
			} else if err != nil {
				s.logger.Warn("could not restart the delayed leave", "error", err)
			}
			nextRestart = now.Add(restartEvery)
		}
		if !now.Before(nextRefresh) {
			joined = false
		}
	}
	s.leave(shape, delayID)
}

// shape resolves the state key, which needs the room version.
func (s *slot) shape() (seatShape, bool) {
	retry := time.Duration(0)
	for {
		ctx, cancel := context.WithTimeout(s.ctx, s.p.cfg.RequestTimeout)
		v, err := s.p.writer.RoomVersion(ctx, s.key.Room)
		cancel()
		if err == nil {
			return shapeSlot(s.key, s.p.cfg.UserID, s.p.cfg.DeviceID, v, s.p.cfg.FamedlyStateKey), true
		}
		retry = nextRetry(retry)
		s.logger.Warn("own membership: cannot read the room version; retrying", "error", err, "retry_in", retry)
		if !s.sleep(retry) {
			return seatShape{}, false
		}
	}
}

// sleep waits d unless the slot stops; it reports whether to go on.
func (s *slot) sleep(d time.Duration) bool {
	t := s.p.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

func (s *slot) scheduleLeave(shape seatShape, delay time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.p.cfg.RequestTimeout)
	defer cancel()
	content, err := s.p.leaveContent(ctx, shape)
	if err != nil {
		return "", err
	}
	id, err := s.p.writer.ScheduleState(ctx, s.key.Room, shape.eventType, shape.stateKey, content, delay)
	if errors.Is(err, ErrDelayUnsupported) {
		s.logger.Warn("the homeserver did not schedule the delayed leave; going on without one", "error", err)
		s.delay = false
		return "", nil
	}
	if err == nil {
		s.guard = delay
		s.publish(func(_ SeatKey, st *SeatStatus) { st.DelayedLeave = true; st.LeaveDelay = delay.String() })
	}
	return id, err
}

// writeJoin writes the memberships of every seat the slot carries now (a
// MatrixRTC event holds one: the slot never carries more).
func (s *slot) writeJoin(shape seatShape) error {
	ctx, cancel := context.WithTimeout(s.ctx, s.p.cfg.RequestTimeout)
	defer cancel()
	now := s.p.clock.Now()
	select {
	case <-s.changed: // this write carries the change
	default:
	}
	s.mu.Lock()
	keys := s.sortedLocked()
	members := make([]Member, 0, len(keys))
	for _, k := range keys {
		e := s.seats[k]
		members = append(members, s.p.ourMember(k, e.spec, e.created, now))
	}
	s.mu.Unlock()
	if len(members) == 0 {
		return nil // the slot is being stopped
	}
	content, err := s.p.joinContent(ctx, shape, members, now)
	if err != nil {
		return err
	}
	if err := s.p.writer.PutState(ctx, s.key.Room, shape.eventType, shape.stateKey, content); err != nil {
		return err
	}
	written := make(map[SeatKey]Member, len(keys))
	for i, k := range keys {
		written[k] = members[i]
	}
	s.publish(func(k SeatKey, st *SeatStatus) {
		m, ok := written[k]
		if !ok {
			return // added since: the next write carries it
		}
		st.State, st.LastError, st.LastWrite = "joined", "", now.UTC()
		if st.JoinedAt.IsZero() {
			st.JoinedAt = now.UTC()
		}
		st.StateKey, st.MembershipID, st.Foci = shape.stateKey, m.MembershipID, m.ActiveFoci
		if s.guard > 0 { // also for seats added after it was scheduled
			st.DelayedLeave, st.LeaveDelay = true, s.guard.String()
		}
	})
	return nil
}

func (s *slot) restart(delayID string) error {
	// A short bound: a restart that hangs past the server's delay is lost
	// anyway, and the next one must not queue behind it.
	ctx, cancel := context.WithTimeout(s.ctx, min(s.p.cfg.RequestTimeout, 2*time.Second))
	defer cancel()
	err := s.p.writer.UpdateDelayed(ctx, delayID, DelayRestart)
	s.noteRestart(err)
	s.p.cfg.Metrics.restarted(s.key.Dialect, err)
	return err
}

func (s *slot) cancelDelayed(delayID string) {
	if delayID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.p.cfg.RequestTimeout)
	defer cancel()
	if err := s.p.writer.UpdateDelayed(ctx, delayID, DelayCancel); err != nil && !errors.Is(err, ErrDelayGone) {
		s.logger.Debug("could not cancel the old delayed leave", "error", err)
	}
}

// leave removes our membership, bounded by the request timeout even though
// the slot's context has ended. MatrixRTC fires its prepared leave (as the
// js-sdk does); Famedly writes the leave and then cancels the delayed one
// (as the SDK does, since a "{userId}" leave frozen earlier may be stale).
// In a room the bot is no longer in, nothing can be written: the delayed
// leave is only cancelled (the server could not send it either).
func (s *slot) leave(shape seatShape, delayID string) {
	s.publish(func(_ SeatKey, st *SeatStatus) { st.State = "leaving" })
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 2*s.p.cfg.RequestTimeout)
	defer cancel()
	if s.gone.Load() {
		if delayID != "" {
			if err := s.p.writer.UpdateDelayed(ctx, delayID, DelayCancel); err != nil && !errors.Is(err, ErrDelayGone) {
				s.logger.Debug("could not cancel the delayed leave of a room we are no longer in", "error", err)
			}
		}
		s.logger.Info("left call: the bot is no longer in the room")
		return
	}
	if shape.key.Dialect == DialectMatrixRTC && delayID != "" {
		if err := s.p.writer.UpdateDelayed(ctx, delayID, DelaySend); err == nil {
			s.logger.Info("left call")
			return
		}
	}
	if err := s.p.writeLeave(ctx, shape); err != nil {
		s.logger.Warn("could not write our leave; the delayed leave or the expiry will remove us", "error", err)
		return
	}
	if delayID != "" {
		if err := s.p.writer.UpdateDelayed(ctx, delayID, DelayCancel); err != nil && !errors.Is(err, ErrDelayGone) {
			s.logger.Debug("could not cancel the delayed leave after leaving", "error", err)
		}
	}
	s.logger.Info("left call")
}
