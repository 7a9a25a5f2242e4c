package media

import (
	"fmt"
	"testing"
	"time"
)

// The ring keeps FIFO order as it grows while wrapped, and its byte count
// follows what it holds.
func TestDelayQueueGrowsInOrder(t *testing.T) {
	q := newDelayQueue(100, 1<<20)
	t0 := time.Unix(0, 0)
	var spare []byte
	next, head := 0, 0
	push := func(n int) {
		for range n {
			q.push(Frame{Data: fmt.Appendf(nil, "%03d", next)}, t0.Add(time.Duration(next)))
			next++
		}
	}
	pop := func(n int) {
		for range n {
			if due := q.peek().due; !due.Equal(t0.Add(time.Duration(head))) {
				t.Fatalf("head due %v, want %d", due, head)
			}
			f := q.pop(spare)
			if want := fmt.Sprintf("%03d", head); string(f.Data) != want {
				t.Fatalf("popped %q, want %s", f.Data, want)
			}
			spare = f.Data
			head++
		}
	}
	push(6)
	pop(4)
	push(20) // wraps, then grows twice while wrapped
	pop(10)
	push(50)
	pop(next - head)
	if q.len() != 0 || q.bytes != 0 {
		t.Fatalf("len %d bytes %d", q.len(), q.bytes)
	}
}

// A steady stream through the queue copies into reused buffers: no
// allocation per frame once the ring has its size.
func TestDelayQueueReusesBuffers(t *testing.T) {
	q := newDelayQueue(8, 1<<20)
	f := Frame{Data: make([]byte, 160)}
	var spare []byte
	cycle := func() {
		q.push(f, time.Time{})
		q.push(f, time.Time{})
		spare = q.pop(spare).Data
		q.dropHead()
	}
	cycle()
	if n := testing.AllocsPerRun(100, cycle); n != 0 {
		t.Fatalf("%v allocations per cycle", n)
	}
	big := Frame{Data: make([]byte, keepCap+1)}
	q.push(big, time.Time{})
	q.dropHead()
	if s := q.slots[(q.head+7)%8]; s.f.Data != nil {
		t.Fatalf("kept a %d-byte buffer", cap(s.f.Data))
	}
}
