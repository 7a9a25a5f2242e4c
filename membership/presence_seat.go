package membership

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// seat is one membership of ours (a call, in one dialect). Its goroutine
// owns the delayed leave and the writes: schedule the leave first (so we are
// crash-safe from the first moment), write the join, restart the leave
// every few seconds, rewrite the join on the dialect's cadence, and remove
// the membership when stopped.
type seat struct {
	p        *Presence
	key      seatKey
	template Member
	delay    bool // the homeserver does MSC4140
	logger   *slog.Logger

	ctx      context.Context
	cancel   context.CancelFunc
	stopping bool          // set by Run's goroutine only
	rejoin   chan struct{} // 1-buffered: our membership vanished
}

func (p *Presence) newSeat(parent context.Context, k seatKey, template Member, delay bool) *seat {
	ctx, cancel := context.WithCancel(parent)
	return &seat{p: p, key: k, template: template, delay: delay, ctx: ctx, cancel: cancel,
		rejoin: make(chan struct{}, 1),
		logger: p.logger.With("room", k.Call.Room, "call_id", k.Call.CallID, "dialect", k.Dialect.String())}
}

func (s *seat) stop() { s.stopping = true; s.cancel() }

func (s *seat) poke() {
	select {
	case s.rejoin <- struct{}{}:
	default:
	}
}

// timings returns the dialect's leave delay, restart period and refresh.
func (s *seat) timings() (delay, restart, refresh time.Duration) {
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

func (s *seat) run() {
	p := s.p
	defer p.board.drop(s.key)
	p.board.set(s.key, func(st *SeatStatus) { st.State = "starting" })
	shape, ok := s.shape()
	if !ok {
		return
	}
	p.board.set(s.key, func(st *SeatStatus) { st.StateKey = shape.stateKey })
	leaveDelay, restartEvery, refreshEvery := s.timings()
	created := p.clock.Now().Truncate(time.Millisecond)
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
			err = s.writeJoin(shape, created)
			if err == nil {
				joined = true
				nextRefresh = now.Add(refreshEvery)
			}
		}
		if err != nil {
			retry = nextRetry(retry)
			s.logger.Warn("own membership: homeserver request failed; retrying", "error", err, "retry_in", retry)
			p.board.set(s.key, func(st *SeatStatus) { st.State = "retrying"; st.LastError = err.Error() })
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
		case <-s.rejoin:
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
func (s *seat) shape() (seatShape, bool) {
	retry := time.Duration(0)
	for {
		ctx, cancel := context.WithTimeout(s.ctx, s.p.cfg.RequestTimeout)
		v, err := s.p.writer.RoomVersion(ctx, s.key.Call.Room)
		cancel()
		if err == nil {
			return shapeSeat(s.key, s.p.cfg.UserID, s.p.cfg.DeviceID, v, s.p.cfg.FamedlyStateKey), true
		}
		retry = nextRetry(retry)
		s.logger.Warn("own membership: cannot read the room version; retrying", "error", err, "retry_in", retry)
		if !s.sleep(retry) {
			return seatShape{}, false
		}
	}
}

// sleep waits d unless the seat stops; it reports whether to go on.
func (s *seat) sleep(d time.Duration) bool {
	t := s.p.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

func (s *seat) scheduleLeave(shape seatShape, delay time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.p.cfg.RequestTimeout)
	defer cancel()
	content, err := s.p.leaveContent(ctx, shape)
	if err != nil {
		return "", err
	}
	id, err := s.p.writer.ScheduleState(ctx, s.key.Call.Room, shape.eventType, shape.stateKey, content, delay)
	if errors.Is(err, ErrDelayUnsupported) {
		s.logger.Warn("the homeserver did not schedule the delayed leave; going on without one", "error", err)
		s.delay = false
		return "", nil
	}
	if err == nil {
		s.p.board.set(s.key, func(st *SeatStatus) { st.DelayedLeave = true; st.LeaveDelay = delay.String() })
	}
	return id, err
}

func (s *seat) writeJoin(shape seatShape, created time.Time) error {
	ctx, cancel := context.WithTimeout(s.ctx, s.p.cfg.RequestTimeout)
	defer cancel()
	now := s.p.clock.Now()
	m := s.p.ourMember(s.key, s.template, created, now)
	content, err := s.p.joinContent(ctx, shape, m, now)
	if err != nil {
		return err
	}
	if err := s.p.writer.PutState(ctx, s.key.Call.Room, shape.eventType, shape.stateKey, content); err != nil {
		return err
	}
	s.p.board.set(s.key, func(st *SeatStatus) {
		st.State, st.LastError, st.LastWrite = "joined", "", now.UTC()
		if st.JoinedAt.IsZero() {
			st.JoinedAt = now.UTC()
		}
		st.MembershipID = m.MembershipID
		st.Foci = m.ActiveFoci
	})
	return nil
}

func (s *seat) restart(delayID string) error {
	// A short bound: a restart that hangs past the server's delay is lost
	// anyway, and the next one must not queue behind it.
	ctx, cancel := context.WithTimeout(s.ctx, min(s.p.cfg.RequestTimeout, 2*time.Second))
	defer cancel()
	return s.p.writer.UpdateDelayed(ctx, delayID, DelayRestart)
}

func (s *seat) cancelDelayed(delayID string) {
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
// the seat's context has ended. MatrixRTC fires its prepared leave (as the
// js-sdk does); Famedly writes the leave and then cancels the delayed one
// (as the SDK does, since a "{userId}" leave frozen earlier may be stale).
func (s *seat) leave(shape seatShape, delayID string) {
	s.p.board.set(s.key, func(st *SeatStatus) { st.State = "leaving" })
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 2*s.p.cfg.RequestTimeout)
	defer cancel()
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
