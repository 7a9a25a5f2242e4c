package mesh

import (
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/membership"
)

// TestEarlyEventsBounded: events held for calls not carried yet are
// bounded (the oldest go first), handed over in order for their own call
// only, and forgotten once older than earlyHold.
func TestEarlyEventsBounded(t *testing.T) {
	e := &Engine{}
	now := time.Unix(1000, 0)
	other := membership.CallKey{Room: "!other:x"}
	for i := range maxEarly + 2 {
		room := testCall.Room
		if i%2 == 1 {
			room = other.Room
		}
		e.holdEarly(room, "", Incoming{Sender: string(rune('a' + i%26))}, now)
	}
	if len(e.early) != maxEarly {
		t.Fatalf("%d events held, want the bound %d", len(e.early), maxEarly)
	}
	got := e.takeEarly(testCall, now.Add(earlyHold))
	if len(got) != maxEarly/2 || got[0].Sender != "c" {
		t.Errorf("took %d for the call, first from %q; want %d, the oldest two gone", len(got), got[0].Sender, maxEarly/2)
	}
	if n := len(e.takeEarly(testCall, now)); n != 0 {
		t.Errorf("%d events taken twice", n)
	}
	if n := len(e.takeEarly(other, now.Add(earlyHold+time.Millisecond))); n != 0 {
		t.Errorf("%d events older than earlyHold handed over", n)
	}
	if len(e.early) != 0 {
		t.Errorf("%d stale events kept", len(e.early))
	}
}
