// Package timeheap orders values by a time, so that an actor can wait on one
// clock timer for the earliest of many deadlines. Entries keep their place in
// the heap, so a deadline can be moved or cancelled in O(log n).
package timeheap

import (
	"container/heap"
	"time"
)

// Entry is one scheduled value. Keep the pointer to move or remove it.
type Entry[T any] struct {
	At    time.Time
	Value T
	index int // position in the heap; -1 once removed
}

// Scheduled reports whether the entry is still in its heap.
func (e *Entry[T]) Scheduled() bool { return e.index >= 0 }

// Heap is a min-heap of entries by At. The zero value is empty and ready.
// It is not safe for concurrent use: one owner uses it.
type Heap[T any] struct{ q queue[T] }

// Len is the number of scheduled entries.
func (h *Heap[T]) Len() int { return len(h.q) }

// Push schedules v at at.
func (h *Heap[T]) Push(at time.Time, v T) *Entry[T] {
	e := &Entry[T]{At: at, Value: v}
	heap.Push(&h.q, e)
	return e
}

// Move reschedules a scheduled entry to at.
func (h *Heap[T]) Move(e *Entry[T], at time.Time) {
	e.At = at
	heap.Fix(&h.q, e.index)
}

// Remove unschedules e; removing an entry that is not scheduled does nothing.
func (h *Heap[T]) Remove(e *Entry[T]) {
	if e.Scheduled() {
		heap.Remove(&h.q, e.index)
	}
}

// Peek returns the earliest entry, or nil when empty.
func (h *Heap[T]) Peek() *Entry[T] {
	if len(h.q) == 0 {
		return nil
	}
	return h.q[0]
}

// PopDue removes and returns the earliest entry if it is due at now (At not
// after now), else nil.
func (h *Heap[T]) PopDue(now time.Time) *Entry[T] {
	if len(h.q) == 0 || h.q[0].At.After(now) {
		return nil
	}
	return heap.Pop(&h.q).(*Entry[T])
}

// All calls f for every scheduled entry, in no particular order.
func (h *Heap[T]) All(f func(*Entry[T])) {
	for _, e := range h.q {
		f(e)
	}
}

// queue implements heap.Interface and keeps each entry's index.
type queue[T any] []*Entry[T]

func (q queue[T]) Len() int           { return len(q) }
func (q queue[T]) Less(i, j int) bool { return q[i].At.Before(q[j].At) }
func (q queue[T]) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *queue[T]) Push(x any) {
	e := x.(*Entry[T])
	e.index = len(*q)
	*q = append(*q, e)
}
func (q *queue[T]) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	e.index = -1
	return e
}
