package calls

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/media"
	"github.com/switchboard-rtc/switchboard/membership"
)

// The fakes below stand in for the tracker, the seat writer and an engine
// in unit tests of the supervisor's decisions; the real parts meet in
// cmd/coordinator's integration tests.

const (
	botUser = id.UserID("@bot:example.org")
	roomA   = id.RoomID("!a:example.org")
	roomB   = id.RoomID("!b:example.org")
)

type fakeMembers struct {
	mu      sync.Mutex
	members []membership.Member
	changes chan membership.Change
}

func (f *fakeMembers) Subscribe(ctx context.Context) (<-chan membership.Change, error) {
	return f.changes, nil
}
func (f *fakeMembers) Snapshot(context.Context) ([]membership.Member, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]membership.Member(nil), f.members...), nil
}

func (f *fakeMembers) set(ms ...membership.Member) {
	f.mu.Lock()
	f.members = ms
	f.mu.Unlock()
}

// fakeSeats records what the seat writer is told.
type fakeSeats struct {
	mu    sync.Mutex
	held  map[membership.SeatKey]membership.SeatSpec
	holds int
	told  chan struct{} // 1-buffered
	// unwritten: the writer has not written our memberships yet.
	unwritten bool
}

func newFakeSeats() *fakeSeats { return &fakeSeats{told: make(chan struct{}, 1)} }

func (f *fakeSeats) Hold(seats map[membership.SeatKey]membership.SeatSpec) {
	f.mu.Lock()
	f.held = seats
	f.holds++
	f.mu.Unlock()
	select {
	case f.told <- struct{}{}:
	default:
	}
}

func (f *fakeSeats) Seats() []membership.SeatStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []membership.SeatStatus
	for k := range f.held {
		st := membership.NewSeatStatus(k)
		st.State = "joined"
		if f.unwritten {
			st.State = "starting"
		}
		out = append(out, st)
	}
	return out
}

func (f *fakeSeats) current() map[membership.SeatKey]membership.SeatSpec {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.held
}

// waitHeld waits until the seat writer is told something ok accepts.
func (f *fakeSeats) waitHeld(t *testing.T, ok func(map[membership.SeatKey]membership.SeatSpec) bool) {
	t.Helper()
	guard := time.After(30 * time.Second) // a hang guard, not a timing
	for {
		if ok(f.current()) {
			return
		}
		select {
		case <-f.told:
		case <-guard:
			t.Fatalf("seat writer holds %+v", f.current())
		}
	}
}

// fakeEngine carries calls of one focus type and logs what it is told.
type fakeEngine struct {
	name, focusType string
	mu              sync.Mutex
	healthy         bool
	why             string
	calls           map[membership.CallKey]membership.Focus
	log             []string
	// features: what SetFeatures and StartFeature were told, as
	// "set ROOM CALL name,name" and "start ROOM CALL name".
	features []string
	startErr error
}

func newFakeEngine(name, focusType string) *fakeEngine {
	return &fakeEngine{name: name, focusType: focusType, healthy: true, calls: map[membership.CallKey]membership.Focus{}}
}

func (e *fakeEngine) Name() string                        { return e.name }
func (e *fakeEngine) CanCarry(f membership.Focus) bool    { return f.Type == e.focusType }
func (e *fakeEngine) CallState(membership.CallKey) string { return "carried" }
func (e *fakeEngine) Health() (bool, string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.healthy, e.why
}

func (e *fakeEngine) Carry(call membership.CallKey, f membership.Focus) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls[call] = f
	e.log = append(e.log, "carry "+string(call.Room)+" "+f.LiveKitAlias)
}

func (e *fakeEngine) Release(call membership.CallKey) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.calls, call)
	e.log = append(e.log, "release "+string(call.Room))
}

func (e *fakeEngine) SetFeatures(call membership.CallKey, fs []media.Factory) {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.Name()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.features = append(e.features, "set "+string(call.Room)+" "+call.CallID+" "+strings.Join(names, ","))
}

func (e *fakeEngine) StartFeature(call membership.CallKey, f media.Factory) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.startErr != nil {
		return e.startErr
	}
	e.features = append(e.features, "start "+string(call.Room)+" "+call.CallID+" "+f.Name())
	return nil
}

// featuresTold returns what SetFeatures and StartFeature were told, and
// forgets it.
func (e *fakeEngine) featuresTold() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.features
	e.features = nil
	return out
}

// fakeFactory is a named feature that is never started (the fake engine
// only records names).
type fakeFactory struct{ name, call string }

func (f fakeFactory) Name() string { return f.name }
func (f fakeFactory) Start(media.Call, *slog.Logger) (media.Feature, error) {
	return nil, errors.New("fake feature")
}

func (e *fakeEngine) setHealth(ok bool, why string) {
	e.mu.Lock()
	e.healthy, e.why = ok, why
	e.mu.Unlock()
}

func (e *fakeEngine) told() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.log...)
}

type inAll struct{}

func (inAll) InRoom(id.RoomID) bool  { return true }
func (inAll) Invited(id.RoomID) bool { return true }

type selfIs id.UserID

func (s selfIs) Self() (id.UserID, id.DeviceID) { return id.UserID(s), "BOTDEV" }

// stepClock is a clock tests set by hand; its timers are real (only Run
// uses them).
type stepClock struct{ now time.Time }

func (c *stepClock) Now() time.Time { return c.now }
func (c *stepClock) NewTimer(d time.Duration) membership.Timer {
	return membership.SystemClock{}.NewTimer(d)
}

// famedly is a live Famedly member of call in room, on a LiveKit focus
// with the given alias (or a mesh focus for alias "mesh").
func famedly(room id.RoomID, user, call, alias string, created time.Time) membership.Member {
	f := membership.Focus{Type: "livekit", LiveKitServiceURL: "https://lk.example.org", LiveKitAlias: alias}
	if alias == "mesh" {
		f = membership.Focus{Type: "mesh"}
	}
	return membership.Member{Dialect: membership.DialectFamedly, Call: membership.CallKey{Room: room, Application: "m.call", CallID: call, Scope: "m.room"},
		UserID: id.UserID(user), DeviceID: "D", StateKey: user, MembershipID: "m", ActiveFoci: []membership.Focus{f},
		CreatedAt: created, ExpiresAt: created.Add(time.Hour)}
}

// testSupervisor builds a supervisor over fakes (policy: all) and a
// state to decide with, without Run.
func testSupervisor(cfg Config, engines ...Engine) (*Supervisor, *state, *fakeSeats, *stepClock) {
	clock := &stepClock{now: time.Unix(1_750_000_000, 0)}
	cfg.Policy, cfg.Clock = JoinPolicy{Default: JoinAll}, clock
	seats := newFakeSeats()
	s := New(nil, cfg, &fakeMembers{}, seats, inAll{}, selfIs(botUser), nil, engines...)
	return s, newState(botUser, s.cfg), seats, clock
}

// live replaces the members st decides from.
func (st *state) set(ms ...membership.Member) {
	clear(st.live)
	for _, m := range ms {
		st.live[idOf(m)] = m
	}
}
