package jwtservice

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"
	"golang.org/x/sync/singleflight"
)

// Room settings lk-jwt-service uses when it makes a room exist.
const (
	roomEmptyTimeout     = 300 // s
	roomDepartureTimeout = 20  // s
)

// roomCreator is the part of LiveKit's RoomService the ensurer needs.
type roomCreator interface {
	CreateRoom(ctx context.Context, req *livekit.CreateRoomRequest) (*livekit.Room, error)
}

// roomEnsurer makes LiveKit rooms exist for full-access users. CreateRoom is
// idempotent, but calling it on every token request costs a round trip, so
// rooms known to exist are remembered for a short while, and concurrent
// requests for one room share one call.
type roomEnsurer struct {
	rs      roomCreator
	ttl     time.Duration
	timeout time.Duration
	now     func() time.Time
	group   singleflight.Group

	mu    sync.Mutex
	known map[string]time.Time // room -> remembered until
}

func newRoomEnsurer(rs roomCreator, ttl, timeout time.Duration, now func() time.Time) *roomEnsurer {
	return &roomEnsurer{rs: rs, ttl: ttl, timeout: timeout, now: now, known: map[string]time.Time{}}
}

// ensure makes room exist. Errors wrap ErrLiveKitUnreachable when LiveKit
// could not be reached in time, ErrCreateRoom when it answered with an error.
func (e *roomEnsurer) ensure(ctx context.Context, room string) error {
	now := e.now()
	e.mu.Lock()
	until, ok := e.known[room]
	e.mu.Unlock()
	if ok && now.Before(until) {
		return nil
	}
	ch := e.group.DoChan(room, func() (any, error) {
		// Detached from one caller's cancellation; bounded by our timeout.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.timeout)
		defer cancel()
		_, err := e.rs.CreateRoom(cctx, &livekit.CreateRoomRequest{
			Name: room, EmptyTimeout: roomEmptyTimeout, DepartureTimeout: roomDepartureTimeout,
		})
		if err != nil {
			return nil, classifyLiveKitError(err)
		}
		e.remember(room)
		return nil, nil
	})
	select {
	case res := <-ch:
		return res.Err
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrLiveKitUnreachable, ctx.Err())
	}
}

func (e *roomEnsurer) remember(room string) {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	// Sweep on insert so the map stays bounded by the rooms of one TTL.
	if len(e.known) >= 1024 {
		for r, until := range e.known {
			if !now.Before(until) {
				delete(e.known, r)
			}
		}
	}
	e.known[room] = now.Add(e.ttl)
}

// forget drops a room, e.g. when LiveKit reports it finished.
func (e *roomEnsurer) forget(room string) {
	e.mu.Lock()
	delete(e.known, room)
	e.mu.Unlock()
}

func classifyLiveKitError(err error) error {
	var netErr net.Error
	var twErr twirp.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr):
		return fmt.Errorf("%w: %w", ErrLiveKitUnreachable, err)
	case errors.As(err, &twErr) && twErr.Code() == twirp.Unavailable:
		return fmt.Errorf("%w: %w", ErrLiveKitUnreachable, err)
	default:
		return fmt.Errorf("%w: %w", ErrCreateRoom, err)
	}
}
