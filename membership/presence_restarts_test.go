package membership

import (
	"errors"
	"testing"
	"time"
)

// The admin view shows when the delayed leave was last restarted and how
// many restarts failed.
func TestPresenceSeatShowsRestarts(t *testing.T) {
	p, w, clock := toldPresence(t)
	p.Hold(map[SeatKey]SeatSpec{{Call: CallKey{Room: presRoom, Application: "m.call", Scope: "m.room"}, Dialect: DialectFamedly}: {
		Foci: []Focus{{Type: "livekit", LiveKitServiceURL: "https://lk.example.org", LiveKitAlias: string(presRoom)}}}})
	runPresence(t, p)
	expectOp(t, w, clock, 50*time.Millisecond, "schedule")
	expectOp(t, w, clock, 0, "put")
	waitSeats(t, p, func(st []SeatStatus) bool {
		return len(st) == 1 && st[0].State == "joined" && st[0].LastRestart.IsZero() && st[0].RestartFailures == 0
	})
	expectOp(t, w, clock, time.Second, "restart d1")
	restarted := clock.Now().UTC()
	waitSeats(t, p, func(st []SeatStatus) bool { return len(st) == 1 && !st[0].LastRestart.IsZero() })
	if st := p.Seats()[0]; st.LastRestart.After(restarted) || st.RestartFailures != 0 {
		t.Fatalf("after a restart: %+v", st)
	}
	w.mu.Lock()
	w.restartErr = errors.New("homeserver down")
	w.mu.Unlock()
	expectOp(t, w, clock, time.Second, "restart d1")
	waitSeats(t, p, func(st []SeatStatus) bool { return len(st) == 1 && st[0].RestartFailures == 1 })
}
