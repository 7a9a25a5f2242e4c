package timeheap

import (
	"testing"
	"time"
)

func TestHeapOrderMoveRemove(t *testing.T) {
	base := time.Unix(1000, 0)
	var h Heap[string]
	c := h.Push(base.Add(3*time.Second), "c")
	a := h.Push(base.Add(1*time.Second), "a")
	b := h.Push(base.Add(2*time.Second), "b")
	if h.Peek() != a || h.Len() != 3 {
		t.Fatalf("peek %v", h.Peek().Value)
	}
	h.Move(c, base) // now first
	h.Remove(b)
	h.Remove(b) // twice is harmless
	if b.Scheduled() || !a.Scheduled() {
		t.Fatal("scheduled flags wrong")
	}
	if e := h.PopDue(base.Add(-time.Second)); e != nil {
		t.Fatalf("popped %v before its time", e.Value)
	}
	var got []string
	for e := h.PopDue(base.Add(time.Hour)); e != nil; e = h.PopDue(base.Add(time.Hour)) {
		got = append(got, e.Value)
	}
	if len(got) != 2 || got[0] != "c" || got[1] != "a" || h.Len() != 0 || h.Peek() != nil {
		t.Fatalf("order %v", got)
	}
}

// TestScheduleEmbedded: a zero Entry embedded in a caller's record is not
// scheduled until Schedule, and a second Schedule moves it.
func TestScheduleEmbedded(t *testing.T) {
	type rec struct {
		name  string
		entry Entry[*rec]
	}
	base := time.Unix(1000, 0)
	var h Heap[*rec]
	a, b := &rec{name: "a"}, &rec{name: "b"}
	a.entry.Value, b.entry.Value = a, b
	if a.entry.Scheduled() {
		t.Fatal("zero entry claims to be scheduled")
	}
	h.Schedule(&a.entry, base.Add(time.Second))
	h.Schedule(&b.entry, base.Add(2*time.Second))
	h.Schedule(&b.entry, base) // moves b first
	if h.Len() != 2 || h.Peek().Value != b {
		t.Fatalf("len %d, first %v", h.Len(), h.Peek().Value.name)
	}
	h.Remove(&b.entry)
	if b.entry.Scheduled() || h.Peek().Value != a {
		t.Fatal("remove left b scheduled or a not first")
	}
}
