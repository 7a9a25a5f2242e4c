package calls

import (
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/membership"
)

// TestSeatLimitsGrant: the bounds hold, held seats keep theirs when an
// older-looking call turns up, the longest wanted get free places first,
// and a refusal is reported once.
func TestSeatLimitsGrant(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	seat := func(room, call string, d membership.Dialect) membership.SeatKey {
		return membership.SeatKey{Call: membership.CallKey{Room: id.RoomID(room), Application: "m.call", CallID: call, Scope: "m.room"}, Dialect: d}
	}
	want := map[membership.SeatKey]membership.Member{}
	for _, call := range []string{"", "a", "b", "c", "d"} {
		want[seat("!one:x", call, membership.DialectFamedly)] = membership.Member{}
		want[seat("!two:x", call, membership.DialectFamedly)] = membership.Member{}
	}
	l := newSeatLimits(3, 5)
	none := func(membership.SeatKey) bool { return false }
	granted, fresh := l.grant(want, none, now)
	if len(granted) != 5 || len(fresh) != 5 {
		t.Fatalf("granted %d, refused %d; want 5 and 5", len(granted), len(fresh))
	}
	for _, k := range []membership.SeatKey{seat("!one:x", "", membership.DialectFamedly), seat("!one:x", "b", membership.DialectFamedly), seat("!two:x", "a", membership.DialectFamedly)} {
		if _, ok := granted[k]; !ok {
			t.Errorf("%+v not granted: the order is room, then call", k)
		}
	}
	if r := fresh[seat("!one:x", "c", membership.DialectFamedly)]; !strings.Contains(r, "calls.max_seats_per_room (3)") {
		t.Errorf("room refusal reason %q", r)
	}
	if r := fresh[seat("!two:x", "b", membership.DialectFamedly)]; !strings.Contains(r, "calls.max_seats (5)") {
		t.Errorf("total refusal reason %q", r)
	}

	// The same wants again: the same answer, no new refusal to log.
	held := func(k membership.SeatKey) bool { _, ok := granted[k]; return ok }
	again, fresh := l.grant(want, held, now.Add(time.Second))
	if len(fresh) != 0 || len(again) != 5 {
		t.Errorf("second pass: %d granted, %d new refusals", len(again), len(fresh))
	}
	// A newcomer that sorts first and claims to be older does not take a
	// held seat.
	early := seat("!one:x", "0", membership.DialectMatrixRTC)
	want[early] = membership.Member{CreatedAt: now.Add(-time.Hour)}
	third, fresh := l.grant(want, held, now.Add(2*time.Second))
	if _, ok := third[early]; ok || len(fresh) != 1 {
		t.Errorf("newcomer granted %v, new refusals %v", ok, fresh)
	}
	// A call that ends frees its place for the longest waiting one.
	delete(want, seat("!one:x", "", membership.DialectFamedly))
	delete(want, early)
	fourth, _ := l.grant(want, held, now.Add(3*time.Second))
	if _, ok := fourth[seat("!one:x", "c", membership.DialectFamedly)]; !ok {
		t.Errorf("the freed place went elsewhere: %v", fourth)
	}

	// One MatrixRTC state key carries one membership.
	l = newSeatLimits(4, 10)
	rtc := map[membership.SeatKey]membership.Member{seat("!one:x", "", membership.DialectMatrixRTC): {}, {Call: membership.CallKey{Room: "!one:x", Application: "m.call", Scope: "m.user"}, Dialect: membership.DialectMatrixRTC}: {}}
	if g, f := l.grant(rtc, none, now); len(g) != 1 || len(f) != 1 {
		t.Errorf("two calls on one MatrixRTC state key: %d granted, %d refused", len(g), len(f))
	}
}
