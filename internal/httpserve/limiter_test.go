package httpserve

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	clock := &fakeNow{t: time.Unix(1_000_000, 0)}
	l := NewLimiter(0.5, 2, clock.now) // one token per 2 s
	if !l.Allow("a") || !l.Allow("a") || l.Allow("a") {
		t.Fatal("burst of 2 not enforced")
	}
	if !l.Allow("b") {
		t.Fatal("clients share a bucket")
	}
	if got := l.RetryAfter("a"); got != 2*time.Second {
		t.Fatalf("RetryAfter = %v, want 2s", got)
	}
	clock.add(2 * time.Second)
	if !l.Allow("a") || l.Allow("a") {
		t.Fatal("refill of one token after 2 s")
	}

	// A token given back later than it was taken is restored in full.
	clock.add(time.Hour)
	for range 5 {
		ok, giveBack := l.Take("c")
		if !ok {
			t.Fatal("a given-back token was lost")
		}
		clock.add(time.Millisecond)
		giveBack()
	}
	if !l.Allow("c") || !l.Allow("c") || l.Allow("c") {
		t.Fatal("giving back overfilled or drained the bucket")
	}
}
