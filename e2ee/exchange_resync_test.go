package e2ee

import (
	"slices"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/membership"
)

// TestExchangeResync: when the tracker says the exchange fell behind, the
// exchange re-reads the memberships: one gone since is treated as a leave
// (keys forgotten, rotation without it), the rest stay.
func TestExchangeResync(t *testing.T) {
	h := newHarness(t, ExchangeOptions{FamedlyEventTypes: []string{FamedlyKeysEventType}}, xAliceF, xBobF)
	h.change(membership.Joined, xSelfFamedly)
	h.expect(2)
	if err := h.store.Set(ParticipantOf(xBobF), 0, seq(32, 1), h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	// Bob left while the exchange was not reading; the tracker's queue
	// for it overflowed.
	h.tracker.initial = []membership.Member{xSelfFamedly, xAliceF}
	h.change(membership.Resync, membership.Member{})
	if _, _, ok := h.store.Current(ParticipantOf(xBobF)); ok {
		t.Error("bob's keys kept after a resync without him")
	}
	h.advance(5 * time.Second)
	s := h.expect(1)[0]
	if idx, _ := sentKey(t, s); idx != 1 || !slices.Equal(s.devices(), []string{"@alice:example.org/ALICE"}) {
		t.Fatalf("rotation after resync: index %d to %v", idx, s.devices())
	}
	h.quiet()
}
