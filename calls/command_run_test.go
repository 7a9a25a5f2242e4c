package calls

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/media"
	"github.com/switchboard-rtc/switchboard/membership"
)

// builds counts what a plan's Build was asked to make, per call and name.
type builds struct {
	n   map[string]int
	err map[string]error // by feature name
}

func (b *builds) build(call membership.CallKey, name string) (media.Factory, error) {
	if err := b.err[name]; err != nil {
		return nil, err
	}
	if b.n == nil {
		b.n = map[string]int{}
	}
	b.n[string(call.Room)+" "+call.CallID+" "+name]++
	return fakeFactory{name: name, call: call.CallID}, nil
}

func planOf(b *builds, def []string, rooms map[id.RoomID][]string) FeaturePlan {
	return FeaturePlan{Default: def, Rooms: rooms, Build: b.build}
}

// do runs cmd as Command and Run would.
func do(s *Supervisor, st *state, room id.RoomID, cmd Command) Result {
	var sound media.Factory
	if cmd.Verb == VerbPlay {
		var failed *Result
		if sound, failed = s.sound(room, cmd); failed != nil {
			return *failed
		}
	}
	res, _, _ := s.command(st, room, cmd, sound)
	return res
}

func wantTold(t *testing.T, e *fakeEngine, want ...string) {
	t.Helper()
	if got := e.featuresTold(); !slices.Equal(got, want) {
		t.Errorf("engine told %q, want %q", got, want)
	}
}

// TestSupervisorSetsFeaturesAfterCarry: each carried call is told its
// features (the room's list or the default) after Carry, again after a
// focus change, and not again while nothing changed; a factory is built
// once per call and name.
func TestSupervisorSetsFeaturesAfterCarry(t *testing.T) {
	var b builds
	lk := newFakeEngine("livekit", "livekit")
	s, st, _, clock := testSupervisor(Config{Features: planOf(&b, []string{"echo"}, map[id.RoomID][]string{roomB: {"echo", "record"}})}, lk)
	alice := famedly(roomA, "@alice:x", "", "a", clock.now)
	st.set(alice, famedly(roomB, "@bob:x", "", "b", clock.now))
	s.decide(st)
	got := lk.featuresTold()
	slices.Sort(got)
	if want := []string{"set " + string(roomA) + "  echo", "set " + string(roomB) + "  echo,record"}; !slices.Equal(got, want) {
		t.Fatalf("engine told %q, want %q", got, want)
	}
	s.decide(st)
	wantTold(t, lk)
	alice.ActiveFoci = []membership.Focus{{Type: "livekit", LiveKitServiceURL: "https://lk.example.org", LiveKitAlias: "moved"}}
	st.set(alice, famedly(roomB, "@bob:x", "", "b", clock.now))
	s.decide(st)
	wantTold(t, lk, "set "+string(roomA)+"  echo")
	for k, n := range b.n {
		if n != 1 {
			t.Errorf("%s built %d times", k, n)
		}
	}
	if d := decisionFor(s, string(roomB), "", "famedly"); !slices.Equal(d.Features, []string{"echo", "record"}) {
		t.Errorf("admin view features %v", d.Features)
	}
}

