package membership

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"
)

// echoToTracker makes the fake writer's Famedly writes reach the tracker as
// the bot's sync would deliver them.
func echoToTracker(t *testing.T, w *fakeWriter, tr *Tracker) {
	w.echo = func(room id.RoomID, typ, key string, content json.RawMessage) {
		if typ != FamedlyEventType {
			return
		}
		members, _ := ParseFamedly(room, botUser, key, content)
		if err := tr.Ingest(context.Background(), Source{Room: room, EventType: typ, StateKey: key}, members); err != nil {
			t.Errorf("echo: %v", err)
		}
	}
}

// echoingPresence is a presence under policy "all" over a fake writer whose
// Famedly writes reach the tracker as the bot's sync would deliver them;
// nil rooms: the bot is in every room.
func echoingPresence(t *testing.T, logger *slog.Logger, cfg PresenceConfig, rooms BotRooms) (*Presence, *fakeWriter, *Tracker, *fakeClock) {
	tr, clock, _ := startTracker(t)
	w := newFakeWriter()
	echoToTracker(t, w, tr)
	ready := make(chan struct{})
	close(ready)
	if rooms == nil {
		rooms = allRooms{}
	}
	p := NewPresence(logger, cfg, w, tr, rooms, ready, clock)
	followCalls(t, p, tr)
	return p, w, tr, clock
}

// followCalls plays the call supervisor in the seat writer's unit tests
// (the real one, in calls/, has its own): every call with a member other
// than us gets a seat in that member's dialect, announcing the oldest
// member's foci (Famedly's active ones, MatrixRTC's preferred ones).
func followCalls(t *testing.T, p *Presence, tr *Tracker) {
	ctx, cancel := context.WithCancel(context.Background())
	changes, err := tr.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	decide := func() bool {
		ms, err := tr.Snapshot(ctx)
		if err != nil {
			return false
		}
		oldest := map[SeatKey]Member{}
		for _, m := range ms {
			k := SeatKey{Call: m.Call, Dialect: m.Dialect}
			if cur, ok := oldest[k]; m.UserID != botUser && (!ok || m.CreatedAt.Before(cur.CreatedAt)) {
				oldest[k] = m
			}
		}
		want := map[SeatKey]SeatSpec{}
		for k, m := range oldest {
			foci := m.ActiveFoci
			if k.Dialect == DialectMatrixRTC {
				foci = m.Preferred
			}
			want[k] = SeatSpec{Foci: foci}
		}
		p.Hold(want)
		return true
	}
	go func() {
		defer close(done)
		if !decide() {
			return
		}
		for range changes {
			if !decide() {
				return
			}
		}
	}()
}

// famedlyMember is a live Famedly member of call in presRoom.
func famedlyMember(user, device, call string, expires time.Time) Member {
	return Member{Dialect: DialectFamedly, Call: CallKey{Room: presRoom, Application: "m.call", CallID: call, Scope: "m.room"},
		UserID: id.UserID(user), DeviceID: id.DeviceID(device), MembershipID: "m-" + device,
		ActiveFoci: []Focus{{Type: "livekit", LiveKitServiceURL: "https://lk.example.org", LiveKitAlias: string(presRoom)}},
		ExpiresAt:  expires}
}

// famedlyCalls reads the call ids of our device's entries in content.
func famedlyCalls(content string) []string {
	var c struct {
		Memberships []struct {
			CallID   string `json:"call_id"`
			DeviceID string `json:"device_id"`
		} `json:"memberships"`
	}
	_ = json.Unmarshal([]byte(content), &c)
	var out []string
	for _, m := range c.Memberships {
		if m.DeviceID == string(botDev) {
			out = append(out, m.CallID)
		}
	}
	return out
}

// putsUntil counts the writes up to the first one ok accepts, advancing the
// fake clock while nothing happens; it fails after a hang guard.
func putsUntil(t *testing.T, w *fakeWriter, clock *fakeClock, what string, ok func(op string) bool) int {
	t.Helper()
	puts := 0
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		select {
		case op := <-w.ops:
			if !strings.HasPrefix(op, "put ") {
				continue
			}
			puts++
			if ok(op) {
				return puts
			}
		case <-time.After(10 * time.Millisecond):
			clock.Advance(50 * time.Millisecond)
		}
	}
	t.Fatalf("no %s after %d writes", what, puts)
	return 0
}

// TestTwoFamedlyCallsOneWriter: alice is in two Famedly calls of one room;
// under the legacy "{userId}" state key both our entries go into the one
// event, in a few writes. (Two seats each writing the shared event used to
// drop each other's entry, see it leave, and rewrite, without end.)
func TestTwoFamedlyCallsOneWriter(t *testing.T) {
	p, w, tr, clock := echoingPresence(t, nil, PresenceConfig{}, nil)
	exp := clock.Now().Add(time.Hour)
	aliceIn := func(calls ...string) {
		t.Helper()
		ms := make([]Member, 0, len(calls))
		for _, c := range calls {
			ms = append(ms, famedlyMember("@alice:example.org", "A", c, exp))
		}
		if err := tr.Ingest(t.Context(), Source{Room: presRoom, EventType: FamedlyEventType, StateKey: "@alice:example.org"}, ms); err != nil {
			t.Fatal(err)
		}
	}
	ours := func(want ...string) func(string) bool {
		return func(op string) bool {
			if !strings.HasPrefix(op, "put "+FamedlyEventType+" "+string(botUser)+" ") {
				t.Fatalf("unexpected write %s", op)
			}
			return strings.Join(famedlyCalls(strings.SplitN(op, " ", 4)[3]), ",") == strings.Join(want, ",")
		}
	}
	aliceIn("", "second")
	stop := runPresence(t, p)

	if puts := putsUntil(t, w, clock, "our two entries sharing the event", ours("", "second")); puts > 2 {
		t.Errorf("%d writes before both entries shared the event, want at most 2", puts)
	}
	// Both seats show the one state key they share.
	waitSeats(t, p, func(st []SeatStatus) bool {
		return len(st) == 2 && st[0].State == "joined" && st[1].State == "joined" &&
			st[0].StateKey == string(botUser) && st[1].StateKey == string(botUser)
	})
	// A call starts: its entry joins the event, guarded by the same delayed
	// leave; a call ends: its entry goes, the others stay.
	aliceIn("", "second", "third")
	putsUntil(t, w, clock, "the third call's entry", ours("", "second", "third"))
	waitSeats(t, p, func(st []SeatStatus) bool {
		return len(st) == 3 && st[2].CallID == "third" && st[2].State == "joined" && st[2].DelayedLeave
	})
	aliceIn("second", "third")
	putsUntil(t, w, clock, "the first call's entry gone", ours("second", "third"))
	stop()
	w.mu.Lock()
	last := string(w.state[string(presRoom)+"|"+FamedlyEventType+"|"+string(botUser)])
	w.mu.Unlock()
	if calls := famedlyCalls(last); len(calls) != 0 {
		t.Errorf("after leaving our event still carries calls %q", calls)
	}
}
