package membership

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
)

const (
	presRoom = id.RoomID("!call:example.org")
	botUser  = id.UserID("@bot:example.org")
	botDev   = id.DeviceID("BOTDEV")
)

// fakeWriter records what our presence asks of the homeserver. It is a
// fake for a unit test of the seat's logic; the real homeserver is in the
// integration tests.
type fakeWriter struct {
	mu         sync.Mutex
	state      map[string]json.RawMessage
	ops        chan string
	restartErr error // returned once by the next restart
	delay      bool
	nextID     int
	stale      []ScheduledLeave
	// echo, if set, sees every state write, as the room's sync would.
	echo func(room id.RoomID, typ, key string, content json.RawMessage)
}

func newFakeWriter() *fakeWriter {
	return &fakeWriter{state: map[string]json.RawMessage{}, ops: make(chan string, 1000), delay: true}
}

func (w *fakeWriter) op(format string, args ...any) { w.ops <- fmt.Sprintf(format, args...) }

func (w *fakeWriter) PutState(_ context.Context, room id.RoomID, typ, key string, content json.RawMessage) error {
	w.mu.Lock()
	w.state[string(room)+"|"+typ+"|"+key] = content
	w.mu.Unlock()
	w.op("put %s %s %s", typ, key, content)
	if w.echo != nil {
		w.echo(room, typ, key, content)
	}
	return nil
}

func (w *fakeWriter) GetState(_ context.Context, room id.RoomID, typ, key string) (json.RawMessage, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state[string(room)+"|"+typ+"|"+key], nil
}

func (w *fakeWriter) ScheduleState(_ context.Context, room id.RoomID, typ, key string, content json.RawMessage, d time.Duration) (string, error) {
	w.mu.Lock()
	w.nextID++
	n := w.nextID
	w.mu.Unlock()
	w.op("schedule %s %s %s %v", typ, key, content, d)
	return fmt.Sprintf("d%d", n), nil
}

func (w *fakeWriter) UpdateDelayed(_ context.Context, delayID string, action DelayAction) error {
	// Take the injected error before reporting the operation, so a test that
	// injects one after seeing an operation affects only the next one.
	var err error
	w.mu.Lock()
	if action == DelayRestart {
		err, w.restartErr = w.restartErr, nil
	}
	w.mu.Unlock()
	w.op("%s %s", action, delayID)
	return err
}

func (w *fakeWriter) ListScheduled(context.Context) ([]ScheduledLeave, error) { return w.stale, nil }
func (w *fakeWriter) DelaySupported(context.Context) (bool, error)            { return w.delay, nil }
func (w *fakeWriter) RoomVersion(context.Context, id.RoomID) (string, error)  { return "10", nil }
func (w *fakeWriter) Self() (id.UserID, id.DeviceID)                          { return botUser, botDev }

type allRooms struct{}

func (allRooms) InRoom(id.RoomID) bool { return true }

// expectOp advances the fake clock in steps until the writer reports an
// operation starting with prefix, failing on any other operation first.
func expectOp(t *testing.T, w *fakeWriter, clock *fakeClock, step time.Duration, prefix string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a hang guard, not a timing
	for time.Now().Before(deadline) {
		select {
		case op := <-w.ops:
			if !strings.HasPrefix(op, prefix) {
				t.Fatalf("got %q, want %q...", op, prefix)
			}
			return op
		case <-time.After(10 * time.Millisecond):
			clock.Advance(step)
		}
	}
	t.Fatalf("no %q operation", prefix)
	return ""
}

