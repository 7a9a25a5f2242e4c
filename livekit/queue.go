package livekit

import "sync"

// queue hands values from any goroutine to one consumer without ever
// blocking the producer: lksdk's callbacks and features' goroutines must not
// wait for the participant's goroutine, which may itself be waiting on
// lksdk. Its length is bounded by what producers make (one entry per lksdk
// event or Publish call), or by limit for requests that may repeat.
type queue[T any] struct {
	limit int // > 0: push drops values beyond this many waiting
	mu    sync.Mutex
	items []T
	ready chan struct{} // 1-buffered: items wait
}

func newQueue[T any]() *queue[T] { return &queue[T]{ready: make(chan struct{}, 1)} }

func (q *queue[T]) push(v T) {
	q.mu.Lock()
	if q.limit > 0 && len(q.items) >= q.limit {
		q.mu.Unlock()
		return
	}
	q.items = append(q.items, v)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take returns everything queued, oldest first.
func (q *queue[T]) take() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.items
	q.items = nil
	return out
}
