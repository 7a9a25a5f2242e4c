package membership

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/logbuf"
)

// TestSeatLimitsGrant: the bounds hold, held seats keep theirs when an
// older-looking call turns up, the longest wanted get free places first,
// and a refusal is reported once.
func TestSeatLimitsGrant(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	seat := func(room, call string, d Dialect) seatKey {
		return seatKey{Call: CallKey{Room: id.RoomID(room), Application: "m.call", CallID: call, Scope: "m.room"}, Dialect: d}
	}
	want := map[seatKey]Member{}
	for _, call := range []string{"", "a", "b", "c", "d"} {
		want[seat("!one:x", call, DialectFamedly)] = Member{}
		want[seat("!two:x", call, DialectFamedly)] = Member{}
	}
	l := newSeatLimits(3, 5)
	none := func(seatKey) bool { return false }
	granted, fresh := l.grant(want, none, now)
	if len(granted) != 5 || len(fresh) != 5 {
		t.Fatalf("granted %d, refused %d; want 5 and 5", len(granted), len(fresh))
	}
	for _, k := range []seatKey{seat("!one:x", "", DialectFamedly), seat("!one:x", "b", DialectFamedly), seat("!two:x", "a", DialectFamedly)} {
		if _, ok := granted[k]; !ok {
			t.Errorf("%+v not granted: the order is room, then call", k)
		}
	}
	if r := fresh[seat("!one:x", "c", DialectFamedly)]; !strings.Contains(r, "calls.max_seats_per_room (3)") {
		t.Errorf("room refusal reason %q", r)
	}
	if r := fresh[seat("!two:x", "b", DialectFamedly)]; !strings.Contains(r, "calls.max_seats (5)") {
		t.Errorf("total refusal reason %q", r)
	}

	// The same wants again: the same answer, no new refusal to log.
	held := func(k seatKey) bool { _, ok := granted[k]; return ok }
	again, fresh := l.grant(want, held, now.Add(time.Second))
	if len(fresh) != 0 || len(again) != 5 {
		t.Errorf("second pass: %d granted, %d new refusals", len(again), len(fresh))
	}
	// A newcomer that sorts first and claims to be older does not take a
	// held seat.
	early := seat("!one:x", "0", DialectMatrixRTC)
	want[early] = Member{CreatedAt: now.Add(-time.Hour)}
	third, fresh := l.grant(want, held, now.Add(2*time.Second))
	if _, ok := third[early]; ok || len(fresh) != 1 {
		t.Errorf("newcomer granted %v, new refusals %v", ok, fresh)
	}
	// A call that ends frees its place for the longest waiting one.
	delete(want, seat("!one:x", "", DialectFamedly))
	delete(want, early)
	fourth, _ := l.grant(want, held, now.Add(3*time.Second))
	if _, ok := fourth[seat("!one:x", "c", DialectFamedly)]; !ok {
		t.Errorf("the freed place went elsewhere: %v", fourth)
	}

	// One MatrixRTC state key carries one membership.
	l = newSeatLimits(4, 10)
	rtc := map[seatKey]Member{seat("!one:x", "", DialectMatrixRTC): {}, {Call: CallKey{Room: "!one:x", Application: "m.call", Scope: "m.user"}, Dialect: DialectMatrixRTC}: {}}
	if g, f := l.grant(rtc, none, now); len(g) != 1 || len(f) != 1 {
		t.Errorf("two calls on one MatrixRTC state key: %d granted, %d refused", len(g), len(f))
	}
}

// TestPresenceBoundsSeats: a member advertising many calls gets us into at
// most the bound per room and in all; the rest are refused once each in
// the log and listed with their reason in the admin view.
func TestPresenceBoundsSeats(t *testing.T) {
	var logs logbuf.Buffer
	p, w, tr, clock := echoingPresence(t, slog.New(slog.NewTextHandler(&logs, nil)), PresenceConfig{MaxSeatsPerRoom: 3, MaxSeats: 5}, nil)
	exp := clock.Now().Add(time.Hour)
	calls := []string{"", "a", "b", "c", "d", "e"}
	advertise := func(room id.RoomID) {
		ms := make([]Member, 0, len(calls))
		for _, c := range calls {
			m := famedlyMember("@mallory:example.org", "M", c, exp)
			m.Call.Room = room
			ms = append(ms, m)
		}
		if err := tr.Ingest(t.Context(), Source{Room: room, EventType: FamedlyEventType, StateKey: "@mallory:example.org"}, ms); err != nil {
			t.Fatal(err)
		}
	}
	advertise("!one:example.org")
	advertise("!two:example.org")
	stop := runPresence(t, p)

	// Both rooms' events are written with their granted calls.
	byRoom := map[string]int{}
	putsUntil(t, w, clock, "both rooms' events", func(op string) bool {
		content := strings.SplitN(op, " ", 4)[3]
		w.mu.Lock()
		for _, room := range []string{"!one:example.org", "!two:example.org"} {
			if string(w.state[room+"|"+FamedlyEventType+"|"+string(botUser)]) == content {
				byRoom[room] = len(famedlyCalls(content))
			}
		}
		w.mu.Unlock()
		return byRoom["!one:example.org"] == 3 && byRoom["!two:example.org"] == 2
	})
	waitSeats(t, p, func(st []SeatStatus) bool {
		joined, refused := 0, 0
		for _, s := range st {
			switch {
			case s.State == "joined":
				joined++
			case s.State == "refused" && s.Reason != "":
				refused++
			}
		}
		return joined == 5 && refused == 7
	})
	// More changes in the rooms: the refusals are not logged again.
	exp = exp.Add(time.Minute)
	advertise("!one:example.org")
	if err := tr.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	waitSeats(t, p, func(st []SeatStatus) bool { return len(st) == 12 })
	stop()
	if n := logs.Count("refusing a seat"); n != 7 {
		t.Errorf("%d refusals logged, want 7 (once per call)", n)
	}
}
