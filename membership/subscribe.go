package membership

import (
	"context"
	"sync"
)

// subscriber queues changes for one consumer. The tracker never waits for a
// consumer: a slow one gets its changes late, in order, and none are lost.
type subscriber struct {
	out   chan Change
	mu    sync.Mutex
	queue []Change
	wake  chan struct{} // 1-buffered: something was queued
	done  chan struct{} // closed when the tracker stops
}

// Subscribe returns a channel of every change from now on, in order. It is
// closed when the tracker stops.
func (t *Tracker) Subscribe(ctx context.Context) (<-chan Change, error) {
	s := &subscriber{out: make(chan Change), wake: make(chan struct{}, 1), done: make(chan struct{})}
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
		s.push(c)
	}
}

func (s *subscriber) push(c Change) {
	s.mu.Lock()
	s.queue = append(s.queue, c)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// close is called once, by Run, as the tracker stops.
func (s *subscriber) close() { close(s.done) }

// pump delivers queued changes until the tracker stops; it does not wait for
// a consumer that stopped reading once the tracker is closed.
func (s *subscriber) pump() {
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
			}
		}
		select {
		case <-s.wake:
		case <-s.done:
			return
		}
	}
}
