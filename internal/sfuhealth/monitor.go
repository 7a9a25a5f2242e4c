// Package sfuhealth watches whether LiveKit's RoomService answers: the one
// SFU health signal that the call supervisor and /healthz detail both read.
package sfuhealth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
)

// Lister is the part of LiveKit's RoomService a check needs
// (*lksdk.RoomServiceClient has it).
type Lister interface {
	ListRooms(ctx context.Context, req *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error)
}

// State is what the last check found.
type State string

const (
	// StateUnknown: no check has finished yet. It is not a failure: a
	// consumer must not treat the SFU as down before anyone asked it.
	StateUnknown State = "unknown"
	// StateHealthy: the last listing was answered.
	StateHealthy State = "healthy"
	// StateUnreachable: the last listing failed, whatever the cause (refused,
	// timed out, an error status, our key refused).
	StateUnreachable State = "unreachable"
)

// Status is a snapshot of the monitor.
type Status struct {
	State State
	// Since is when State began (for StateUnknown: when the monitor was made).
	Since time.Time
	// LastCheck is when the last check finished; zero before the first.
	LastCheck time.Time
	// LastError is why the last check failed ("" after a success). It is
	// the transport's or LiveKit's message, shortened, with anything shaped
	// like a token removed.
	LastError string
	// ConsecutiveFailures counts failed checks since the last success.
	ConsecutiveFailures int
}

// Config tunes the checks; zero values take the defaults.
type Config struct {
	Interval time.Duration // between checks (default 10 s)
	Timeout  time.Duration // bound on one check (default 5 s)
}

// Defaults of Config.
const (
	DefaultInterval = 10 * time.Second
	DefaultTimeout  = 5 * time.Second
)

// probeRoom is the one name each check asks LiveKit about: a filtered
// listing costs the same on an SFU with thousands of rooms as on an idle one.
const probeRoom = "switchboard-health-probe"

// Monitor polls LiveKit and keeps the latest Status.
type Monitor struct {
	logger *slog.Logger
	cfg    Config
	lister Lister
	now    func() time.Time
	// ticker makes the ticks between checks; tests replace it.
	ticker func(time.Duration) (<-chan time.Time, func())

	closeOnce sync.Once
	closed    chan struct{}

	mu      sync.Mutex
	status  Status
	changed chan struct{} // closed and replaced at every State change
}

// New returns a monitor in StateUnknown; it starts nothing (see Run).
func New(logger *slog.Logger, cfg Config, lister Lister) *Monitor {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	m := &Monitor{
		logger: logger, cfg: cfg, lister: lister, now: time.Now,
		ticker: func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		},
		closed:  make(chan struct{}),
		changed: make(chan struct{}),
	}
	m.status = Status{State: StateUnknown, Since: m.now()}
	return m
}

// Status returns the latest status.
func (m *Monitor) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status
}

// Changed returns a channel that is closed at the next change of State (not
// at checks that leave it as it was). Take it before reading Status, so a
// change between the two is not missed.
func (m *Monitor) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

// Run checks at once, then every Interval, until ctx ends or Close is
// called. It returns nil then, after its last check has ended.
func (m *Monitor) Run(ctx context.Context) error {
	ticks, stop := m.ticker(m.cfg.Interval)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-m.closed:
			return nil
		default:
		}
		m.check(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-m.closed:
			return nil
		case <-ticks:
		}
	}
}

// Close stops Run (a check under way ends within Timeout). It may be called
// any number of times.
func (m *Monitor) Close() error {
	m.closeOnce.Do(func() { close(m.closed) })
	return nil
}

// check lists the probe room once and records the outcome. A check cut short
// by shutdown records nothing: it says nothing about the SFU.
func (m *Monitor) check(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	_, err := m.lister.ListRooms(cctx, &livekit.ListRoomsRequest{Names: []string{probeRoom}})
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within %v: %w", m.cfg.Timeout, err)
	}
	m.record(err)
}

// record updates the status and wakes the waiters of a State change.
func (m *Monitor) record(err error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := m.status
	next := Status{State: StateHealthy, Since: prev.Since, LastCheck: now}
	if err != nil {
		next.State, next.LastError, next.ConsecutiveFailures = StateUnreachable, scrub(err.Error()), prev.ConsecutiveFailures+1
	}
	if next.State != prev.State {
		next.Since = now
		close(m.changed)
		m.changed = make(chan struct{})
		if err != nil {
			m.logger.Warn("LiveKit RoomService unreachable", "was", prev.State, "error", next.LastError)
		} else {
			m.logger.Info("LiveKit RoomService answers", "was", prev.State)
		}
	}
	m.status = next
}
