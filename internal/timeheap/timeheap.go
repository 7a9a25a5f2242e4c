// Package timeheap orders values by a time, so that an actor can wait on one
// clock timer for the earliest of many deadlines. Entries keep their place in
// the heap, so a deadline can be moved or cancelled in O(log n).
package timeheap

import (
	"container/heap"
	"time"
)

// Entry is one scheduled value. Keep the pointer to move or remove it. The
// zero Entry is not scheduled, so a caller may embed one in its own record
// and Schedule it, saving an allocation per value.
type Entry[T any] struct {
	At    time.Time
	Value T
	pos   int // 1 + position in the heap; 0 when not in it
}

// Scheduled reports whether the entry is in its heap.
func (e *Entry[T]) Scheduled() bool { return e.pos > 0 }

// Heap is a min-heap of entries by At. The zero value is empty and ready.
// It is not safe for concurrent use: one owner uses it.
type Heap[T any] struct{ q queue[T] }

// Len is the number of scheduled entries.
func (h *Heap[T]) Len() int { return len(h.q) }

// Push schedules v at at.
func (h *Heap[T]) Push(at time.Time, v T) *Entry[T] {
	e := &Entry[T]{Value: v}
	h.Schedule(e, at)
	return e
}

// Schedule puts e, with its Value set by the caller, in the heap at at; an
// entry already scheduled is moved there instead.
func (h *Heap[T]) Schedule(e *Entry[T], at time.Time) {
	if e.Scheduled() {
		h.Move(e, at)
		return
	}
	e.At = at
	heap.Push(&h.q, e)
}

// Move reschedules a scheduled entry to at.
func (h *Heap[T]) Move(e *Entry[T], at time.Time) {
	e.At = at
	heap.Fix(&h.q, e.pos-1)
}

// Remove unschedules e; removing an entry that is not scheduled does nothing.
func (h *Heap[T]) Remove(e *Entry[T]) {
	if e.Scheduled() {
		heap.Remove(&h.q, e.pos-1)
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

// queue implements heap.Interface and keeps each entry's position.
type queue[T any] []*Entry[T]

func (q queue[T]) Len() int           { return len(q) }
func (q queue[T]) Less(i, j int) bool { return q[i].At.Before(q[j].At) }
func (q queue[T]) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].pos, q[j].pos = i+1, j+1
}
func (q *queue[T]) Push(x any) {
	e := x.(*Entry[T])
	*q = append(*q, e)
	e.pos = len(*q)
}
func (q *queue[T]) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	e.pos = 0
	return e
}