// TestSupervisorEchoCommand: echo on and off change the set the engine is
// told, for the room's calls only, and show in the admin view.
func TestSupervisorEchoCommand(t *testing.T) {
	var b builds
	lk := newFakeEngine("livekit", "livekit")
	s, st, _, clock := testSupervisor(Config{Features: planOf(&b, nil, nil)}, lk)
	st.set(famedly(roomA, "@alice:x", "", "a", clock.now), famedly(roomB, "@bob:x", "", "b", clock.now))
	s.decide(st)
	lk.featuresTold()
	if r := do(s, st, roomA, Command{Verb: VerbEcho, On: true}); r.Outcome != OutcomeDone {
		t.Fatalf("echo on: %+v", r)
	}
	wantTold(t, lk, "set "+string(roomA)+"  echo")
	if o := s.Overrides(); len(o) != 1 || o[0].Room != string(roomA) || o[0].Command != "!call echo on" {
		t.Errorf("overrides %+v", o)
	}
	do(s, st, roomA, Command{Verb: VerbEcho})
	wantTold(t, lk, "set "+string(roomA)+"  ")

	// A room whose config has echo: off removes it.
	s2, st2, _, _ := testSupervisor(Config{Features: planOf(&b, []string{"echo", "record"}, nil)}, lk)
	st2.set(famedly(roomA, "@alice:x", "", "a", clock.now))
	s2.decide(st2)
	lk.featuresTold()
	do(s2, st2, roomA, Command{Verb: VerbEcho})
	wantTold(t, lk, "set "+string(roomA)+"  record")

	// Without a plan there is nothing to switch.
	s3, st3, _, _ := testSupervisor(Config{}, lk)
	if r := do(s3, st3, roomA, Command{Verb: VerbEcho, On: true}); r.Outcome != OutcomeFailed || r.Reason != reasonNoFeatures {
		t.Errorf("echo without features: %+v", r)
	}
}

// TestSupervisorJoinLeaveCommands: leave beats a policy that joins, join
// beats one that does not (still within the seat bounds), and each stays
// until the other.
func TestSupervisorJoinLeaveCommands(t *testing.T) {
	lk := newFakeEngine("livekit", "livekit")
	s, st, seats, clock := testSupervisor(Config{MaxSeatsPerRoom: 1}, lk)
	st.set(famedly(roomA, "@alice:x", "", "a", clock.now), famedly(roomA, "@alice:x", "other", "a", clock.now))
	s.decide(st)
	if len(seats.current()) != 1 {
		t.Fatalf("held %v", seats.current())
	}
	if r := do(s, st, roomA, Command{Verb: VerbLeave}); r.Outcome != OutcomeDone {
		t.Fatalf("leave: %+v", r)
	}
	if held := seats.current(); len(held) != 0 {
		t.Fatalf("after leave the writer holds %v", held)
	}
	if got := lk.told(); got[len(got)-1] != "release "+string(roomA) {
		t.Errorf("engine told %v", got)
	}
	s.decide(st)
	if len(seats.current()) != 0 {
		t.Fatal("a later decision joined again after leave")
	}
	do(s, st, roomA, Command{Verb: VerbJoin})
	if held := seats.current(); len(held) != 1 {
		t.Fatalf("after join the writer holds %v, want one seat (the room's bound)", held)
	}

	// Policy never: join takes part, in that room only.
	s.cfg.Policy = JoinPolicy{Default: JoinNever}
	st2 := newState(botUser, s.cfg)
	st2.set(famedly(roomA, "@alice:x", "", "a", clock.now), famedly(roomB, "@bob:x", "", "b", clock.now))
	s.decide(st2)
	if len(seats.current()) != 0 {
		t.Fatalf("policy never holds %v", seats.current())
	}
	do(s, st2, roomB, Command{Verb: VerbJoin})
	held := seats.current()
	if len(held) != 1 {
		t.Fatalf("held %v", held)
	}
	for k := range held {
		if k.Call.Room != roomB {
			t.Errorf("joined %v", k)
		}
	}
	if d := decisionFor(s, string(roomB), "", "famedly"); !strings.Contains(d.Reason, "!call join") {
		t.Errorf("decision reason %q", d.Reason)
	}
}

