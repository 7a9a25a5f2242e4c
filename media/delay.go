package media

import "time"

// keepCap is the largest buffer a delay queue keeps for reuse once its frame
// has left: enough for Opus and typical video deltas, while the rare large
// key frame's buffer goes back to the garbage collector instead of being held
// for the life of the line.
const keepCap = 32 << 10

// slot is one frame waiting in a delay queue. Its frame's Data is the
// queue's own copy; the slot keeps that buffer after the frame leaves so the
// next frame landing there copies without allocating.
type slot struct {
	f   Frame
	due time.Time
}

// delayQueue is a FIFO ring of frames bounded by count and by bytes of
// frame data. It grows up to maxN slots as needed, so a large bound costs
// nothing until used. It is not safe for concurrent use: its line guards
// it.
type delayQueue struct {
	slots    []slot
	head, n  int
	bytes    int
	maxN     int
	maxBytes int
}

func newDelayQueue(maxN, maxBytes int) delayQueue {
	return delayQueue{maxN: maxN, maxBytes: maxBytes}
}

func (q *delayQueue) len() int { return q.n }

// fits reports whether a frame of size bytes can ever be queued.
func (q *delayQueue) fits(size int) bool { return size <= q.maxBytes }

// full reports whether a frame of size bytes needs older frames dropped
// first.
func (q *delayQueue) full(size int) bool {
	return q.n == q.maxN || q.bytes+size > q.maxBytes
}

// push copies f to the tail, due at due. The caller made room (full is
// false).
func (q *delayQueue) push(f Frame, due time.Time) {
	if q.n == len(q.slots) {
		q.grow()
	}
	s := &q.slots[(q.head+q.n)%len(q.slots)]
	data := append(s.f.Data[:0], f.Data...)
	s.f = f
	s.f.Data = data
	s.due = due
	q.n++
	q.bytes += len(data)
}

func (q *delayQueue) grow() {
	size := min(max(2*len(q.slots), 8), q.maxN)
	slots := make([]slot, size)
	for i := range q.slots {
		slots[i] = q.slots[(q.head+i)%len(q.slots)]
	}
	q.slots, q.head = slots, 0
}

// peek returns the head; the queue must not be empty.
func (q *delayQueue) peek() *slot { return &q.slots[q.head] }

// pop removes the head and returns its frame. Its Data is handed over to
// the caller, who gives back spare, a buffer it no longer needs (the Data of
// the frame it popped before), for the slot to reuse.
func (q *delayQueue) pop(spare []byte) Frame {
	s := q.peek()
	f := s.f
	s.f = Frame{Data: reusable(spare)}
	q.advance(len(f.Data))
	return f
}

// dropHead discards the head, keeping its buffer in the slot.
func (q *delayQueue) dropHead() {
	s := q.peek()
	size := len(s.f.Data)
	s.f = Frame{Data: reusable(s.f.Data)}
	q.advance(size)
}

func (q *delayQueue) advance(size int) {
	q.bytes -= size
	q.head = (q.head + 1) % len(q.slots)
	q.n--
}

// clear drops every frame, keeping reusable buffers.
func (q *delayQueue) clear() {
	for q.n > 0 {
		q.dropHead()
	}
}

func reusable(b []byte) []byte {
	if cap(b) > keepCap {
		return nil
	}
	return b[:0]
}