func TestPresenceSeatLifecycle(t *testing.T) {
	p, w, clock := toldPresence(t)
	w.stale = []ScheduledLeave{{DelayID: "old", Room: presRoom, EventType: FamedlyEventType, StateKey: string(botUser)}}
	p.Hold(map[SeatKey]SeatSpec{{Call: CallKey{Room: presRoom, Application: "m.call", Scope: "m.room"}, Dialect: DialectFamedly}: {
		Foci: []Focus{{Type: "livekit", LiveKitServiceURL: "https://lk.example.org", LiveKitAlias: string(presRoom)}}}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	// A delayed leave of an earlier run is cancelled first.
	expectOp(t, w, clock, 0, "cancel old")
	// The leave is scheduled before the join, in the SDK's legacy key form.
	expectOp(t, w, clock, 50*time.Millisecond, `schedule com.famedly.call.member @bot:example.org {"memberships":[]} 18s`)
	join := expectOp(t, w, clock, 0, "put com.famedly.call.member @bot:example.org")
	for _, want := range []string{`"device_id":"BOTDEV"`, `"livekit_service_url":"https://lk.example.org"`, `"membershipID":"` + p.sessionID} {
		if !strings.Contains(join, want) {
			t.Errorf("join %s lacks %s", join, want)
		}
	}
	// The board is updated right after the write returns.
	waitSeats(t, p, func(st []SeatStatus) bool { return len(st) == 1 && st[0].State == "joined" && st[0].DelayedLeave })
	// The delayed leave is restarted every 4 s.
	expectOp(t, w, clock, time.Second, "restart d1")
	expectOp(t, w, clock, time.Second, "restart d1")
	// A restart answered "gone" schedules a new leave and writes the join again.
	w.mu.Lock()
	w.restartErr = ErrDelayGone
	w.mu.Unlock()
	expectOp(t, w, clock, time.Second, "restart d1")
	expectOp(t, w, clock, 0, "schedule")
	expectOp(t, w, clock, 0, "put")
	// Shutdown: the leave is written, then the delayed one cancelled.
	cancel()
	expectOp(t, w, clock, 0, `put com.famedly.call.member @bot:example.org {"memberships":[]}`)
	expectOp(t, w, clock, 0, "cancel d2")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// toldPresence is a seat writer on a fake homeserver that holds only what
// the test tells it (no supervisor), not running yet; the test fails on a
// goroutine left behind.
func toldPresence(t *testing.T) (*Presence, *fakeWriter, *fakeClock) {
	leakcheck.Check(t)
	tr, clock, _ := startTracker(t)
	w := newFakeWriter()
	ready := make(chan struct{})
	close(ready)
	return NewPresence(nil, PresenceConfig{}, w, tr, allRooms{}, ready, clock), w, clock
}

// runPresence runs p until stop, which waits for Run to return and fails
// the test on its error; the test's cleanup stops it too.
func runPresence(t *testing.T, p *Presence) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitSeats waits until the admin view of our seats satisfies ok.
func waitSeats(t *testing.T, p *Presence, ok func([]SeatStatus) bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		st := p.Seats()
		if ok(st) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("seats: %+v", st)
		}
	}
}

// TestPresenceLeavesWhenToldTo: a seat the writer is no longer told to
// hold leaves (MatrixRTC: by firing its prepared delayed leave).
func TestPresenceLeavesWhenToldTo(t *testing.T) {
	p, w, clock := toldPresence(t)
	p.Hold(map[SeatKey]SeatSpec{{Call: CallKey{Room: presRoom, Application: "m.call", Scope: "m.room"}, Dialect: DialectMatrixRTC}: {
		Foci: []Focus{{Type: "livekit", LiveKitServiceURL: "https://lk.example.org"}}}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	expectOp(t, w, clock, 50*time.Millisecond, `schedule org.matrix.msc3401.call.member _@bot:example.org_BOTDEV_m.call {} 10s`)
	join := expectOp(t, w, clock, 0, "put org.matrix.msc3401.call.member _@bot:example.org_BOTDEV_m.call")
	for _, want := range []string{`"focus_selection":"oldest_membership"`, `"foci_preferred":[{"type":"livekit","livekit_service_url":"https://lk.example.org"}]`,
		`"membershipID":"@bot:example.org:BOTDEV"`, `"expires":14400000`} {
		if !strings.Contains(join, want) {
			t.Errorf("join %s lacks %s", join, want)
		}
	}
	p.Hold(nil)
	// MatrixRTC leaves by firing its prepared delayed leave.
	expectOp(t, w, clock, 50*time.Millisecond, "send d1")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestPresenceFociChangeInPlace: new foci for a held seat are one rewrite
// of the same state key: no leave, no new delayed leave.
func TestPresenceFociChangeInPlace(t *testing.T) {
	p, w, clock := toldPresence(t)
	k := SeatKey{Call: CallKey{Room: presRoom, Application: "m.call", Scope: "m.room"}, Dialect: DialectFamedly}
	focus := func(alias string) map[SeatKey]SeatSpec {
		return map[SeatKey]SeatSpec{k: {Foci: []Focus{{Type: "livekit", LiveKitServiceURL: "https://lk.example.org", LiveKitAlias: alias}}}}
	}
	p.Hold(focus("first"))
	runPresence(t, p)
	expectOp(t, w, clock, 50*time.Millisecond, "schedule")
	expectOp(t, w, clock, 0, "put")
	p.Hold(focus("first")) // unchanged: nothing to write
	p.Hold(focus("second"))
	put := expectOp(t, w, clock, 50*time.Millisecond, "put com.famedly.call.member @bot:example.org")
	if !strings.Contains(put, `"livekit_alias":"second"`) || strings.Contains(put, `"memberships":[]`) {
		t.Fatalf("the rewrite %s is not the join with the new focus", put)
	}
}

func TestShapeSlotForms(t *testing.T) {
	call := CallKey{Room: presRoom, Application: "m.call", Scope: "m.room"}
	for _, c := range []struct {
		d       Dialect
		version string
		form    StateKeyForm
		want    string
	}{
		{DialectFamedly, "10", FamedlyFormUnknown, "@bot:example.org"},
		{DialectFamedly, "org.matrix.msc3757.11", FamedlyFormUnknown, "@bot:example.org_BOTDEV"},
		{DialectFamedly, "10", FamedlyDeviceUser, "BOTDEV_@bot:example.org"},
		{DialectMatrixRTC, "10", FamedlyFormUnknown, "_@bot:example.org_BOTDEV_m.call"},
		{DialectMatrixRTC, "org.matrix.msc3757.11", FamedlyFormUnknown, "@bot:example.org_BOTDEV_m.call"},
	} {
		if got := shapeSlot(slotOf(SeatKey{Call: call, Dialect: c.d}), botUser, botDev, c.version, c.form).stateKey; got != c.want {
			t.Errorf("%s in %s (%s): %q, want %q", c.d, c.version, c.form, got, c.want)
		}
	}
}

// TestFamedlyLegacyKeepsOtherDevices: in the shared "{userId}" event, our
// writes keep the entries of the user's other devices byte for byte.
func TestFamedlyLegacyKeepsOtherDevices(t *testing.T) {
	w := newFakeWriter()
	other := `{"call_id":"","device_id":"OTHER","expires_ts":1,"weird":true}`
	w.state[string(presRoom)+"|"+FamedlyEventType+"|"+string(botUser)] = json.RawMessage(`{"memberships":[` + other + `,{"device_id":"BOTDEV"}]}`)
	p := &Presence{cfg: PresenceConfig{UserID: botUser, DeviceID: botDev}.withDefaults(), writer: w}
	shape := shapeSlot(slotKey{Room: presRoom, Dialect: DialectFamedly}, botUser, botDev, "10", FamedlyFormUnknown)
	got, err := p.leaveContent(t.Context(), shape)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"memberships":[`+other+`]}` {
		t.Fatalf("leave content %s", got)
	}
}
