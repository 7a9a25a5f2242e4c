package calls

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/internal/logbuf"
	"github.com/switchboard-rtc/switchboard/membership"
)

func decisionFor(s *Supervisor, room, call, dialect string) Decision {
	for _, d := range s.Decisions() {
		if d.Room == room && d.CallID == call && d.Dialect == dialect {
			return d
		}
	}
	return Decision{}
}

// TestSupervisorJoinsOnlyCarriableCalls: we hold a seat only in calls an
// engine can carry: a LiveKit call is joined and carried, a mesh call is
// not joined, with the reason in the admin view.
func TestSupervisorJoinsOnlyCarriableCalls(t *testing.T) {
	lk := newFakeEngine("livekit", "livekit")
	s, st, seats, clock := testSupervisor(Config{}, lk)
	st.set(famedly(roomA, "@alice:x", "", "a", clock.now), famedly(roomB, "@bob:x", "", "mesh", clock.now))
	s.decide(st)
	held := seats.current()
	if len(held) != 1 {
		t.Fatalf("held %+v, want the LiveKit call only", held)
	}
	for k, spec := range held {
		if k.Call.Room != roomA || len(spec.Foci) != 1 || spec.Foci[0].LiveKitAlias != "a" {
			t.Fatalf("held %+v: %+v", k, spec)
		}
	}
	if got := lk.told(); !slices.Equal(got, []string{"carry " + string(roomA) + " a"}) {
		t.Errorf("engine told %v", got)
	}
	d := decisionFor(s, string(roomB), "", "famedly")
	if d.State != StateUncarried || !strings.Contains(d.Reason, `no engine carries a "mesh" focus`) {
		t.Errorf("mesh call decision %+v", d)
	}
	if d := decisionFor(s, string(roomA), "", "famedly"); d.State != StateJoined || d.Engine != "livekit" || d.Reason == "" {
		t.Errorf("LiveKit call decision %+v", d)
	}
}

// TestSupervisorFocusChangeInPlace: when the call's oldest member moves to
// another focus, the same seat is told the new foci (the writer rewrites
// it in place) and the engine carries the call on the new focus, without
// a release in between.
func TestSupervisorFocusChangeInPlace(t *testing.T) {
	lk := newFakeEngine("livekit", "livekit")
	s, st, seats, clock := testSupervisor(Config{}, lk)
	alice := famedly(roomA, "@alice:x", "", "first", clock.now)
	st.set(alice)
	s.decide(st)
	before := seats.current()
	alice.ActiveFoci[0].LiveKitAlias = "second"
	alice.ActiveFoci = []membership.Focus{alice.ActiveFoci[0]}
	st.set(alice)
	s.decide(st)
	after := seats.current()
	if len(before) != 1 || len(after) != 1 {
		t.Fatalf("held %v then %v", before, after)
	}
	for k, spec := range after {
		if _, same := before[k]; !same || spec.Foci[0].LiveKitAlias != "second" {
			t.Fatalf("after the change: %+v %+v (before %+v)", k, spec, before)
		}
	}
	if got := lk.told(); !slices.Equal(got, []string{"carry " + string(roomA) + " first", "carry " + string(roomA) + " second"}) {
		t.Errorf("engine told %v, want two carries and no release", got)
	}
	// The same again changes nothing.
	s.decide(st)
	if got := lk.told(); len(got) != 2 {
		t.Errorf("engine told %v", got)
	}
}

// TestSupervisorEngineHealth: an unhealthy engine takes no new call (the
// reason shows), but keeps the calls it carries; when it is healthy again
// the waiting call is joined.
func TestSupervisorEngineHealth(t *testing.T) {
	lk := newFakeEngine("livekit", "livekit")
	s, st, seats, clock := testSupervisor(Config{}, lk)
	st.set(famedly(roomA, "@alice:x", "", "a", clock.now))
	s.decide(st)
	lk.setHealth(false, "LiveKit unreachable")
	st.set(famedly(roomA, "@alice:x", "", "a", clock.now), famedly(roomB, "@bob:x", "", "b", clock.now))
	s.decide(st)
	if held := seats.current(); len(held) != 1 {
		t.Fatalf("held %+v, want the carried call only", held)
	}
	if d := decisionFor(s, string(roomB), "", "famedly"); d.State != StateUncarried || !strings.Contains(d.Reason, "LiveKit unreachable") {
		t.Errorf("new call while unhealthy: %+v", d)
	}
	lk.setHealth(true, "")
	s.decide(st)
	if held := seats.current(); len(held) != 2 {
		t.Fatalf("held %+v after recovery", held)
	}
	if got := lk.told(); slices.ContainsFunc(got, func(op string) bool { return strings.HasPrefix(op, "release") }) {
		t.Errorf("engine told %v: a carried call was released", got)
	}
}

