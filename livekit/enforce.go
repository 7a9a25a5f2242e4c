package livekit

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/membership"
)

// RoomService is the part of LiveKit's RoomService the enforcer uses
// (*lksdk.RoomServiceClient has it).
type RoomService interface {
	ListRooms(ctx context.Context, req *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error)
	ListParticipants(ctx context.Context, req *livekit.ListParticipantsRequest) (*livekit.ListParticipantsResponse, error)
	RemoveParticipant(ctx context.Context, req *livekit.RoomParticipantIdentity) (*livekit.RemoveParticipantResponse, error)
	DeleteRoom(ctx context.Context, req *livekit.DeleteRoomRequest) (*livekit.DeleteRoomResponse, error)
}

// Members is the membership tracker as the enforcer sees it.
type Members interface {
	Snapshot(ctx context.Context) ([]membership.Member, error)
	Subscribe(ctx context.Context) (<-chan membership.Change, error)
}

// MatrixView is what the bot knows of Matrix besides memberships, and how
// far that can be trusted: unknown is not absent.
type MatrixView interface {
	// Rooms lists the Matrix rooms whose members the bot sees; LiveKit
	// rooms of other Matrix rooms are never judged.
	Rooms() []id.RoomID
	// Current reports whether the bot's sync is current. While it is not
	// (homeserver outage, sync failing), nobody is judged: joins and
	// memberships of that time are not seen yet.
	Current() bool
	// Unreadable counts events of a room the bot cannot read yet (no
	// room key to decrypt them) that may be call memberships. A room with
	// any is not judged.
	Unreadable(room id.RoomID) int
}

// EnforcerConfig tunes the enforcer. Zero values take the defaults.
type EnforcerConfig struct {
	Grace          time.Duration // how long a participant may stay without a membership (30 s)
	Interval       time.Duration // how often every room is checked (5 s)
	RequestTimeout time.Duration // bound on each LiveKit call (5 s)
	// OnRoomDeleted, if set, is told of each LiveKit room the enforcer
	// deleted (the JWT service forgets it knew the room existed).
	OnRoomDeleted func(name string)
	// Names, if set, holds the LiveKit room names the JWT service issued
	// tokens for (shared with it); otherwise the enforcer keeps its own,
	// of names derived from memberships only.
	Names *RoomNames
	// NameRetention is how long a name is remembered after its last token
	// while LiveKit has no such room (the token lifetime; default 1 h).
	NameRetention time.Duration
	// Clock is the time source (membership.SystemClock{} by default).
	Clock membership.Clock
	// Observer, if set, is told who was in each room the enforcer listed
	// (the delegated leaves use it instead of polling the same rooms).
	Observer RoomObserver
	// Metrics, if set, counts the enforcement actions.
	Metrics *Metrics
}

// Enforcer keeps LiveKit in line with Matrix: a participant whose identity
// has no valid call membership in the room's Matrix room is removed after
// the grace period, and a LiveKit room whose Matrix room has no valid member
// left is deleted. Its Run goroutine owns all state; webhooks and tracker
// changes only wake it.
type Enforcer struct {
	cfg     EnforcerConfig
	logger  *slog.Logger
	rs      RoomService
	members Members
	matrix  MatrixView
	clock   membership.Clock
	names   *RoomNames
	wake    chan struct{} // 1-buffered
	recent  recentActions // enforce_recent.go

	closeOnce sync.Once
	closed    chan struct{}
}

// NewEnforcer returns an enforcer; Run starts it.
func NewEnforcer(logger *slog.Logger, cfg EnforcerConfig, rs RoomService, members Members, matrix MatrixView) *Enforcer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 30 * time.Second
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	if cfg.NameRetention <= 0 {
		cfg.NameRetention = time.Hour
	}
	if cfg.Clock == nil {
		cfg.Clock = membership.SystemClock{}
	}
	names := cfg.Names
	if names == nil {
		names = NewRoomNames(0)
	}
	return &Enforcer{cfg: cfg, logger: logger, rs: rs, members: members, matrix: matrix, clock: cfg.Clock,
		names: names, wake: make(chan struct{}, 1), closed: make(chan struct{})}
}

// HandleLiveKitEvent takes a verified LiveKit webhook: a participant joining
// or a room starting brings the next check forward. It never blocks.
func (e *Enforcer) HandleLiveKitEvent(ev *livekit.WebhookEvent) {
	switch ev.GetEvent() {
	case "participant_joined", "room_started", "participant_left":
		e.poke()
	}
}

func (e *Enforcer) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Close stops Run; it is idempotent.
func (e *Enforcer) Close() error {
	e.closeOnce.Do(func() { close(e.closed) })
	return nil
}

// Run checks LiveKit every interval, soon after a webhook or a membership
// leaving, and when a grace period ends, until ctx ends or Close.
func (e *Enforcer) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	changes, err := e.members.Subscribe(ctx)
	if err != nil {
		return nil // the tracker has stopped: so are we
	}
	st := newEnforceState()
	timer := e.clock.NewTimer(e.cfg.Interval)
	defer timer.Stop()
	due := e.clock.Now().Add(e.cfg.Interval)
	soon := func() { due = minTime(due, e.clock.Now().Add(enforceDebounce)) }
	for {
		timer.Stop()
		timer.Reset(max(due.Sub(e.clock.Now()), 0))
		select {
		case <-ctx.Done():
			return nil
		case <-e.closed:
			return nil
		case c, ok := <-changes:
			if !ok {
				return nil
			}
			if c.Kind == membership.Left || c.Kind == membership.Expired || c.Kind == membership.Resync {
				soon()
			}
		case <-e.wake:
			soon()
		case <-timer.C():
		}
		if e.clock.Now().Before(due) {
			continue
		}
		due = e.clock.Now().Add(e.check(ctx, st))
	}
}

// enforceDebounce gathers a burst of webhooks or leaves into one check.
const enforceDebounce = 300 * time.Millisecond

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