// TestSupervisorRecordCommand: record start adds record to each of the
// room's calls, with its own recorder, and stop removes it; it fails
// outside a call and when recording cannot be built; the command is for
// those calls only.
func TestSupervisorRecordCommand(t *testing.T) {
	var b builds
	lk := newFakeEngine("livekit", "livekit")
	s, st, _, clock := testSupervisor(Config{Features: planOf(&b, nil, nil)}, lk)
	if r := do(s, st, roomA, Command{Verb: VerbRecord, On: true}); r.Outcome != OutcomeFailed || r.Reason != reasonNoCall {
		t.Errorf("record outside a call: %+v", r)
	}
	calls := []membership.Member{famedly(roomA, "@alice:x", "", "a", clock.now), famedly(roomA, "@alice:x", "x", "a", clock.now),
		famedly(roomB, "@bob:x", "", "b", clock.now)}
	st.set(calls...)
	s.decide(st)
	lk.featuresTold()
	if r := do(s, st, roomA, Command{Verb: VerbRecord, On: true}); r.Outcome != OutcomeDone {
		t.Fatalf("record start: %+v", r)
	}
	got := lk.featuresTold()
	slices.Sort(got)
	if want := []string{"set " + string(roomA) + "  record", "set " + string(roomA) + " x record"}; !slices.Equal(got, want) {
		t.Errorf("engine told %q, want %q", got, want)
	}
	if b.n[string(roomA)+"  record"] != 1 || b.n[string(roomA)+" x record"] != 1 {
		t.Errorf("recorders built %v, want one per call", b.n)
	}
	st2 := s.status(st, roomA)
	if len(st2.Calls) != 2 || !st2.Calls[0].Recording || !st2.Calls[1].Recording {
		t.Errorf("status %+v", st2)
	}
	do(s, st, roomA, Command{Verb: VerbRecord})
	if got := lk.featuresTold(); len(got) != 2 || strings.Contains(strings.Join(got, ";"), "record") {
		t.Errorf("after stop: engine told %q", got)
	}

	// Started again, then the call ends: a new call there is not recorded.
	do(s, st, roomA, Command{Verb: VerbRecord, On: true})
	lk.featuresTold()
	st.set(calls[2])
	s.decide(st)
	st.set(calls...)
	s.decide(st)
	if got := lk.featuresTold(); slices.ContainsFunc(got, func(op string) bool { return strings.HasSuffix(op, "record") && strings.Contains(op, string(roomA)) }) {
		t.Errorf("a later call was recorded: %q", got)
	}

	// Recording that cannot be set up is a failure, with the reason.
	b.err = map[string]error{"record": errors.New("no folder")}
	if r := do(s, st, roomA, Command{Verb: VerbRecord, On: true}); r.Outcome != OutcomeFailed || !strings.Contains(r.Reason, "no folder") {
		t.Errorf("record without a folder: %+v", r)
	}
	if st2 := s.status(st, roomA); st2.Calls[0].Recording {
		t.Errorf("status says recording: %+v", st2)
	}
}

// TestSupervisorPlayCommand: play starts the sound in each carried call of
// the room; without sounds, a call, or with the engine refusing, it fails.
func TestSupervisorPlayCommand(t *testing.T) {
	lk := newFakeEngine("livekit", "livekit")
	var asked []string
	sound := func(room id.RoomID, name string) (media.Factory, error) {
		asked = append(asked, string(room)+" "+name)
		if name == "missing" {
			return nil, errors.New("no sound named missing")
		}
		return fakeFactory{name: "announce"}, nil
	}
	s, st, _, clock := testSupervisor(Config{}, lk)
	if r := do(s, st, roomA, Command{Verb: VerbPlay, Name: "hi"}); r.Outcome != OutcomeFailed || r.Reason != reasonNoPlay {
		t.Errorf("play unconfigured: %+v", r)
	}
	s.cfg.Sound = sound
	if r := do(s, st, roomA, Command{Verb: VerbPlay, Name: "hi"}); r.Outcome != OutcomeFailed || r.Reason != reasonNoCall {
		t.Errorf("play outside a call: %+v", r)
	}
	st.set(famedly(roomA, "@alice:x", "", "a", clock.now), famedly(roomA, "@alice:x", "x", "a", clock.now),
		famedly(roomB, "@bob:x", "", "b", clock.now))
	s.decide(st)
	if r := do(s, st, roomA, Command{Verb: VerbPlay, Name: "hi"}); r.Outcome != OutcomeDone {
		t.Fatalf("play: %+v", r)
	}
	got := lk.featuresTold()
	slices.Sort(got)
	if want := []string{"start " + string(roomA) + "  announce", "start " + string(roomA) + " x announce"}; !slices.Equal(got, want) {
		t.Errorf("engine told %q, want %q", got, want)
	}
	if r := do(s, st, roomA, Command{Verb: VerbPlay, Name: "missing"}); r.Outcome != OutcomeFailed || r.Reason != "no sound named missing" {
		t.Errorf("play missing: %+v", r)
	}
	// An upload the caller made ready is played as it is, Config.Sound not asked.
	n := len(asked)
	if r := do(s, st, roomA, Command{Verb: VerbPlay, Sound: fakeFactory{name: "upload"}}); r.Outcome != OutcomeDone || len(asked) != n {
		t.Errorf("play an upload: %+v, Config.Sound asked %q", r, asked[n:])
	}
	if got := lk.featuresTold(); len(got) != 2 || !strings.HasSuffix(got[0], " upload") {
		t.Errorf("upload: engine told %q", got)
	}
	lk.mu.Lock()
	lk.startErr = ErrNotCarried
	lk.mu.Unlock()
	if r := do(s, st, roomA, Command{Verb: VerbPlay, Name: "hi"}); r.Outcome != OutcomeFailed || !strings.Contains(r.Reason, "not carried") {
		t.Errorf("engine refused: %+v", r)
	}
}

