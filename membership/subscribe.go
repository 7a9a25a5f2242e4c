package membership

import (
	"context"
	"sync"

	"maunium.net/go/mautrix/id"
)

// maxQueued bounds what one subscriber may have waiting. Past it the
// subscriber's queue is dropped for a single Resync: a consumer that
// stopped reading costs the tracker a bounded amount of memory, and when it
// reads again it re-reads the Snapshot instead of a backlog.
const maxQueued = 4096

// subscriber queues changes for one consumer. The tracker never waits for a
// consumer: a slow one gets its changes late, in order, and none are lost
// unless it falls maxQueued behind (then it gets Resync).
type subscriber struct {
	out   chan Change
	mu    sync.Mutex
	queue []Change
	wake  chan struct{}        // 1-buffered: something was queued
	done  chan struct{}        // closed when the tracker stops
	ctx   context.Context      // the subscription ends with it
	rooms func(id.RoomID) bool // nil: every room
}

// unsubscribe asks Run to stop emitting to a subscriber whose context ended.
type unsubscribe struct{ s *subscriber }

// Subscribe returns a channel of every change from now on, in order, until
// ctx ends or the tracker stops; then it is closed. A subscriber that falls
// far behind receives Resync in place of what it missed.
func (t *Tracker) Subscribe(ctx context.Context) (<-chan Change, error) {
	return t.SubscribeRooms(ctx, nil)
}

// SubscribeRooms is Subscribe for the changes of the rooms for which rooms
// returns true (nil: every room). Only those are queued, so other rooms'
// traffic neither costs this subscriber memory nor pushes it into a Resync;
// Resync itself is always delivered, and means re-reading the matching
// rooms (SnapshotRoom). rooms is called on the tracker's goroutine for each
// change: it must be quick, must not block or call the tracker, and must be
// safe to call while the caller changes what it reads (a locked set).
//
// Cancellation is ctx: when it ends, the channel is closed, the tracker
// forgets the subscriber and the subscription's goroutine ends, even if
// the consumer had stopped reading.
func (t *Tracker) SubscribeRooms(ctx context.Context, rooms func(id.RoomID) bool) (<-chan Change, error) {
	s := &subscriber{out: make(chan Change), wake: make(chan struct{}, 1), done: make(chan struct{}), ctx: ctx, rooms: rooms}
	if t.stopped() {
		return nil, ErrClosed
	}
	select {
	case t.in <- s:
		return s.out, nil
	case <-t.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (t *Tracker) emit(c Change) {
	for _, s := range t.subs {
		if s.rooms == nil || s.rooms(c.Member.Call.Room) {
			s.push(c)
		}
	}
}

func (s *subscriber) push(c Change) {
	s.mu.Lock()
	if len(s.queue) >= maxQueued {
		s.queue = append(s.queue[:0], Change{Kind: Resync, At: c.At})
	} else if len(s.queue) == 0 || s.queue[0].Kind != Resync || len(s.queue) > 1 {
		s.queue = append(s.queue, c)
	}
	// A lone Resync stands for everything since: nothing more to queue.
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// close is called once, by Run, as the tracker stops.
func (s *subscriber) close() { close(s.done) }

// pump delivers queued changes until the tracker stops or the subscriber's
// context ends; it never waits for a consumer past either.
func (s *subscriber) pump(t *Tracker) {
	defer close(s.out)
	for {
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, c := range batch {
			select {
			case s.out <- c:
			case <-s.done:
				return
			case <-s.ctx.Done():
				s.leave(t)
				return
			}
		}
		select {
		case <-s.wake:
		case <-s.done:
			return
		case <-s.ctx.Done():
			s.leave(t)
			return
		}
	}
}

// leave tells Run to forget the subscriber; it gives up if the tracker
// stops first.
func (s *subscriber) leave(t *Tracker) {
	select {
	case t.in <- unsubscribe{s}:
	case <-s.done:
	}
}
