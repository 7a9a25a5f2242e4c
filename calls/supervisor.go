package calls

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/lifecycle"
	"github.com/switchboard-rtc/switchboard/media"
	"github.com/switchboard-rtc/switchboard/membership"
)

// Members is the tracker as the supervisor reads it.
type Members interface {
	Subscribe(ctx context.Context) (<-chan membership.Change, error)
	Snapshot(ctx context.Context) ([]membership.Member, error)
}

// SeatHolder is the seat writer (membership.Presence): it holds the seats
// it is told to, and reports their state.
type SeatHolder interface {
	Hold(seats map[membership.SeatKey]membership.SeatSpec)
	Seats() []membership.SeatStatus
}

// Self names the bot's user (the room writer knows it once logged in).
type Self interface {
	Self() (id.UserID, id.DeviceID)
}

// Config is the supervisor's typed configuration.
type Config struct {
	Policy JoinPolicy
	// Bounds on our seats (one per call and dialect), per room and in all:
	// any member can advertise calls, and each seat costs requests.
	MaxSeatsPerRoom int // DefaultMaxSeatsPerRoom
	MaxSeats        int // DefaultMaxSeats
	// Recheck is how often the decisions are made again without a
	// membership change, so an engine's health is heeded (5 s).
	Recheck time.Duration
	Clock   membership.Clock // the system clock when nil
	// Features is each call's media features.
	Features FeaturePlan
	// Sound makes the announcement !call play NAME plays in room; nil:
	// playing is not configured.
	Sound func(room id.RoomID, name string) (media.Factory, error)
	// Store keeps the room commands' overrides across restarts; nil: in
	// memory only.
	Store OverrideStore
}

// Supervisor decides which calls we take part in. Its Run goroutine owns
// every decision; the admin view reads a copy.
type Supervisor struct {
	cfg     Config
	logger  *slog.Logger
	members Members
	seats   SeatHolder
	facts   RoomFacts
	self    Self
	engines []Engine
	ready   <-chan struct{}

	closer lifecycle.Closer

	commands chan commandRequest // to Run
	stopped  chan struct{}       // closed when Run returns
	stop     sync.Once

	mu        sync.Mutex
	view      []Decision // the latest decisions, for the admin view
	refused   map[membership.SeatKey]string
	overrides []Override
}

// reconcileDelay batches bursts of membership changes into one decision.
const reconcileDelay = 100 * time.Millisecond

// New returns a supervisor that starts deciding once ready is closed (the
// tracker holds the first sync's state). engines are asked in order: the
// first that can carry a call gets it.
func New(logger *slog.Logger, cfg Config, members Members, seats SeatHolder, facts RoomFacts, self Self,
	ready <-chan struct{}, engines ...Engine) *Supervisor {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxSeatsPerRoom <= 0 {
		cfg.MaxSeatsPerRoom = DefaultMaxSeatsPerRoom
	}
	if cfg.MaxSeats <= 0 {
		cfg.MaxSeats = DefaultMaxSeats
	}
	if cfg.Recheck <= 0 {
		cfg.Recheck = 5 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = membership.SystemClock{}
	}
	return &Supervisor{cfg: cfg, logger: logger, members: members, seats: seats, facts: facts, self: self,
		engines: engines, ready: ready, commands: make(chan commandRequest), stopped: make(chan struct{})}
}

// Close stops Run; it is idempotent.
func (s *Supervisor) Close() error {
	s.closer.Close()
	return nil
}

// Run decides until ctx ends or Close. When it returns, every engine has
// been told to release its calls and the seat writer to hold nothing.
func (s *Supervisor) Run(ctx context.Context) error {
	ctx, cancel := s.closer.Start(ctx)
	defer cancel()
	defer s.stop.Do(func() { close(s.stopped) })
	changes, err := s.members.Subscribe(ctx)
	if err != nil {
		return ignoreEnd(err)
	}
	select {
	case <-ctx.Done():
		return nil
	case <-s.ready:
	}
	self, _ := s.self.Self()
	st := newState(self, s.cfg)
	if err := st.reload(ctx, s.members); err != nil {
		return ignoreEnd(err)
	}
	s.loadOverrides(ctx, st)
	defer s.releaseAll(st)
	timer := s.cfg.Clock.NewTimer(s.next(s.decide(st)))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case c, ok := <-changes:
			if !ok {
				return nil
			}
			if c.Kind == membership.Resync {
				// We fell behind and the tracker dropped what we missed.
				if err := st.reload(ctx, s.members); err != nil {
					return ignoreEnd(err)
				}
			} else {
				st.note(c)
			}
			timer.Reset(reconcileDelay)
			continue
		case req := <-s.commands:
			res, decided, waiting := s.command(st, req.room, req.cmd, req.sound)
			if decided {
				s.saveOverrides(ctx, st)
				timer.Reset(s.next(waiting))
			}
			req.reply <- res
			continue
		case <-timer.C():
		}
		timer.Reset(s.next(s.decide(st)))
		s.saveOverrides(ctx, st) // a call's record command ends with the call
	}
}

// next is when to decide again: soon while a call waits for our
// membership to be written, else at the recheck.
func (s *Supervisor) next(waiting bool) time.Duration {
	if waiting {
		return reconcileDelay
	}
	return s.cfg.Recheck
}

// releaseAll ends what Run started: engines release their calls, the
// seat writer leaves.
func (s *Supervisor) releaseAll(st *state) {
	for call, c := range st.carried {
		c.engine.Release(call)
	}
	s.seats.Hold(nil)
}

func ignoreEnd(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, membership.ErrClosed) {
		return nil
	}
	return err
}
