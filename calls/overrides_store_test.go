package calls

import (
	"context"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/membership"
)

// runWithStore runs a supervisor over store (policy all, a call in roomA
// and one in roomB) until the returned stop is called.
func runWithStore(t *testing.T, store OverrideStore) (*Supervisor, *fakeSeats, func()) {
	t.Helper()
	var b builds
	now := time.Now()
	members := &fakeMembers{changes: make(chan membership.Change)}
	members.set(famedly(roomA, "@alice:x", "", "a", now), famedly(roomB, "@bob:x", "", "b", now))
	seats := newFakeSeats()
	ready := make(chan struct{})
	close(ready)
	s := New(nil, Config{Policy: JoinPolicy{Default: JoinAll}, Features: planOf(&b, nil, nil), Store: store},
		members, seats, inAll{}, selfIs(botUser), ready, newFakeEngine("livekit", "livekit"))
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	return s, seats, func() {
		t.Helper()
		s.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// TestOverridesSurviveRestart: the room commands' overrides are kept in
// the data dir's database and in force again after a restart; a call's
// record command too while the call goes on.
func TestOverridesSurviveRestart(t *testing.T) {
	leakcheck.Check(t)
	ctx := t.Context()
	dir := t.TempDir()
	store, err := OpenOverrides(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	s, _, stop := runWithStore(t, store)
	for _, c := range []struct {
		cmd  Command
		room string
	}{{Command{Verb: VerbLeave}, string(roomA)}, {Command{Verb: VerbEcho, On: true}, string(roomB)},
		{Command{Verb: VerbRecord, On: true}, string(roomB)}} {
		if r := s.Command(ctx, id.RoomID(c.room), c.cmd); r.Outcome != OutcomeDone {
			t.Fatalf("%s: %+v", c.cmd, r)
		}
	}
	before := s.Overrides()
	stop()
	store.Close()

	store, err = OpenOverrides(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	s, seats, stop := runWithStore(t, store)
	defer stop()
	seats.waitHeld(t, func(held map[membership.SeatKey]membership.SeatSpec) bool {
		for k := range held {
			if k.Call.Room == roomA {
				return false
			}
		}
		return len(held) == 1
	})
	s.Command(ctx, roomA, Command{Verb: VerbStatus}) // Run has finished its first decision
	if after := s.Overrides(); len(before) != 3 || !slices.Equal(after, before) {
		t.Errorf("overrides after the restart %+v, before %+v", after, before)
	}
}

// TestUnreadableOverridesKept: a store holding what we do not understand
// is neither used nor overwritten.
func TestUnreadableOverridesKept(t *testing.T) {
	leakcheck.Check(t)
	ctx := t.Context()
	store, err := OpenOverrides(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	bad := []Override{{Room: string(roomA), Command: "!call leave"}, {Room: string(roomB), Command: "!call dance"}}
	if err := store.SaveOverrides(ctx, bad); err != nil {
		t.Fatal(err)
	}
	s, _, stop := runWithStore(t, store)
	if r := s.Command(ctx, roomB, Command{Verb: VerbEcho, On: true}); r.Outcome != OutcomeDone {
		t.Fatalf("echo on: %+v", r)
	}
	if o := s.Overrides(); len(o) != 1 || o[0].Command != "!call echo on" {
		t.Errorf("in force %+v: the unreadable store's leave must not apply", o)
	}
	stop()
	got, err := store.LoadOverrides(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Command != "!call leave" || got[1].Command != "!call dance" {
		t.Errorf("store now %+v, want it untouched", got)
	}
}