// TestSupervisorStatusCommand: status lists the room's calls with engine,
// state, echo and recording; a room without a call has none.
func TestSupervisorStatusCommand(t *testing.T) {
	var b builds
	lk := newFakeEngine("livekit", "livekit")
	s, st, _, clock := testSupervisor(Config{Features: planOf(&b, []string{"echo"}, nil)}, lk)
	if r := do(s, st, roomA, Command{Verb: VerbStatus}); r.Outcome != OutcomeDone || len(r.Status.Calls) != 0 {
		t.Errorf("status without calls: %+v", r)
	}
	st.set(famedly(roomA, "@alice:x", "", "a", clock.now), famedly(roomB, "@bob:x", "", "b", clock.now))
	s.decide(st)
	r := do(s, st, roomA, Command{Verb: VerbStatus})
	want := []CallStatus{{Engine: "livekit", State: "carried", Echo: true}}
	if !slices.Equal(r.Status.Calls, want) {
		t.Errorf("status %+v, want %+v", r.Status.Calls, want)
	}
	if n := (Command{Verb: VerbStatus}).Reply(r); !strings.Contains(n.Body, "the room's call (livekit, carried): echo on, recording off") {
		t.Errorf("status notice %q", n.Body)
	}
}

// TestSupervisorCommandRun: Command hands the command to Run and returns
// its outcome; before Run is ready it waits only as long as its context,
// and after Run it fails at once.
func TestSupervisorCommandRun(t *testing.T) {
	leakcheck.Check(t)
	var b builds
	lk := newFakeEngine("livekit", "livekit")
	members := &fakeMembers{changes: make(chan membership.Change)}
	seats := newFakeSeats()
	ready := make(chan struct{})
	s := New(nil, Config{Policy: JoinPolicy{Default: JoinAll}, Features: planOf(&b, nil, nil)}, members, seats, inAll{},
		selfIs(botUser), ready, lk)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	ended, stop := context.WithCancel(context.Background())
	stop()
	if r := s.Command(ended, roomA, Command{Verb: VerbStatus}); r.Outcome != OutcomeFailed || r.Reason != reasonNotAnswering {
		t.Errorf("before ready: %+v", r)
	}
	close(ready)
	if r := s.Command(ctx, roomA, Command{Verb: VerbEcho, On: true}); r.Outcome != OutcomeDone {
		t.Errorf("echo on: %+v", r)
	}
	if o := s.Overrides(); len(o) != 1 || o[0].Command != "!call echo on" {
		t.Errorf("overrides %+v", o)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r := s.Command(ctx, roomA, Command{Verb: VerbStatus}); r.Outcome != OutcomeFailed || r.Reason != reasonStopped {
		t.Errorf("after Run: %+v", r)
	}
}