// TestSupervisorBoundsSeats: a member advertising many calls gets us into
// at most the bound per room and in all; the rest are refused once each
// in the log and listed with their reason in the admin view.
func TestSupervisorBoundsSeats(t *testing.T) {
	var logs logbuf.Buffer
	lk := newFakeEngine("livekit", "livekit")
	s, st, seats, clock := testSupervisor(Config{MaxSeatsPerRoom: 3, MaxSeats: 5}, lk)
	s.logger = slog.New(slog.NewTextHandler(&logs, nil))
	var ms []membership.Member
	for _, room := range []string{string(roomA), string(roomB)} {
		for _, c := range []string{"", "a", "b", "c", "d", "e"} {
			ms = append(ms, famedly(id.RoomID(room), "@mallory:x", c, "x", clock.now))
		}
	}
	st.set(ms...)
	s.decide(st)
	if held := seats.current(); len(held) != 5 {
		t.Fatalf("held %d seats, want 5", len(held))
	}
	joined, refused := 0, 0
	for _, seat := range s.Seats() {
		switch {
		case seat.State == "joined":
			joined++
		case seat.State == StateRefused && seat.Reason != "":
			refused++
		}
	}
	if joined != 5 || refused != 7 {
		t.Errorf("admin view: %d joined, %d refused; want 5 and 7", joined, refused)
	}
	clock.now = clock.now.Add(time.Minute)
	s.decide(st)
	if n := logs.Count("refusing a seat"); n != 7 {
		t.Errorf("%d refusals logged, want 7 (once per call)", n)
	}
}

// TestSupervisorRun: Run waits for ready, decides from the snapshot, reads
// the members again after a Resync, and on its end tells the writer to
// hold nothing and the engines to release their calls; no goroutine is
// left.
func TestSupervisorRun(t *testing.T) {
	leakcheck.Check(t)
	lk := newFakeEngine("livekit", "livekit")
	now := time.Now()
	members := &fakeMembers{changes: make(chan membership.Change)}
	members.set(famedly(roomA, "@alice:x", "", "a", now))
	seats := newFakeSeats()
	ready := make(chan struct{})
	s := New(nil, Config{Policy: JoinPolicy{Default: JoinAll}}, members, seats, inAll{}, selfIs(botUser), ready, lk)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	close(ready)
	seats.waitHeld(t, func(h map[membership.SeatKey]membership.SeatSpec) bool { return len(h) == 1 })

	// The tracker dropped what we missed: the members are read again.
	members.set(famedly(roomB, "@bob:x", "", "b", now))
	members.changes <- membership.Change{Kind: membership.Resync}
	seats.waitHeld(t, func(h map[membership.SeatKey]membership.SeatSpec) bool {
		for k := range h {
			return len(h) == 1 && k.Call.Room == roomB
		}
		return false
	})
	// A change one at a time: bob leaves.
	members.changes <- membership.Change{Kind: membership.Left, Member: famedly(roomB, "@bob:x", "", "b", now)}
	seats.waitHeld(t, func(h map[membership.SeatKey]membership.SeatSpec) bool { return len(h) == 0 })

	members.changes <- membership.Change{Kind: membership.Joined, Member: famedly(roomA, "@carol:x", "", "c", now)}
	seats.waitHeld(t, func(h map[membership.SeatKey]membership.SeatSpec) bool { return len(h) == 1 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if held := seats.current(); len(held) != 0 {
		t.Errorf("after Run: the writer still holds %+v", held)
	}
	if got := lk.told(); got[len(got)-1] != "release "+string(roomA) {
		t.Errorf("engine told %v, want a final release", got)
	}
	_ = s.Close() // idempotent
}

// TestSupervisorCarriesAfterMembership: an engine takes a call only once
// our membership there is written; until then the supervisor decides again
// soon.
func TestSupervisorCarriesAfterMembership(t *testing.T) {
	lk := newFakeEngine("livekit", "livekit")
	s, st, seats, clock := testSupervisor(Config{}, lk)
	seats.unwritten = true
	st.set(famedly(roomA, "@alice:x", "", "a", clock.now))
	if waiting := s.decide(st); !waiting || len(lk.told()) != 0 || len(seats.current()) != 1 {
		t.Fatalf("before our membership is written: waiting %v, engine told %v, seats %v", waiting, lk.told(), seats.current())
	}
	seats.mu.Lock()
	seats.unwritten = false
	seats.mu.Unlock()
	if waiting := s.decide(st); waiting || !slices.Equal(lk.told(), []string{"carry " + string(roomA) + " a"}) {
		t.Fatalf("after: waiting %v, engine told %v", waiting, lk.told())
	}
}
